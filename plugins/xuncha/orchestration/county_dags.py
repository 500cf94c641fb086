"""What one county system's DAG is made of, from its registry entry (dags/xuncha_county.py loops over these).

Counties are known from configuration, each with its own schedule, deadline, time zone, channel and people, so each
is a DAG of its own (Airflow's "dynamic DAG generation" from configuration): the scheduler, the DAG list, pausing,
re-running and failures are per county. The DAG file builds only the DAG a task runs in (`wanted`, from Airflow's
parsing context), and the registry is read once per parse.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from airflow.sdk import BaseOperator

from xuncha.orchestration import nightly
from xuncha.registry import County, Registry

log = logging.getLogger(__name__)

LOAD_LIMIT = dt.timedelta(hours=4)
"""execution_timeout of a county's `ingest` task: the load itself (after the wait). A catch-up of years of one
county's nights took 16 min in P3t (docs/performance.md); four hours is a stuck load, not a slow one."""
RUN_AT = "0 0 * * *"
"""Each county's run: midnight local time (its registry time zone) after its business night; it then waits, deferred,
until the export is there or its deadline (registry `deadline`, 06:00 by default)."""


def wanted(reg: Registry, dag_id: str | None) -> list[County]:
    """The counties whose DAGs to build: the one `dag_id` names (a task starting: Airflow's parsing context), else
    every county in the registry (the dag-processor). An unknown id builds every county's (Airflow then finds none)."""
    if dag_id and dag_id.startswith("xuncha_county_"):
        hit = [c for c in reg.counties if nightly.county_dag_id(c.code) == dag_id]
        return hit or list(reg.counties)
    return list(reg.counties)


def start_dates(counties: list[County]) -> dict:
    """County code -> its DAG's start date (`first_run`), read from the registry entries only (no go-live lookup:
    reading go-live for each of 1,000 counties was a sixth of the DAG file's import, docs/performance.md)."""
    return {c.code: first_run(c) for c in counties}


def first_run(county: County):
    """The county DAG's start_date: the midnight (its time zone) after its first night (registry `active_from`).

    Not go-live: Airflow creates no task instance for a manual run whose logical date is before a task's start_date
    (models/dagrun.py `task_filter`; apache/airflow#38513, open), and the UI's Trigger form sends the logical date
    "now": with the start at the midnight after go-live, every re-run from the form on the go-live day (the default
    go-live is the day of the first `xuncha setup`) was an empty green run (issue 23's trial). Unpausing never
    catches up (catchup off: the scheduler makes one run, the newest due night); deadlines still apply from
    go-live (xuncha.extract.deadlines.applies), earlier nights' runs are `history`."""
    return nightly.midnight_after(county.active_from, county.timezone)


def doc(county: County) -> str:
    """The DAG's documentation (Markdown): what it does, the county's delivery, deadline, owner and contacts."""
    people = [*county.contacts.get("email", []), *([f"chat robot `{county.contacts['chat_conn_id']}`"]
                                                     if county.contacts.get("chat_conn_id") else [])]
    contacts = "; ".join(people) or "— (registry `contacts`)"
    until = f", last night {county.active_to} (successor {county.successor})" if county.active_to else ""
    return (f"### {county.label} — 巡察数据夜间采集\n\n"
            f"One run per night at {RUN_AT} ({county.timezone}) for the night before: `ingest` waits, deferred, for the "
            f"export until the deadline {county.deadline:%H:%M} (next morning, {county.timezone}), then fetches and "
            f"loads every night waiting, oldest first, emitting core Asset events only for the tables it changed; "
            f"`verdict` fails when an export was quarantined or the night was missed (迟报/漏报), the reason first.\n\n"
            f"- channel: {county.channel}; nights: {county.schedule}; active from {county.active_from}{until}\n"
            f"- owner: {county.owner}; contacts 联系人: {contacts}\n"
            f"- re-run a night: Trigger → night 业务日期 (and why, for the run note); pause: this DAG only.\n"
            f"- registry: config/counties.yml (one entry per county; adding one adds its DAG).")


PARAMS_DIALECT = "http://json-schema.org/draft-07/schema#"
"""The JSON Schema dialect the trigger form's Params declare (`$schema`). Airflow validates each Param's default
when a scheduled DAG is built (`jsonschema.validate`, which first checks the Param's schema against its dialect's
metaschema); without `$schema` that is draft 2020-12, whose metaschema check took 1.5–1.8 ms per Param, a third of
the DAG file's import at 1,000 counties, and draft-07's 0.3 ms (docs/performance.md). The keywords the Params use
(type, format with Airflow's format checker, maxLength, title, description) mean the same in both dialects."""


