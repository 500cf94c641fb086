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


def start_date(timezone: str = "Asia/Shanghai"):
    """The nightly DAG's start_date: the midnight after the go-live night (settings.go_live), so the first scheduled
    run (03:00) covers the go-live night and unpausing never catches up on history (that is `xuncha backfill`)."""
    import pendulum

    from xuncha.settings import go_live

    day = go_live()
    return pendulum.datetime(day.year, day.month, day.day, tz=timezone).add(days=1)


def plan(day: dt.date, only: list[str] | None = None) -> list[dict]:
    """The county systems that export for night `day` (from the registry, not the database)."""
    reg = registry_mod.default()
    counties = [c for c in reg.active(day) if c.exports_on(day) and (not only or c.code in only)]
    return [{"code": c.code, "label": c.label} for c in counties]


def ingest_county(code: str, day: dt.date, url: str | None = None) -> dict:
    """Fetch (remote landing, HTTP pull) and ingest every export waiting for county `code` up to night `day`.

    A county that continues other systems (2021: 偃师区 ← 偃师市, 孟津区 ← 孟津县 + 吉利区) first takes what is
    still waiting for those predecessors, so their rows are in core before its own exports refer to them,
    and their late exports are not stranded once they are no longer planned.
    """
    from xuncha import connectors, db, deadlines

    reg = registry_mod.default()
    url = url or db.warehouse_url()
    ingestor = pipeline.Ingestor(reg, url=url)
    lineage = reg.lineage(code)
    results = []
    for member in [c for c in reversed(lineage[1:]) if not reg.get(c).active_on(day)] + [code]:
        county = reg.get(member)
        handled = ingestor.ingest_many(_fetch(county, day, url), county)
        results += handled
        stamped = [r for r in handled if r.generated_at is not None]
        if county.pulled and stamped:
            # Every export up to here is handled (loaded, recognised, or quarantined with its report).
            last = max(stamped, key=lambda r: r.generated_at)
            connectors.advance_watermark(url, member, last.generated_at, last.export_id)
    deadlines.mark_arrived(url, list(lineage),
                           sorted({r.business_date for r in results if r.status == "loaded" and r.business_date}))
    county = reg.get(code)
    changed = sorted({e for r in results for e in r.entities})
    return {
        "county_code": code,
        "county": county.label,
        "business_date": day.isoformat(),
        "exports": [r.summary() for r in results],
        "loaded": sum(r.status == "loaded" for r in results),
        "duplicates": sum(r.status == "duplicate" for r in results),
        "quarantined": [r.export_id for r in results if r.status == "quarantined"],
        "changed_entities": changed,
        "counties": sorted({r.county_code for r in results if r.entities}),
    }


def _fetch(county, day: dt.date, url: str) -> list:
    """Bring the county's exports into its inbox; the folders waiting for nights up to `day`, oldest first."""
    from xuncha import connectors
    from xuncha.settings import get_settings

    connectors.fetch(county, county.landing_dir(get_settings().landing), url)
    return pipeline.pending_exports(county, up_to=day)


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
