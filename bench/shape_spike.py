"""Spike (issue 23): the scheduler's cost of a night by DAG shape, without the loads, under the real scheduler.

Two DAG files in a temporary dags folder, with tasks that do nothing (a task process started and ended: what the
scheduler, executor and Task SDK cost per task instance, apart from the work):

- `today`: one DAG, `plan` → a mapped task group per county (wait_for_export → ingest → outcome) → `summary`, as
  dags/xuncha_nightly.py was until issue 23;
- `per_county`: one DAG per county (`spike_county_<i>`), ingest → verdict, as dags/xuncha_county.py.

xuncha.orchestration.cluster.LocalCluster (LocalExecutor, parallelism 4) runs them; for N counties the night is one
run of `today` with N mapped counties, or one run of each of the first N county DAGs; timed from the first trigger to
the last run's end (server timestamps). Printed as JSON lines with the load average before each case.
`python bench/shape_spike.py 17 197` (XUNCHA_HOME: a scratch folder; it starts its own PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

TODAY = '''
from airflow.sdk import dag, task, task_group
import pendulum

@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False, max_active_runs=1, tags=["spike"])
def spike_today():
    @task
    def plan(n: int = 0) -> list[dict]:
        from airflow.sdk import get_current_context
        return [{"code": str(i)} for i in range(int(get_current_context()["params"].get("n", 17)))]

    @task
    def wait_for_export(county: dict) -> dict:
        return county

    @task
    def ingest(county: dict) -> dict:
        return county

    @task
    def outcome(county: dict) -> dict:
        return county

    @task_group(group_id="county")
    def chain(county: dict):
        return outcome(ingest(wait_for_export(county)))

    @task(trigger_rule="all_done")
    def summary(counties: list[dict]) -> int:
        return len(counties)

    planned = plan()
    chain.expand(county=planned) >> summary(planned)

spike_today()
'''

PER_COUNTY = '''
from airflow.sdk import DAG, task, get_parsing_context
import pendulum

N = {n}
wanted = get_parsing_context().dag_id
for i in range(N):
    dag_id = f"spike_county_{{i:04d}}"
    if wanted and wanted.startswith("spike_county_") and wanted != dag_id:
        continue
    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False, max_active_runs=1,
             tags=["spike"]) as d:
        @task
        def ingest() -> int:
            return 1

        @task
        def verdict(x: int) -> int:
            return x

        verdict(ingest())
    globals()[dag_id] = d
'''


def _ts(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _wait(cluster, fn, timeout: float):
    end = time.monotonic() + timeout
    while True:
        cluster.check_alive()
        got = fn()
        if got:
            return got
        if time.monotonic() > end:
            raise TimeoutError(f"not done after {timeout:.0f} s; logs in {cluster.logs}")
        time.sleep(2)


def case_today(cluster, n: int, timeout: float) -> dict:
    run = cluster.api("POST", "/api/v2/dags/spike_today/dagRuns", json={"logical_date": None, "conf": {"n": n}})
    got = _wait(cluster, lambda: (r := cluster.api("GET", f"/api/v2/dags/spike_today/dagRuns/{run['dag_run_id']}"))
                ["state"] in ("success", "failed") and r, timeout)
    return {"shape": "today (one DAG, 3 mapped tasks per county)", "counties": n, "state": got["state"],
            "task_instances": 2 + 3 * n,
            "wall_s": round((_ts(got["end_date"]) - _ts(run["queued_at"])).total_seconds(), 1)}


def case_per_county(cluster, n: int, timeout: float) -> dict:
    ids = [f"spike_county_{i:04d}" for i in range(n)]
    first = None
    runs = {}
    for dag_id in ids:
        r = cluster.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        runs[dag_id] = r["dag_run_id"]
        first = first or _ts(r["queued_at"])

    # POST …/dagRuns/list is paged at 100: count the ended runs across pages
    def all_ended():
        done, last_end = 0, None
        for off in range(0, n + 100, 100):
            page = cluster.api("POST", "/api/v2/dags/~/dagRuns/list",
                               json={"dag_ids": ids, "states": ["success", "failed"], "page_limit": 100, "page_offset": off})
            done += len(page["dag_runs"])
            for r in page["dag_runs"]:
                e = _ts(r["end_date"])
                last_end = e if last_end is None or e > last_end else last_end
            if len(page["dag_runs"]) < 100:
                break
        return last_end if done >= n else None

    last = _wait(cluster, all_ended, timeout)
    return {"shape": "per county (one DAG each, 2 tasks)", "counties": n, "task_instances": 2 * n,
            "wall_s": round((last - first).total_seconds(), 1)}


def main(counties: list[int], timeout: float = 900) -> None:
    from xuncha.orchestration.cluster import LocalCluster
    from xuncha.settings import get_settings

    work = Path(tempfile.mkdtemp(prefix="shape-spike-"))
    dags = work / "dags"
    dags.mkdir()
    (dags / "spike_today.py").write_text(TODAY, encoding="utf-8")
    (dags / "spike_per_county.py").write_text(PER_COUNTY.format(n=max(counties)), encoding="utf-8")
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
           "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "1"}
    ids = ("spike_today", "spike_county_0000")
    with LocalCluster(work / "cluster", parallelism=4, settings=get_settings(), extra_env=env, dag_ids=ids) as cluster:
        for n in counties:
            for case in (case_per_county, case_today):
                load = [round(x, 2) for x in os.getloadavg()]
                try:
                    out = case(cluster, n, timeout)
                except TimeoutError as exc:
                    out = {"shape": case.__name__, "counties": n, "error": str(exc)[:200]}
                print(json.dumps(out | {"load_avg_1_5_15_before": load,
                                        "load_avg_after": [round(x, 2) for x in os.getloadavg()]}), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [17, 197], float(os.environ.get("SPIKE_CASE_TIMEOUT", "900")))
