"""
### 巡察指标刷新 — refresh the marts after loads, then the report

Scheduled on the core Assets the county DAGs' loads emit (only for tables a load changed) and on the `night` Asset
`xuncha_night` emits after the latest deadline: refreshes the marts for the counties those loads changed, and at the
night's end (`night`) any loaded county the marts have not taken in yet (all counties when triggered by hand), in one
transaction, and
emits the `mart` Asset; then writes the report 巡察工作数据报告 of the newest loaded night (one offline HTML file, also in
the UI: 巡察报告). One run at a time: refreshes take one lock in turn, so concurrent runs would only wait, holding task
slots the loads need; events that arrive meanwhile make one run after it (Airflow defers asset-triggered runs at
`max_active_runs`).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetAny, dag, get_current_context, task

from xuncha.orchestration import nightly
from xuncha.orchestration import notifications as notify
from xuncha.orchestration.assets import CORE, MARTS, NIGHT

DEFAULT_ARGS = {"owner": "xuncha-data", "retries": 1, "retry_delay": pendulum.duration(minutes=2),
                "on_failure_callback": notify.task_failed, "execution_timeout": pendulum.duration(hours=2)}


@dag(
    schedule=AssetAny(*CORE.values(), NIGHT),
    start_date=nightly.start_date(),
    catchup=False,
    max_active_runs=1,
    tags=["xuncha", "metrics"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def xuncha_marts():
    @task(outlets=[MARTS])
    def refresh() -> list[str]:
        from xuncha.metrics import marts as metrics
        from xuncha.orchestration.env import warehouse_url_from_airflow

        ctx = get_current_context()
        extras = [ev.extra for events in ctx["triggering_asset_events"].values() for ev in events]
        url = warehouse_url_from_airflow()
        return metrics.refresh(url, nightly.changed_counties(extras, metrics.pending_counties(url)))

    @task
    def report() -> str:
        from xuncha.orchestration.env import warehouse_url_from_airflow
        from xuncha.reports import html

        return str(html.build(warehouse_url_from_airflow()))

    refresh() >> report()


marts_dag = xuncha_marts()
