"""
### 巡察数据健康检查 — hourly health checks, incidents and notifications

Every hour: `freshness` recomputes mart.freshness (per county: newest loaded night and its age, exports and
quarantines of the last 30 nights, open missed deadlines); `check` finds what is wrong now — stale counties (judged
with their predecessors' nights), missing and late exports (漏报/迟报), quarantined or failed nights, silent producers
(heartbeat-only or far-below-median nights, 数据量异常), overdue rectification tasks and clues — and keeps one incident
per county and kind in audit.incidents: opened once, updated while it persists, resolved when it clears, escalated
after `escalate_after_hours` unacknowledged. Each event goes to operators (SMTP connection `xuncha_notify_smtp`, chat
robot `xuncha_notify_chat`) and, in Chinese, to the county's own contacts (config/counties.yml). The run **fails**
while a critical incident is open and unacknowledged; its log leads with the list. Acknowledge on the 事件 page or
with `xuncha incidents ack ID`.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, get_current_context, task

from xuncha.orchestration import nightly
from xuncha.orchestration import notifications as notify

DEFAULT_ARGS = {"owner": "xuncha-data", "retries": 1, "on_failure_callback": notify.task_failed,
                "execution_timeout": dt.timedelta(minutes=20)}


@dag(schedule="@hourly", start_date=nightly.start_date(), catchup=False, max_active_runs=1, tags=["xuncha", "health"],
     default_args=DEFAULT_ARGS, doc_md=__doc__,
     params={"max_age_nights": Param(1, type="integer", minimum=0, description="a county more nights behind is stale"),
             "escalate_after_hours": Param(None, type=["null", "number"], minimum=0,
                                           description="escalate an unacknowledged incident after this many hours "
                                                       "(empty: XUNCHA_ESCALATE_AFTER_HOURS, default 4)")})
def xuncha_health():
    @task
    def freshness() -> int:
        from xuncha.monitor import health
        from xuncha.orchestration.env import warehouse_url_from_airflow

        return health.refresh_freshness(warehouse_url_from_airflow())

    @task
    def check(_rows: int) -> list[str]:
        from xuncha.orchestration.health import run_check

        return run_check(get_current_context()["params"])

    check(freshness())


health_dag = xuncha_health()