def params() -> dict:
    """The trigger form: the night to take in (empty: the night before the run's date) and why it is (re-)run.
    Both declare `$schema` PARAMS_DIALECT (only to make Airflow's per-DAG check of their schema cheaper)."""
    from airflow.sdk import Param

    return {
        "night": Param(None, type=["null", "string"], format="date", title="Night 业务日期",
                       description="The business night to take in (every export waiting up to it is loaded, oldest "
                                   "first). Empty: the night before the run's date.", **{"$schema": PARAMS_DIALECT}),
        "reason": Param("", type="string", title="Why 原因", maxLength=200, **{"$schema": PARAMS_DIALECT},
                        description="Why this night is (re-)run: shown in the run note, e.g. 'export re-sent after quarantine'."),
    }


def dag_kwargs(county: County, default_args: dict, starts: dict | None = None) -> dict:
    """Keyword arguments of the county's DAG: id, display name, schedule in its time zone, tags, owner, Params, docs.
    `starts`: county code -> start date (`start_dates`, computed once per parse; else computed here).
    catchup is off: unpausing, even after `xuncha backfill` (whose runs Airflow counts as the latest automated run),
    schedules only the newest due night; the ingest task takes every export waiting up to its night, so missed
    nights are loaded by the next run or by `xuncha backfill` (issue 23's trial: catchup filled every night from the
    newest backfilled one up to today with runs)."""
    from airflow.sdk import CronTriggerTimetable

    start = (starts or {}).get(county.code) or first_run(county)
    return dict(dag_id=nightly.county_dag_id(county.code), dag_display_name=county.label,
                schedule=CronTriggerTimetable(RUN_AT, timezone=county.timezone),
                start_date=start, catchup=False, max_active_runs=1,
                tags=[t for t in ("xuncha", county.region, county.channel) if t], params=params(), doc_md=doc(county),
                default_args=default_args | {"owner": county.owner}, owner_links=_owner_links(county))


def _owner_links(county: County) -> dict:
    """The DAG list's link on the owner: a mail to the county's first contact address (registry `contacts.email`)."""
    emails = county.contacts.get("email") or []
    return {county.owner: f"mailto:{emails[0]}"} if emails else {}


def judge(label: str, result: dict, judged: dict | None = None) -> dict:
    """The `verdict` task: state the county's night (nightly.county_verdict; `judged`: nightly.county_judged, the
    warehouse's state of the nights the run is for); on red, log the reason first and fail without retrying
    (AirflowFailException), naming the quarantine page. Returns the verdict as a dict when green."""
    from airflow.sdk.exceptions import AirflowFailException

    v = nightly.county_verdict(label, result, judged)
    if v.red:
        text = f"{v.reason} — {v.link}" if v.link else v.reason
        log.error("%s", text)
        raise AirflowFailException(text)
    log.info("%s: night %s green; took in %d night(s), %d export(s) loaded", label, v.night, len(v.nights), v.loaded)
    if v.not_own:   # an ended or not yet active county: what waits in its folder, and who takes it
        log.info("%s: night %s: %s", label, v.night, v.not_own)
    return dataclasses.asdict(v)


class CountyVerdictOperator(BaseOperator):
    """The `verdict` task of a county's DAG: `judge` on the `ingest` task's result (`result`: its XCom, an XComArg
    resolved when the task runs, which also makes `ingest` its upstream). `county`: {"code", "label"}, read by the
    failure notifications (notifications._county_of). Returns the green verdict as a dict (its XCom).

    A plain operator rather than `@task`: the decorator's operator is built through four classes, each copying the
    DAG's Params (Airflow's apply_defaults), and importing it costs 0.2 s; at 1,000 counties the decorated task took
    about a fifth of the DAG file's import (docs/performance.md)."""

    template_fields = ("result",)

    def __init__(self, *, county: dict, result, **kwargs):
        super().__init__(**kwargs)
        self.county = county
        self.result = result

    def execute(self, context) -> dict:
        """Judge the nights the run is for (`judge`, with the warehouse's state of them: nightly.county_judged): the
        verdict as a dict when green; AirflowFailException, reason first, when red."""
        from xuncha import registry
        from xuncha.orchestration.env import warehouse_url_from_airflow

        tz = registry.load().get(self.county["code"]).timezone
        judged = nightly.county_judged(self.county["code"], self.result, nightly.run_night(context, tz),
                                       warehouse_url_from_airflow())
        return judge(self.county["label"], self.result, judged)
