"""
### 巡察数据夜间采集 — nightly county exports into the warehouse

One run per night (catch-up runs nights in date order). `plan` lists the county systems the registry
(config/counties.yml) says export that night. Per county (the grid shows the county's name):
`wait_for_export` waits, deferred, until the night's export is there or the county's deadline passes
(a miss is recorded in audit.deadline_misses and alerted); `ingest` fetches (remote landing, HTTP pull)
and takes every export waiting up to that night, oldest first: manifest and checksum checks → staging →
Great Expectations → one-transaction publish into core, or quarantine with a report. Loads run in the
`xuncha_ingest` pool, so one slow county never holds up the others. The core Assets it emits schedule
the mart refresh; `report` summarises the night.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task

from xuncha import county_night, nightly, notify, registry
from xuncha.airflow_ops import ExportArrivalSensor
from xuncha.assets import CORE

# The retry delay is the deployment's: [core] default_task_retry_delay (300 s unless set; docs/operations.md).
DEFAULT_ARGS = {"owner": "xuncha-data", "retries": 2, "on_failure_callback": notify.task_failed,
                "execution_timeout": dt.timedelta(hours=4)}


@dag(
    schedule=CronTriggerTimetable("0 3 * * *", timezone="Asia/Shanghai"),
    start_date=nightly.start_date(),
    catchup=True,
    max_active_runs=1,
    tags=["xuncha", "ingest"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def xuncha_nightly():
    @task
    def plan() -> list[dict]:
        ctx = get_current_context()
        return nightly.plan(registry.load(), nightly.business_date(ctx["logical_date"]), (ctx["params"] or {}).get("counties"))

    waited = ExportArrivalSensor.partial(
        task_id="wait_for_export", map_index_template="{{ task.county['label'] }}",
        execution_timeout=dt.timedelta(hours=30),   # deferred until the county's deadline, next morning
    ).expand(county=plan())

    @task(map_index_template="{{ county_label }}", outlets=list(CORE.values()), pool="xuncha_ingest")
    def ingest(county: dict) -> dict:
        from xuncha.airflow_env import warehouse_url_from_airflow

        ctx = get_current_context()
        ctx["county_label"] = county["label"]
        night = county_night.run(registry.load(), county["code"], nightly.business_date(ctx["logical_date"]),
                                 url=warehouse_url_from_airflow())
        for entity in night.changed_entities:
            ctx["outlet_events"][CORE[entity]].extra = night.asset_extra()
        return night.to_xcom()

    @task
    def report(summaries: list[dict]) -> dict:
        return nightly.night_report(list(summaries))

    report(ingest.expand(county=waited.output))


nightly_dag = xuncha_nightly()
