"""
### 巡察数据夜间采集 — one DAG per county system, generated from the registry

Every county-level system in config/counties.yml is a DAG of its own, `xuncha_county_<code>` shown as "嵩县 410325",
with its own schedule and deadline in its own time zone, tags (region, channel), owner and contacts, trigger form
(night 业务日期, why 原因) and pause switch; adding a county is one registry entry. Two tasks per county:

- `ingest` (xuncha.orchestration.sensors.CountyNightOperator): waits, deferred, for the export or the deadline, then
  fetches and loads every night waiting, oldest first (xuncha.load.county_night), under its own time limit, and
  emits core Asset events only for the tables it changed — a county's loaded nights reach the marts even when
  its night ends red;
- `verdict` (xuncha.orchestration.county_dags.CountyVerdictOperator: nightly.county_verdict): fails, reason first,
  when an export was quarantined (link to the quarantine page) or the night was missed (迟报/漏报).

The registry is read once per parse; a task starting builds only its own DAG (Airflow's parsing context).
`xuncha_night` judges the whole night after the latest deadline (dags/xuncha_night.py).
"""

from __future__ import annotations

from airflow.sdk import DAG, get_parsing_context

from xuncha import registry
from xuncha.orchestration import county_dags
from xuncha.orchestration import notifications as notify
from xuncha.orchestration.assets import CORE, core_changes
from xuncha.orchestration.sensors import CountyNightOperator

# The retry delay is the deployment's: [core] default_task_retry_delay (300 s unless set; docs/operations.md).
DEFAULT_ARGS = {"retries": 2, "on_failure_callback": notify.task_failed, "execution_timeout": county_dags.LOAD_LIMIT}


def county_dag(county, starts: dict) -> DAG:
    """The DAG of one county system (registry entry `county`; `starts`: county_dags.start_dates)."""
    with DAG(**county_dags.dag_kwargs(county, DEFAULT_ARGS, starts)) as dag:
        named = {"code": county.code, "label": county.label}
        ingest = CountyNightOperator(task_id="ingest", county=named, changes=core_changes(county.code), core=CORE,
                                     pool="xuncha_ingest")
        county_dags.CountyVerdictOperator(task_id="verdict", county=named, result=ingest.output, retries=1)
    return dag


_counties = county_dags.wanted(registry.load(), get_parsing_context().dag_id)
_starts = county_dags.start_dates(_counties)
for _county in _counties:
    globals()[f"county_{_county.code}"] = county_dag(_county, _starts)
