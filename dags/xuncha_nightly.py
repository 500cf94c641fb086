"""
### 巡察数据夜间采集 — nightly county exports into the warehouse

One run per night from go-live (`XUNCHA_GO_LIVE`; history: `xuncha backfill`). `plan` lists the county systems the
registry (config/counties.yml) says export that night; each county is one mapped task group, labelled with its name:
`wait_for_export` (deferred until the export is there or the county's deadline passes; a miss is recorded and
alerted) → `ingest` (fetch: remote landing, HTTP pull; then every export waiting up to that night, oldest first:
manifest and checksums → staging → Great Expectations → one-transaction publish, or quarantine with a report; emits
the core Assets) → `outcome` (fails, with the reason, when an export was quarantined or the night missed). A county
waits, fails and retries alone. `summary` lists loaded / quarantined / missing per county. Three tasks per county,
not more: the scheduler's loop grows with the task instances of the run (docs/performance.md, P3s).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowFailException

from xuncha import registry
from xuncha.orchestration import nightly
from xuncha.orchestration import notifications as notify
from xuncha.orchestration.env import warehouse_url_from_airflow
from xuncha.orchestration.sensors import ExportArrivalSensor
from xuncha.orchestration.assets import CORE, NIGHT

# The retry delay is the deployment's: [core] default_task_retry_delay (300 s unless set; docs/operations.md).
DEFAULT_ARGS = {"owner": "xuncha-data", "retries": 2, "on_failure_callback": notify.task_failed,
                "execution_timeout": dt.timedelta(hours=4)}
LABEL = "{{ county_label }}"


@dag(schedule=CronTriggerTimetable("0 3 * * *", timezone="Asia/Shanghai"), start_date=nightly.start_date(),
     catchup=True, max_active_runs=1, tags=["xuncha", "ingest"], default_args=DEFAULT_ARGS, doc_md=__doc__)
def xuncha_nightly():
    @task
    def plan() -> list[dict]:
        ctx = get_current_context()
        conf = ctx["dag_run"].conf or {}
        return nightly.plan(registry.load(), nightly.run_night(ctx), conf.get("counties") or (ctx["params"] or {}).get("counties"))

    @task(map_index_template=LABEL, outlets=list(CORE.values()), pool="xuncha_ingest")
    def ingest(county: dict) -> dict:
        return nightly.ingest_county(county, warehouse_url_from_airflow(), CORE)

    @task(map_index_template=LABEL)
    def outcome(county: dict) -> dict:
        nightly.county_context(county)
        reason = nightly.verdict(county, county["summary"])
        if reason:
            raise AirflowFailException(reason)  # red for this county only, reason in the log and the notification
        return county["summary"]

    @task_group(group_id="county")
    def county_chain(county: dict):
        waited = ExportArrivalSensor(task_id="wait_for_export", county=county, map_index_template="{{ task.county['label'] }}",
                                     execution_timeout=dt.timedelta(hours=30))  # deferred until the deadline, next morning
        return outcome(ingest(waited.output))

    @task(trigger_rule="all_done", outlets=[NIGHT])
    def summary(counties: list[dict]) -> dict:
        ctx = get_current_context()
        day = nightly.run_night(ctx)
        ctx["outlet_events"][NIGHT].extra = nightly.NIGHT_ENDED | {"business_date": day.isoformat()}  # marts' last trigger
        return nightly.night_summary(day, [c["code"] for c in counties], warehouse_url_from_airflow())

    planned = plan()
    county_chain.expand(county=planned) >> summary(planned)


nightly_dag = xuncha_nightly()
