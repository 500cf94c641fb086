"""What the nightly DAG's tasks do besides a county's night (xuncha.county_night): plan it, name it, report it.

The DAG file wires these together; tests call them directly.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from xuncha.registry import Registry

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


def plan(registry: Registry, day: dt.date, only: list[str] | None = None) -> list[dict]:
    """The county systems that export for night `day`, as [{"code", "label"}] (from the registry, not the database);
    `only`: restrict to these codes (the run's `counties` param)."""
    counties = [c for c in registry.active(day) if c.exports_on(day) and (not only or c.code in only)]
    return [{"code": c.code, "label": c.label} for c in counties]


def night_report(summaries: list[dict]) -> dict:
    """The night in one dict (the task's XCom) and one log line per county; `summaries` are CountyNight.to_xcom()."""
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
