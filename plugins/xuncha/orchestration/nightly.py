"""What the nightly DAG's tasks do besides a county's night (xuncha.load.county_night): plan it, name it, report it.

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


def run_night(context) -> dt.date:
    """The night a run covers: `conf.night` (YYYY-MM-DD, as a push intake's run gives it) or the logical date's."""
    night = ((context.get("params") or {}).get("night") or (getattr(context.get("dag_run"), "conf", None) or {}).get("night"))
    if night:
        return dt.date.fromisoformat(str(night))
    return business_date(context["logical_date"])


def start_date(timezone: str = "Asia/Shanghai"):
    """The nightly DAG's start_date: the midnight after the go-live night (settings.go_live), so the first scheduled
    run (03:00) covers the go-live night and unpausing never catches up on history (that is `xuncha backfill`)."""
    import pendulum

    from xuncha.settings import go_live

    day = go_live()
    return pendulum.datetime(day.year, day.month, day.day, tz=timezone).add(days=1)


def plan(registry: Registry, day: dt.date, only: list[str] | None = None) -> list[dict]:
    """The county systems that export for night `day`, as [{"code", "label"}] (from the registry, not the database);
    `only`: restrict to these codes (the run's `counties` param).

    Longest first: ordered by the exports waiting for each county's night (xuncha.load.county_night.backlog: its inbox
    and its inactive predecessors'), most first, then in registry order. The pool `xuncha_ingest` takes a run's
    mapped loads in map-index order, so in a catch-up the longest chain (a successor taking its predecessors'
    years) starts first instead of running alone at the end (docs/performance.md, P3t)."""
    from xuncha.load import county_night

    counties = [c for c in registry.active(day) if c.exports_on(day) and (not only or c.code in only)]
    waiting = {c.code: county_night.backlog(registry, c.code, day) for c in counties}
    return [{"code": c.code, "label": c.label} for c in sorted(counties, key=lambda c: -waiting[c.code])]


def county_context(county: dict):
    """The running task's context, labelled with `county` ({"code", "label"}; for map_index_template), and its night."""
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    ctx["county_label"] = county["label"]
    return ctx, run_night(ctx)


def ingest_county(county: dict, url: str, outlets: dict) -> dict:
    """The nightly `ingest` task: county `county`'s night through xuncha.load.county_night.run (which fetches first: remote
    landing, HTTP pull); an event on each changed core Asset (`outlets`: entity -> Asset) carries the night's extra.
    A quarantined export opens (or updates) its county's quarantine incident and is notified at once
    (xuncha.orchestration.health.quarantined), not at the next hourly health run.
    Returns `county` with its `summary` (XCom). Raises what county_night.run raises (infrastructure errors: retried)."""
    from xuncha import registry
    from xuncha.load import county_night
    from xuncha.orchestration import health

    ctx, day = county_context(county)
    reg = registry.load()
    night = county_night.run(reg, county["code"], day, url=url,
                             on_quarantine=lambda code: health.quarantined(url, reg, code))
    for entity in night.changed_entities:
        ctx["outlet_events"][outlets[entity]].extra = night.asset_extra()
    return county | {"summary": night.to_xcom()}


def verdict(county: dict, summary: dict) -> str | None:
    """Why a county's night must show red, or None when it is green: a quarantined or failed export (first problem
    named) or a missed deadline (迟报/漏报). `county` is the sensor's result (code, label, status)."""
    reasons = []
    for e in summary.get("exports", []):
        first = (e.get("problems") or ["see the report"])[0]
        if e["status"] == "quarantined":
            reasons.append(f"export {e['export_id']} (night {e['business_date']}) quarantined: {first}")
        elif e["status"] == "failed":
            reasons.append(f"export {e['export_id']} (night {e['business_date']}) failed through a fault of ours, "
                           f"not the county's (it stays in its inbox and is taken again by the next run): {first}")
    if county.get("status") == "missed":
        reasons.append(f"no export for the night of {summary['business_date']} by the deadline (迟报/漏报)")
    return f"{county['label']}: " + "; ".join(reasons) if reasons else None


def night_summary(day: dt.date, codes: list[str], url: str | None = None) -> dict:
    """Per county, for night `day` (from the warehouse, so counties whose chain failed are in it too): its exports
    loaded, re-delivered, quarantined (ids), and whether the night is missing (past its deadline, nothing sent)."""
    from xuncha.warehouse import db

    from xuncha import registry as registry_mod

    reg = registry_mod.load()
    out = {}
    with db.connect(url) as conn, conn.cursor() as cur:
        for code in codes:
            lineage = list(reg.lineage(code))
            cur.execute("""SELECT status, export_id FROM audit.batches WHERE county_code = ANY(%s) AND business_date = %s
                            ORDER BY batch_id""", (lineage, day))
            rows = cur.fetchall()
            cur.execute("SELECT 1 FROM audit.deadline_misses WHERE county_code = %s AND business_date = %s AND arrived_at IS NULL",
                        (code, day))
            missing = cur.fetchone() is not None
            out[code] = {"county": reg.get(code).label, "loaded": sum(s == "loaded" for s, _ in rows),
                         "duplicates": sum(s == "duplicate" for s, _ in rows),
                         "quarantined": [e for s, e in rows if s == "quarantined"], "missing": missing}
    for code, s in out.items():
        log.info("%s: %d loaded, %d re-deliveries, %d quarantined %s%s", s["county"], s["loaded"], s["duplicates"],
                 len(s["quarantined"]), s["quarantined"] or "", ", MISSING (迟报/漏报)" if s["missing"] else "")
    return {"business_date": day.isoformat(), "counties": out,
            "loaded": sum(s["loaded"] for s in out.values()),
            "quarantined": {c: s["quarantined"] for c, s in out.items() if s["quarantined"]},
            "missing": sorted(c for c, s in out.items() if s["missing"])}


NIGHT_ENDED = {"counties": [], "night_ended": True}  # the extra of the `night` Asset's event (summary task)


def changed_counties(extras: list[dict], pending: list[str] = ()) -> list[str] | None:
    """The counties a marts refresh covers: those named by the extras of the asset events that triggered it, and,
    when one of them is the night's end (the `night` Asset's event, extra `night_ended`), `pending` too
    (xuncha.metrics.marts.pending_counties: loaded but not yet in the marts, whichever event was late or lost). Not
    mid-night: a county still loading is loaded in part, and would be refreshed again when its load ends (in a
    catch-up, years of nights each time). None (= all) when run by hand (no events)."""
    if not extras:
        return None
    counties = {c for e in extras for c in (e or {}).get("counties", [])}
    if any((e or {}).get("night_ended") for e in extras):
        counties |= set(pending)
    return sorted(counties)


def trigger_push_run(county_code: str, night: dt.date, export_id: str) -> str | None:
    """Trigger county `county_code`'s run of xuncha_nightly for `night` (inside an Airflow component: the push
    intake, xuncha.intake.server); returns the run id."""
    import secrets

    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    run = trigger_dag("xuncha_nightly", triggered_by=DagRunTriggeredByType.REST_API,
                      run_id=f"push__{county_code}__{export_id}__{secrets.token_hex(3)}",
                      conf={"counties": [county_code], "night": night.isoformat()},
                      note=f"push of {export_id} by {county_code} (推送)")
    return run.run_id if run else None
