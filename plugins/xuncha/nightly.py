"""What the nightly DAG's tasks do, without Airflow: plan the night, ingest one county, say what changed.

The DAG file wires these together; tests call them directly.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from xuncha import pipeline, registry as registry_mod

log = logging.getLogger(__name__)


def business_date(logical_date: dt.datetime, timezone: str = "Asia/Shanghai") -> dt.date:
    """The night a run covers: the local calendar day before the run's (early-morning) logical date."""
    return logical_date.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


def plan(day: dt.date, only: list[str] | None = None) -> list[dict]:
    """The county systems that export for night `day` (from the registry, not the database)."""
    reg = registry_mod.default()
    counties = [c for c in reg.active(day) if not only or c.code in only]
    return [{"code": c.code, "label": c.label} for c in counties]


def ingest_county(code: str, day: dt.date, url: str | None = None) -> dict:
    """Ingest every export of county `code` waiting for nights up to `day`, oldest night first."""
    reg = registry_mod.default()
    county = reg.get(code)
    ingestor = pipeline.Ingestor(reg, url=url)
    results = [ingestor.ingest(d, county) for d in pipeline.pending_exports(county, up_to=day)]
    changed = sorted({e for r in results for e in r.entities})
    summary = {
        "county_code": code,
        "county": county.label,
        "business_date": day.isoformat(),
        "exports": [r.summary() for r in results],
        "loaded": sum(r.status == "loaded" for r in results),
        "duplicates": sum(r.status == "duplicate" for r in results),
        "quarantined": [r.export_id for r in results if r.status == "quarantined"],
        "changed_entities": changed,
    }
    for r in results:
        if r.status == "quarantined":
            log.error("%s: export %s quarantined (%s), report %s", county.label, r.export_id, r.problems[0],
                      r.moved_to / "_report.md" if r.moved_to else "-")
    return summary


def night_report(summaries: list[dict]) -> dict:
    """The night in one dict (the task's XCom) and one log line per county."""
    for s in summaries:
        log.info("%s: %d loaded, %d re-deliveries, %d quarantined %s", s["county"], s["loaded"], s["duplicates"],
                 len(s["quarantined"]), s["quarantined"] or "")
    return {
        "counties": len(summaries),
        "loaded": sum(s["loaded"] for s in summaries),
        "duplicates": sum(s["duplicates"] for s in summaries),
        "quarantined": {s["county_code"]: s["quarantined"] for s in summaries if s["quarantined"]},
    }


def changed_counties(extras: list[dict]) -> list[str] | None:
    """Counties named by the asset events that triggered a refresh; None (= all) when run by hand."""
    if not extras:
        return None
    return sorted({c for e in extras for c in (e or {}).get("counties", [])})
