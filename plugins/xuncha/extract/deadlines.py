"""Delivery deadlines: has a county's export for a night arrived, and what happens when it has not.

A county's export for business night D is due by its registry `deadline` (local time, default 06:00) on
D+1. The county's DAG (xuncha_county_<code>) waits for it (deferred, costing no worker slot) until then; a miss is recorded in
audit.deadline_misses and alerted, and the county's earlier waiting nights are still loaded. When the
late export finally loads, the miss is marked `arrived_at`.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from xuncha.monitor import alerts
from xuncha.warehouse import db
from xuncha.extract import inbox
from xuncha.registry import County, Registry
from xuncha.settings import Settings, get_settings


def applies(day: dt.date, settings: Settings | None = None) -> bool:
    """Deadlines and missed-export alerts apply from the go-live night on (settings.go_live); earlier nights
    are history, loaded by `xuncha backfill`, and never late."""
    from xuncha.settings import go_live

    return day >= go_live(settings)


def deadline_at(county: County, day: dt.date) -> dt.datetime:
    """When the county's export for night `day` is due: its registry `deadline` (local time) on day + 1."""
    return dt.datetime.combine(day + dt.timedelta(days=1), county.deadline, ZoneInfo(county.timezone))


def arrived(county: County, day: dt.date, url: str, registry: Registry, settings: Settings | None = None) -> bool:
    """Has the county's export for night `day` arrived? A question only: nothing is fetched, moved or written.

    True if one is waiting in the county's inbox (each manifest read once per process), one was already
    handled (audit.batches, for the county's lineage), or its remote source holds one (a listing:
    xuncha.extract.connectors.nights_at_source)."""
    from xuncha.extract import connectors

    settings = settings or get_settings()
    if day.isoformat() in inbox.nights_waiting(county, settings):
        return True
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT 1 FROM audit.batches WHERE county_code = ANY(%s) AND business_date = %s
                        AND status IN ('loaded', 'duplicate', 'quarantined') LIMIT 1""",
                    (list(registry.lineage(county.code)), day))
        if cur.fetchone() is not None:
            return True
    return day.isoformat() in connectors.nights_at_source(county, url)


def record_miss(url: str, county: County, day: dt.date) -> bool:
    """Record and alert a missed deadline (once per county and night, from go-live on); True if it was new."""
    if not applies(day):
        return False
    due = deadline_at(county, day)
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO audit.deadline_misses (county_code, business_date, deadline_at) VALUES (%s, %s, %s)
                       ON CONFLICT DO NOTHING RETURNING 1""", (county.code, day, due))
        new = cur.fetchone() is not None
    if new:
        alerts.raise_alert(url, "deadline_missed", county.code,
                           f"{county.label}: no export for the night of {day} by {due.isoformat()} (迟报/漏报)",
                           business_date=day, detail={"deadline_at": due.isoformat()})
    return new


def mark_arrived(url: str, county_codes: list[str], days: list[dt.date]) -> None:
    """Close the open deadline misses of these counties and nights (their exports have now loaded)."""
    if not days:
        return
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""UPDATE audit.deadline_misses SET arrived_at = now()
                        WHERE county_code = ANY(%s) AND business_date = ANY(%s) AND arrived_at IS NULL""",
                    (county_codes, days))
