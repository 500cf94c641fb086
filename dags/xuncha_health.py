"""
### 巡察数据健康检查 — hourly health checks with notifications

Every hour: `freshness` recomputes mart.freshness (per county: newest loaded night and its age, exports and
quarantines of the last 30 nights, open missed deadlines); `check` reads it and the marts for stale counties, late or
missing exports (迟报/漏报), clues past the three-month feedback rule, overdue rectification tasks and a rising
quarantine rate, records each new finding once a day in audit.alerts, and sends the new ones through Airflow's
notifiers (SMTP connection `xuncha_notify_smtp`, chat robot connection `xuncha_notify_chat`: DingTalk / WeCom).
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
             "rising_floor": Param(0.05, type="number", description="quarantine rates below this never alert")})
def xuncha_health():
    @task
    def freshness() -> int:
        from xuncha.monitor import health
        from xuncha.orchestration.env import warehouse_url_from_airflow

        return health.refresh_freshness(warehouse_url_from_airflow())

    @task
    def check(_rows: int) -> list[str]:
        from xuncha.monitor import health
        from xuncha.orchestration.env import warehouse_url_from_airflow

        ctx = get_current_context()
        url = warehouse_url_from_airflow()
        found = health.findings(url, ctx["params"]["max_age_nights"], ctx["params"]["rising_floor"])
        new = health.record(url, found)
        if new:
            notify.send(f"[Xuncha] health: {len(new)} new finding(s) 巡察数据健康检查", health.summary(new), ctx)
        return [f.line() for f in found]

    check(freshness())


health_dag = xuncha_health()
