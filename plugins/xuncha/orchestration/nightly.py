"""What the county DAGs and the night DAG do besides a county's night (xuncha.load.county_night): name the night, run
it for a task, judge it (the county's verdict), and read the whole night's state from the warehouse.

The DAG files (dags/xuncha_county.py, dags/xuncha_night.py) wire these together; tests call them directly.
`county_verdict` is the one statement of a county's night verdict: the verdict task raises on it, the run note
shows it, and incidents (xuncha.monitor, issue 24) may hook onto it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from xuncha.registry import Registry

log = logging.getLogger(__name__)

QUARANTINE_PAGE = "/xuncha/quarantine"
"""The quarantine page of the Airflow UI plugin (xuncha.orchestration.ui, PREFIX + /quarantine); + /{batch_id}: one report."""
RED = ("quarantined", "failed", "missing")
"""Night states (`night_states`) that make the night red: `xuncha_night` fails when any county is in one."""


def business_date(logical_date: dt.datetime, timezone: str = "Asia/Shanghai") -> dt.date:
    """The night a run covers: the local calendar day before the run's (early-morning) logical date."""
    return logical_date.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


def run_night(context, timezone: str = "Asia/Shanghai") -> dt.date:
    """The night a run covers: the `night` Param (YYYY-MM-DD; also `conf.night`, as a push intake's run gives it),
    else the night before the logical date (or, for a run without one, its run_after) in `timezone`."""
    run = context.get("dag_run")
    night = (context.get("params") or {}).get("night") or (getattr(run, "conf", None) or {}).get("night")
    if night:
        return dt.date.fromisoformat(str(night))
    when = context.get("logical_date") or getattr(run, "logical_date", None) or getattr(run, "run_after", None)
    return business_date(when, timezone)


def start_date(timezone: str = "Asia/Shanghai"):
    """The county DAGs' start_date: the midnight after the go-live night (settings.go_live), so the first scheduled
    run covers the go-live night and unpausing never catches up on history (that is `xuncha backfill`)."""
    import pendulum

    from xuncha.settings import go_live

    day = go_live()
    return pendulum.datetime(day.year, day.month, day.day, tz=timezone).add(days=1)


def plan(registry: Registry, day: dt.date, only: list[str] | None = None) -> list[dict]:
    """The county systems that export for night `day`, as [{"code", "label"}] (from the registry, not the database);
    `only`: restrict to these codes. Longest backlog first (xuncha.load.county_night.backlog: the exports waiting in
    its inbox and its inactive predecessors'), then registry order: the order catch-ups and `xuncha backfill` start
    the county DAGs in, so the longest chain does not run alone at the end (docs/performance.md, P3t)."""
    from xuncha.load import county_night

    counties = [c for c in registry.active(day) if c.exports_on(day) and (not only or c.code in only)]
    waiting = {c.code: county_night.backlog(registry, c.code, day) for c in counties}
    return [{"code": c.code, "label": c.label} for c in sorted(counties, key=lambda c: -waiting[c.code])]


def record_miss(code: str, day: dt.date, url: str, logger=log) -> None:
    """Record and alert county `code`'s missed deadline for night `day` (xuncha.extract.deadlines.record_miss; once)."""
    from xuncha import registry
    from xuncha.extract import deadlines

    county = registry.load().get(code)
    deadlines.record_miss(url, county, day)
    logger.error("%s: no export for the night of %s by its deadline %s (迟报/漏报)", county.label, day,
                 deadlines.deadline_at(county, day).isoformat())


def ingest_county(county: dict, url: str, context, changes, core: dict) -> dict:
    """County `county` ({"code", "label"})'s night through xuncha.load.county_night.run (fetch first: remote landing,
    HTTP pull); one Asset event through the AssetAlias `changes` per core table the night changed (`core`: entity ->
    Asset; extra: the counties and night), none when nothing changed. A quarantined export opens (or updates) its
    county's quarantine incident and is notified at once (xuncha.orchestration.health.quarantined), not at the next
    hourly health run. Returns CountyNight.to_xcom(). Raises what county_night.run raises (infrastructure errors: the
    task is retried)."""
    from xuncha import registry
    from xuncha.load import county_night
    from xuncha.orchestration import health

    reg = registry.load()
    day = run_night(context, reg.get(county["code"]).timezone)
    night = county_night.run(reg, county["code"], day, url=url,
                             on_quarantine=lambda code: health.quarantined(url, reg, code))
    for entity in night.changed_entities:
        context["outlet_events"][changes].add(core[entity], extra=night.asset_extra())
    return night.to_xcom()


