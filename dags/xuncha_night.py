"""
### 巡察夜间总览 — the night as a whole, after the latest deadline

Runs once a night, after the latest deadline in config/counties.yml (each county's own time zone): reads every
county's state for each night the run covers (its night; after a gap, every night since the previous run's; a
catch-up: Param `from` … `night`) from the warehouse — loaded, late 迟报, quarantined 隔离, failed, missing 漏报, not
judged before go-live — whatever its own DAG did (a paused county's night is judged too); emits the `night` Asset,
on which the marts take in every county loaded but not yet in them; and fails, naming them, when any county is red.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from xuncha import registry
from xuncha.orchestration import nightly
from xuncha.orchestration import notifications as notify
from xuncha.orchestration.assets import NIGHT

DEFAULT_ARGS = {"owner": "xuncha-data", "retries": 2, "on_failure_callback": notify.task_failed,
                "execution_timeout": dt.timedelta(minutes=30)}


@dag(schedule=CronTriggerTimetable(nightly.night_schedule(registry.load()), timezone="Asia/Shanghai"),
     start_date=nightly.start_date(), catchup=False, max_active_runs=1, tags=["xuncha", "night"],
     default_args=DEFAULT_ARGS, doc_md=__doc__, dag_display_name="巡察夜间总览 night", params=nightly.night_params())
def xuncha_night():
    @task(outlets=[NIGHT])
    def states() -> dict:
        """Every county's state for each night the run covers; the `night` event (the marts' last trigger) goes out."""
        from xuncha.orchestration.env import warehouse_url_from_airflow

        ctx = get_current_context()
        days = nightly.covered_nights(ctx)
        ctx["outlet_events"][NIGHT].extra = nightly.NIGHT_ENDED | {"business_date": days[-1].isoformat(),
                                                                   "from": days[0].isoformat()}
        found = nightly.night_states_between(days[0], days[-1], warehouse_url_from_airflow())
        print(nightly.nights_text(found))
        return {"business_date": days[-1].isoformat(), "nights": {d.isoformat(): v for d, v in found.items()}}

    @task
    def judge(night: dict) -> str:
        """Fail, naming every red night, county and state, when any county's night is red."""
        text = nightly.judged_text(night)
        if any(v["state"] in nightly.RED for n in night["nights"].values() for v in n.values()):
            raise AirflowFailException(text)
        return text

    judge(states())


night_dag = xuncha_night()
