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
from xuncha.settings import LOCAL_TIMEZONE

log = logging.getLogger(__name__)

QUARANTINE_PAGE = "/xuncha/quarantine"
"""The quarantine page of the Airflow UI plugin (xuncha.orchestration.ui, PREFIX + /quarantine); + /{batch_id}: one report."""
NIGHT_API = ("RED", "STATE_WORDS", "night_states", "night_text", "nights_text")
"""The night's judgement, defined once in xuncha.monitor.nights and read here as before (imported on first use: the
county DAG file imports this module and stays light)."""


def __getattr__(name: str):
    """xuncha.monitor.nights' NIGHT_API names as this module's."""
    if name in NIGHT_API:
        from xuncha.monitor import nights

        return getattr(nights, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_CATCH_UP_NIGHTS = 31
"""A scheduled `xuncha_night` run judges the nights since the previous run's, at most this many (`covered_nights`)."""


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


def future_night(day: dt.date, now: dt.datetime | None = None) -> str | None:
    """Why a county run must refuse night `day` at once, or None: a night after today (LOCAL_TIMEZONE; `now`: the
    clock, default the current time) has not begun, so its run would wait, deferred, until that night's deadline and,
    one run at a time per county DAG (max_active_runs 1), hold back every later night of the county (a Param `night`
    of 2030-01-01 deferred until 2030-01-02). Today's night is allowed: it is under way."""
    today = (now or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo(LOCAL_TIMEZONE)).date()
    if day <= today:
        return None
    return (f"night {day} is in the future (today is {today}, {LOCAL_TIMEZONE}): refused before waiting for its "
            f"export, which would hold back the county's later nights — trigger again with a night up to {today}")


def covered_nights(context, timezone: str = "Asia/Shanghai") -> list[dt.date]:
    """The nights a `xuncha_night` run judges, oldest first, up to its night (`run_night`): from the `from` Param (also
    `conf.from`; a catch-up names its first night), else from the night after the previous run's (a run after a gap,
    at most MAX_CATCH_UP_NIGHTS), else its night alone. Raises ValueError when `from` is after the run's night."""
    last = run_night(context, timezone)
    run = context.get("dag_run")
    first = (context.get("params") or {}).get("from") or (getattr(run, "conf", None) or {}).get("from")
    if first:
        first = dt.date.fromisoformat(str(first))
        if first > last:
            raise ValueError(f"`from` {first} is after the run's night {last}")
    else:
        before = _previous_night(context, timezone)
        first = max(before + dt.timedelta(days=1), last - dt.timedelta(days=MAX_CATCH_UP_NIGHTS - 1)) \
            if before and before < last else last
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


def _previous_night(context, timezone: str) -> dt.date | None:
    """The night of this DAG's previous run (Airflow's TaskInstance.get_previous_dagrun), None without one."""
    try:
        prev = context["ti"].get_previous_dagrun()
    except Exception:   # no task instance (a test, the listener) or no API server to ask
        return None
    if prev is None or (prev.logical_date is None and not (prev.conf or {}).get("night")):
        return None
    return run_night({"dag_run": prev, "params": {}, "logical_date": prev.logical_date}, timezone)


def night_params() -> dict:
    """The trigger form of `xuncha_night`: the night to judge (empty: the night before the run's date) and the first
    night of a catch-up (empty: the nights since the previous run)."""
    from airflow.sdk import Param

    return {"night": Param(None, type=["null", "string"], format="date", title="Night 业务日期",
                           description="The last night to judge. Empty: the night before the run's date."),
            "from": Param(None, type=["null", "string"], format="date", title="From 起始业务日期",
                          description="The first night to judge (a catch-up). Empty: the nights since the previous run.")}


def start_date(reg: Registry | None = None, timezone: str = "Asia/Shanghai"):
    """The start_date of the whole-night DAGs (xuncha_night, xuncha_marts, xuncha_health): the midnight after the
    registry's first night (the earliest `active_from`), as each county DAG starts after its own
    (xuncha.orchestration.county_dags.first_run).

    Not go-live: Airflow makes no task instance for a manual run whose logical date is before the start_date
    (apache/airflow#38513) and the UI's Trigger form sends "now", so on the go-live day a form run of these DAGs was
    empty and green. All three have catchup off: unpausing makes one run, never a catch-up of history."""
    from xuncha import registry

    return midnight_after(min(c.active_from for c in (reg or registry.load()).counties), timezone)


def midnight_after(night: dt.date, timezone: str):
    """00:00 in `timezone` after business night `night` (a pendulum DateTime): the first run of a DAG whose first
    night is `night` (start_date above; xuncha.orchestration.county_dags.first_run)."""
    import pendulum

    day = night + dt.timedelta(days=1)
    return pendulum.datetime(day.year, day.month, day.day, tz=timezone)


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


OPERATIONS_CONNECTIONS = "docs/operations.md §1, step 1"
"""Where a pulled county's Airflow connection under docker compose is written down."""


def missing_connection_text(code: str, conn_id: str) -> str:
    """Why county `code`'s pull failed when its Airflow connection `conn_id` is not defined, and the fix, in plain
    words (no retry can fix it: xuncha.orchestration.hooks.ConnectionMissing): the settings `xuncha setup` writes the
    connection from (xuncha.orchestration.deployment.connection_fix; README, environment). The verdict and the run note
    put `pull failed — ` before it, the alert `pull failed: `, the incident `pull failed at <time> — `."""
    from xuncha.orchestration import deployment

    return (f"no Airflow connection `{conn_id}`: {deployment.connection_fix(code)}, then re-run this night "
            f"(under docker compose: {OPERATIONS_CONNECTIONS})")


def _reasons(county: dict, summary: dict) -> list[tuple[str | None, str]]:
    """(night ISO or None, why it is red) for each fault the ingest task met (`verdict`'s parts, in its order)."""
    out = [(None, county.get("error") or "pull failed")] if county.get("status") == "pull_failed" else []
    for e in summary.get("exports", []):
        first = (e.get("problems") or ["see the report"])[0]
        if e["status"] == "quarantined":
            out.append((e.get("business_date"),
                        f"export {e['export_id']} (night {e['business_date']}) quarantined: {first}"))
        elif e["status"] == "failed":
            out.append((e.get("business_date"),
                        f"export {e['export_id']} (night {e['business_date']}) failed through a fault of ours, not the "
                        f"county's (it stays in its inbox and is taken again by the next run): {first}"))
    if county.get("status") == "missed":
        out.append((summary["business_date"],
                    f"no export for the night of {summary['business_date']} by the deadline (迟报/漏报)"))
    return out


def _still(night: str, found: dict) -> str:
    """Why night `night` is red in the warehouse when this run met no fault of it (`found`: county_judged's entry)."""
    from xuncha.monitor import findings

    export = (found.get("exports") or ["?"])[-1]
    if found["state"] == "missing":
        return f"night {night} missing 漏报: no export by its deadline — re-run once the county has sent it"
    problems = findings.report_problems(found.get("report_path"), 1)
    first = (f": file {problems[0]['file']}, row {problems[0]['row']}, column {problems[0]['column']}, value "
             f"'{problems[0]['value']}' ({problems[0]['rule']})") if problems else ""
    if found["state"] == "failed":
        return f"night {night} failed 失败 (export {export}, a fault of ours){first}"
    return (f"night {night} still quarantined 隔离, no loaded export replacing it: export {export}{first} — re-run "
            f"after the county re-sends it")


def verdict(county: dict, summary: dict, judged: dict | None = None) -> str | None:
    """Why a county's night must show red, or None when it is green: its pull failed on a configuration fault
    (`county["error"]`, status `pull_failed`), a quarantined or failed export (first problem named) or a missed
    deadline (迟报/漏报). `county`: {"label", "status", "error"} (status and error from the ingest task). `judged`
    (county_judged: the nights the run is for, judged from the warehouse by xuncha.monitor.nights): when given, a
    night is red only when the warehouse says so (隔离 with no loaded export replacing it, failed, 漏报), whether or
    not this run met the fault (a re-run of a still-quarantined night with nothing waiting is red; issue 23's trial)."""
    from xuncha.monitor import nights

    parts = _reasons(county, summary)
    if judged is not None:
        red = [d for d, v in sorted(judged.items()) if v["state"] in nights.RED]
        said = {d for d, _ in parts}
        parts = [(d, t) for d, t in parts if d is None or d in red] + [(d, _still(d, judged[d])) for d in red
                                                                      if d not in said]
    return f"{county['label']}: " + "; ".join(t for _, t in parts) if parts else None


@dataclass(frozen=True)
class CountyVerdict:
    """A county's night judged: `red` (the verdict task fails), `reason` (first line of its log and of the run note;
    None when green), `link` (the quarantine page, one report when one export was quarantined; None when none
    was), `nights` (the
    business dates the run took in, sorted), `loaded`/`quarantined` (export counts), `status` (the ingest task's:
    arrived, missed, history, not_due, inactive, pull_failed), `not_own` (status inactive: the night is not the
    county's, what waits in its landing folder and which county takes it: xuncha.load.county_night.not_its_own)."""

    county: str
    night: str
    red: bool
    reason: str | None
    link: str | None
    nights: tuple[str, ...]
    loaded: int
    quarantined: int
    status: str = ""
    not_own: str | None = None


def county_verdict(label: str, result: dict, judged: dict | None = None) -> CountyVerdict:
    """The verdict on county `label`'s night from its ingest task's result ({"status", "summary"}, the XCom of
    xuncha.orchestration.sensors.CountyNightOperator) and, when given, the warehouse's judgement of the nights the run
    is for (`judged`: county_judged). The one statement of it: the verdict task, the run note and incidents use this."""
    summary = result["summary"]
    exports = summary.get("exports", [])
    reason = verdict({"label": label, "status": result.get("status"), "error": result.get("error")}, summary, judged)
    bad = [e for e in exports if e["status"] == "quarantined" and e.get("batch_id")]
    if judged is not None:   # what is still quarantined, whether or not this run met it
        bad = [v for v in judged.values() if v["state"] == "quarantined" and v.get("batch_id")]
    link = (f"{QUARANTINE_PAGE}/{bad[0]['batch_id']}" if len(bad) == 1 else QUARANTINE_PAGE) if bad and reason else None
    nights = tuple(sorted({e["business_date"] for e in exports if e.get("business_date")}))
    return CountyVerdict(label, summary["business_date"], reason is not None, reason, link, nights,
                         sum(e["status"] == "loaded" for e in exports), sum(e["status"] == "quarantined" for e in exports),
                         str(result.get("status") or ""), result.get("not_own"))


def county_judged(code: str, result: dict, night: dt.date, url: str | None = None,
                  now: dt.datetime | None = None) -> dict[str, dict]:
    """County `code`'s state, from the warehouse (xuncha.monitor.nights.county_states, the judgement xuncha_night
    uses), on the nights its run is for: the run's night (`night`: its Param night, else the night before its date)
    and every night it took in (`result`: the ingest task's XCom); not older history it did not take in.
    Returns ISO night -> {"county", "state", "exports", "batch_id", "report_path"}."""
    from xuncha.monitor import nights

    days = {night, *(dt.date.fromisoformat(e["business_date"]) for e in result["summary"].get("exports", [])
                     if e.get("business_date"))}
    return {d.isoformat(): v for d, v in nights.county_states(code, sorted(days), url, now=now).items()}


def night_states_between(first: dt.date, last: dt.date, url: str | None = None) -> dict:
    """Every county's state on each night `first` … `last` (xuncha.monitor.nights.states): night -> code -> state."""
    from xuncha.monitor import nights

    return nights.states(first, last, url)


def judged_text(result: dict, most: int | None = None) -> str:
    """The text of a `xuncha_night` run from its `states` task's XCom ({"business_date", "nights": {ISO night: states}}):
    xuncha.monitor.nights.nights_text; the judge task's failure and the run note both say it."""
    from xuncha.monitor import nights

    return nights.nights_text({dt.date.fromisoformat(d): v for d, v in result["nights"].items()}, most)


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
    xuncha.intake.server); returns the run id. The run has a logical date (now, to the microsecond): Airflow's home
    page counts only runs with one ("Failed DAGs": the latest run by logical date; README, Operations)."""
    import secrets

    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    run = trigger_dag(county_dag_id(county_code), triggered_by=DagRunTriggeredByType.REST_API,
                      logical_date=dt.datetime.now(dt.timezone.utc), replace_microseconds=False,
                      run_id=f"push__{county_code}__{export_id}__{secrets.token_hex(3)}",
                      conf={"night": night.isoformat()}, note=f"push of {export_id} by {county_code} (推送)")
    return run.run_id if run else None