OPERATIONS_CONNECTIONS = "docs/operations.md §1 (step 1, counties that Xuncha pulls over HTTP)"
"""Where adding a pulled county's Airflow connection is written down."""


def missing_connection_text(conn_id: str) -> str:
    """What a county run says when its Airflow connection `conn_id` is not defined: the fault and the fix, in plain
    words (no retry can fix it: xuncha.orchestration.hooks.ConnectionMissing)."""
    return (f"pull failed — no Airflow connection `{conn_id}`; add it with `airflow connections add {conn_id} "
            f"--conn-type http --conn-host HOST --conn-port PORT --conn-schema https --conn-password TOKEN` "
            f"({OPERATIONS_CONNECTIONS}), then re-run this night")


def verdict(county: dict, summary: dict) -> str | None:
    """Why a county's night must show red, or None when it is green: its pull failed on a configuration fault
    (`county["error"]`, status `pull_failed`), a quarantined or failed export (first problem named) or a missed
    deadline (迟报/漏报). `county`: {"label", "status", "error"} (status and error from the ingest task)."""
    reasons = [county.get("error") or "pull failed"] if county.get("status") == "pull_failed" else []
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


@dataclass(frozen=True)
class CountyVerdict:
    """A county's night judged: `red` (the verdict task fails), `reason` (first line of its log and of the run note;
    None when green), `link` (the quarantine page, one report when one export was quarantined; None when none
    was), `nights` (the
    business dates the run took in, sorted), `loaded`/`quarantined` (export counts), `status` (the ingest task's:
    arrived, missed, history, not_due, inactive, pull_failed)."""

    county: str
    night: str
    red: bool
    reason: str | None
    link: str | None
    nights: tuple[str, ...]
    loaded: int
    quarantined: int
    status: str = ""


def county_verdict(label: str, result: dict) -> CountyVerdict:
    """The verdict on county `label`'s night from its ingest task's result ({"status", "summary"}, the XCom of
    xuncha.orchestration.sensors.CountyNightOperator). The one statement of it: the verdict task, the run note and
    incidents use this."""
    summary = result["summary"]
    exports = summary.get("exports", [])
    reason = verdict({"label": label, "status": result.get("status"), "error": result.get("error")}, summary)
    bad = [e for e in exports if e["status"] == "quarantined" and e.get("batch_id")]
    link = (f"{QUARANTINE_PAGE}/{bad[0]['batch_id']}" if len(bad) == 1 else QUARANTINE_PAGE) if bad else None
    nights = tuple(sorted({e["business_date"] for e in exports if e.get("business_date")}))
    return CountyVerdict(label, summary["business_date"], reason is not None, reason, link, nights,
                         sum(e["status"] == "loaded" for e in exports), sum(e["status"] == "quarantined" for e in exports),
                         str(result.get("status") or ""))


def night_states(day: dt.date, url: str | None = None, reg: Registry | None = None,
                 now: dt.datetime | None = None) -> dict[str, dict]:
    """Every county's state for night `day`, from the warehouse (whatever its DAG did, or did not: a paused county's
    night is judged too): code -> {"county": label, "state", "exports": [ids]}. States: `loaded` (loaded or a
    re-delivery), `late` (迟报: loaded after its deadline), `quarantined`, `failed` (a fault of ours), `missing`
    (漏报: nothing by the deadline), `waiting` (its deadline not passed yet), `history` (a night before go-live: not
    judged), `not_due` (the county's schedule has no export that night). Counties inactive that night are left out."""
    from xuncha import registry as registry_mod
    from xuncha.extract import deadlines
    from xuncha.warehouse import db

    reg = reg or registry_mod.load()
    now = now or dt.datetime.now(dt.timezone.utc)
    out = {}
    with db.connect(url) as conn, conn.cursor() as cur:
        for c in reg.active(day):
            cur.execute("""SELECT status, export_id FROM audit.batches WHERE county_code = ANY(%s) AND business_date = %s
                            ORDER BY batch_id""", (list(reg.lineage(c.code)), day))
            rows = cur.fetchall()
            cur.execute("SELECT arrived_at IS NOT NULL FROM audit.deadline_misses WHERE county_code = %s AND business_date = %s",
                        (c.code, day))
            miss = cur.fetchone()
            statuses = {s for s, _ in rows}
            if statuses & {"loaded", "duplicate"}:
                state = "late" if miss else "loaded"
            elif "quarantined" in statuses or "failed" in statuses:
                state = "quarantined" if "quarantined" in statuses else "failed"
            elif not deadlines.applies(day):
                state = "history"
            elif not c.exports_on(day):
                state = "not_due"
            else:
                state = "missing" if miss or now >= deadlines.deadline_at(c, day) else "waiting"
            out[c.code] = {"county": c.label, "state": state, "exports": [e for _, e in rows]}
    return out


STATE_WORDS = {"loaded": "loaded 已入库", "late": "late 迟报", "quarantined": "quarantined 隔离", "failed": "failed 失败",
               "missing": "missing 漏报", "waiting": "waiting 未到截止", "history": "not judged before go-live 上线前",
               "not_due": "no export due 无需报送"}


def night_text(day: dt.date, states: dict[str, dict]) -> str:
    """One line per state for night `day`: 'night D — missing 漏报 (2): 伊川县 410329, …', red states first."""
    order = sorted(STATE_WORDS, key=lambda s: (s not in RED, list(STATE_WORDS).index(s)))
    parts = []
    for s in order:
        names = [v["county"] for v in states.values() if v["state"] == s]
        if names:
            parts.append(f"{STATE_WORDS[s]} ({len(names)}): {', '.join(names)}")
    return f"night {day} — " + "; ".join(parts) if parts else f"night {day}: no county active"


def night_schedule(reg: Registry, timezone: str = "Asia/Shanghai", margin_minutes: int = 30) -> str:
    """Cron expression (in `timezone`) of `xuncha_night`: `margin_minutes` after the latest deadline of the registry's
    counties (each in its own time zone, converted), so every county's night is judged when it runs."""
    ref = dt.date(2020, 1, 15)   # a date without daylight-saving changes in China; other zones: close enough, documented
    latest = max(dt.datetime.combine(ref, c.deadline, ZoneInfo(c.timezone)).astimezone(ZoneInfo(timezone)).time()
                 for c in reg.counties)
    at = (dt.datetime.combine(ref, latest) + dt.timedelta(minutes=margin_minutes)).time()
    return f"{at.minute} {at.hour} * * *"


NIGHT_ENDED = {"counties": [], "night_ended": True}  # the extra of the `night` Asset's event (xuncha_night)


def changed_counties(extras: list[dict], pending: list[str] = ()) -> list[str] | None:
    """The counties a marts refresh covers: those named by the extras of the asset events that triggered it, and,
    when one of them is the night's end (the `night` Asset's event, extra `night_ended`), `pending` too
    (xuncha.metrics.marts.pending_counties: loaded but not yet in the marts, whichever event was late, lost or
    stranded: apache/airflow#54659, #56050). None (= all) when run by hand (no events)."""
    if not extras:
        return None
    counties = {c for e in extras for c in (e or {}).get("counties", [])}
    if any((e or {}).get("night_ended") for e in extras):
        counties |= set(pending)
    return sorted(counties)


def county_dag_id(code: str) -> str:
    """The DAG id of county system `code`: `xuncha_county_<code>`."""
    return f"xuncha_county_{code}"


def trigger_push_run(county_code: str, night: dt.date, export_id: str) -> str | None:
    """Trigger county `county_code`'s DAG for `night` (inside an Airflow component: the push intake,
    xuncha.intake.server); returns the run id."""
    import secrets

    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    run = trigger_dag(county_dag_id(county_code), triggered_by=DagRunTriggeredByType.REST_API,
                      run_id=f"push__{county_code}__{export_id}__{secrets.token_hex(3)}",
                      conf={"night": night.isoformat()}, note=f"push of {export_id} by {county_code} (推送)")
    return run.run_id if run else None
