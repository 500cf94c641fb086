"""The county DAGs, xuncha_night and xuncha_marts under Airflow's real scheduler (xuncha.orchestration.cluster.LocalCluster,
LocalExecutor), driven only through the REST API as an operator would: a night of four county systems.

- 宜阳县 410327 sent a good night (03-15) and a bad one (03-16): its run is failed and counted failed on the home page
  (the API behind it), its note gives the reason first and the quarantine link, and its good night is in the marts;
  re-run with nothing re-sent, the night is still quarantined (隔离): red again, still counted;
- 汝阳县 410326 delivered: its run succeeds; run again with nothing new, it queues no marts run;
- 伊川县 410329 is paused: its run waits, nothing of it is loaded, the others go on;
- 洛阳市 410300 sent nothing by the deadline (漏报, red); its export comes later and a run with the `night` Param (the
  trigger form) loads it;
- xuncha_night names each county's state and fails on the red one; the marts it triggers take in every pending
  county (none stranded: apache/airflow#56050).
"""

from __future__ import annotations

import re
import time

import psycopg2  # noqa: F401  (the suite's PostgreSQL driver; metadata_db needs it)
import pytest
from conftest import config_with_units, query
from exports import slice_rows, write_export
from test_scaleout import metadata_db

from xuncha.orchestration.cluster import LocalCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]   # minutes of start-up on a busy 2-core machine

UNITS = ("410300", "410326", "410327", "410329")
NIGHT = "2019-03-16"
RUN_AT = "2019-03-17T00:00:00+08:00"        # each county's run for NIGHT (midnight after it, local time)
DAG = {code: f"xuncha_county_{code}" for code in UNITS}
TIMINGS = {"AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "2", "XUNCHA_GO_LIVE": "2019-03-01"}




def land(settings) -> None:
    write_export(settings.landing, "410326", "410326-20190316-01", NIGHT, slice_rows("410326", n_findings=9))
    write_export(settings.landing, "410327", "410327-20190315-01", "2019-03-15", slice_rows("410327", n_findings=6))
    bad = slice_rows("410327")
    bad["findings"][1]["category"] = "XX"
    write_export(settings.landing, "410327", "410327-20190316-01", NIGHT, bad)
    write_export(settings.landing, "410329", "410329-20190316-01", NIGHT, slice_rows("410329"))


def until(cluster: LocalCluster, what: str, fn, timeout: float = 900):
    end = time.monotonic() + timeout
    while not (got := fn()):
        cluster.check_alive()
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for {what}; logs in {cluster.logs}")
        time.sleep(2)
    return got


def backfilled(cluster: LocalCluster, dag_id: str, logical_date: str) -> str:
    """The run of a backfill of `dag_id` at `logical_date` (scheduled-like: it has a logical date, so the home page
    counts it; LocalCluster's policy keeps the scheduler from making scheduled runs itself)."""
    cluster.backfill(dag_id, logical_date, logical_date)
    return until(cluster, f"{dag_id}'s backfill run", lambda: next(
        (r["dag_run_id"] for r in cluster.dag_runs(dag_id) if r["run_type"] == "backfill"), None), 120)


def trigger(cluster: LocalCluster, code: str, conf: dict) -> str:
    """A manual run with the Params as conf and no logical date (as `airflow dags trigger` without -l); the UI form's
    own request (logical date now) is tested with the DAGs' own start dates in test_county_trigger.py (under this
    module's hold_schedule policy, tasks start in 2099 and a run dated now would get no task instance)."""
    return cluster.api("POST", f"/api/v2/dags/{DAG[code]}/dagRuns", json={"logical_date": None, "conf": conf})["dag_run_id"]


def ended(cluster: LocalCluster, dag_id: str, run_id: str) -> dict | None:
    run = cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    return run if run["state"] in ("success", "failed") else None


def first_words(cluster: LocalCluster, dag_id: str, run_id: str, task_id: str) -> str:
    """The first line the task itself logged (after Airflow's own "Pre Execute" group) in its first try's log file."""
    import json

    log = cluster.home / "airflow" / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}" / "attempt=1.log"
    events = [json.loads(line).get("event", "") for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return events[events.index("::endgroup::") + 1]


def marts_runs(cluster: LocalCluster) -> list[dict]:
    return cluster.dag_runs("xuncha_marts")


def test_each_county_is_red_paused_and_re_run_on_its_own_and_the_night_names_every_state(
        clean, airflow_ready, settings, tmp_path):
    from xuncha.metrics import marts

    land(settings)
    env = TIMINGS | {"XUNCHA_CONFIG": config_with_units(tmp_path, UNITS)}
    cluster = LocalCluster(tmp_path / "cluster", parallelism=4, settings=settings, extra_env=env, init=False,
                           metadata_url=metadata_db(settings, "airflow_county_runs"),
                           dag_ids=("xuncha_night", "xuncha_marts", *DAG.values()))
    with cluster:
        cluster.unpause("xuncha_marts", "xuncha_night", DAG["410300"], DAG["410326"], DAG["410327"])
        cluster.api("PATCH", f"/api/v2/dags/{DAG['410329']}", json={"is_paused": True})
        runs = {code: backfilled(cluster, DAG[code], RUN_AT) for code in UNITS}
        done = {code: until(cluster, f"{code}'s run", lambda c=code: ended(cluster, DAG[c], runs[c]))
                for code in ("410326", "410327", "410300")}

        # Red where a county failed, green where it delivered, counted on the home page.
        assert {c: r["state"] for c, r in done.items()} == {"410326": "success", "410327": "failed", "410300": "failed"}
        stats = cluster.api("GET", "/ui/dashboard/dag_stats")
        assert stats["failed_dag_count"] == 2, stats
        states = {ti["task_id"]: ti["state"] for ti in cluster.task_instances(DAG["410327"], runs["410327"])}
        assert states == {"ingest": "success", "verdict": "failed"}, "loaded what it could, then judged red"
        assert first_words(cluster, DAG["410327"], runs["410327"], "verdict").startswith(
            "宜阳县 410327: export 410327-20190316-01 (night 2019-03-16) quarantined: "), "the reason first in the log"
        note = done["410327"]["note"]
        assert note.startswith("RED: 宜阳县 410327: export 410327-20190316-01 (night 2019-03-16) quarantined: "), note
        assert re.search(r"\(/xuncha/quarantine/\d+\) — night 2019-03-16: took in 2 night\(s\) 2019-03-15 … "
                         r"2019-03-16, 1 export\(s\) loaded, 1 quarantined 隔离$", note), note
        assert "no export for the night of 2019-03-16 by the deadline" in done["410300"]["note"]
        # Pausing one county stops only it.
        assert cluster.api("GET", f"/api/v2/dags/{DAG['410329']}/dagRuns/{runs['410329']}")["state"] == "queued"
        assert query(clean, "SELECT count(*) FROM audit.batches WHERE county_code = '410329'") == [(0,)]

        # The red county's good night reached the marts through its own Asset events.
        until(cluster, "the marts to take in 宜阳县's good night", lambda: query(
            clean, "SELECT sum(findings) FROM mart.findings_by_category WHERE county_code = '410327'") == [(6,)])
        until(cluster, "the marts runs to end", lambda: all(r["state"] in ("success", "failed") for r in marts_runs(cluster)))

        # A night that changed nothing emits no Asset event and queues no marts run.
        before = {r["dag_run_id"] for r in marts_runs(cluster)}
        events = cluster.api("GET", "/api/v2/assets/events", params={"source_dag_id": DAG["410326"], "limit": 100})
        again = trigger(cluster, "410326", {"night": NIGHT})
        assert until(cluster, "汝阳县's second run", lambda: ended(cluster, DAG["410326"], again))["state"] == "success"
        after = cluster.api("GET", "/api/v2/assets/events", params={"source_dag_id": DAG["410326"], "limit": 100})
        assert after["total_entries"] == events["total_entries"] > 0
        time.sleep(15)
        assert {r["dag_run_id"] for r in marts_runs(cluster)} == before, "nothing changed: no marts run"
        assert "nothing waiting, nothing loaded" in ended(cluster, DAG["410326"], again)["note"]

        # 宜阳县's quarantined night re-run with nothing re-sent: still red, reason first, still counted failed.
        red_again = trigger(cluster, "410327", {"night": NIGHT, "reason": "re-run 重跑"})
        done = until(cluster, "宜阳县's re-run", lambda: ended(cluster, DAG["410327"], red_again))
        assert done["state"] == "failed", "a night still quarantined (隔离) is red however often it is re-run"
        assert done["note"].startswith("RED: 宜阳县 410327: night 2019-03-16 still quarantined 隔离, no loaded export "
                                       "replacing it: export 410327-20190316-01"), done["note"]
        assert done["note"].endswith("— night 2019-03-16: nothing waiting, nothing loaded — re-run 重跑"), done["note"]
        assert cluster.api("GET", "/ui/dashboard/dag_stats")["failed_dag_count"] == 2

        # 洛阳市's night comes late; re-run through the trigger form's Params, it loads.
        write_export(settings.landing, "410300", "410300-20190316-01", NIGHT, slice_rows("410300"))
        rerun = trigger(cluster, "410300", {"night": NIGHT, "reason": "re-sent 补报"})
        done = until(cluster, "洛阳市's re-run", lambda: ended(cluster, DAG["410300"], rerun))
        assert done["state"] == "success" and done["note"].startswith("re-sent 补报 — night 2019-03-16: took in 1 night(s)")

        # The whole night: every county's state named, red where 宜阳县 is; the marts take in every pending county.
        marts_before = {r["dag_run_id"] for r in marts_runs(cluster)}
        night = backfilled(cluster, "xuncha_night", "2019-03-17T06:30:00+08:00")
        judged = until(cluster, "xuncha_night", lambda: ended(cluster, "xuncha_night", night))
        assert judged["state"] == "failed", judged
        assert judged["note"] == ("night 2019-03-16 — quarantined 隔离 (1): 宜阳县 410327; missing 漏报 (1): 伊川县 410329; "
                                  "loaded 已入库 (1): 汝阳县 410326; late 迟报 (1): 洛阳市 410300"), judged["note"]
        refresh = until(cluster, "the night's marts run", lambda: cluster.night_refresh(marts_before))
        assert refresh["state"] == "success"
        until(cluster, "the marts runs to end", lambda: all(r["state"] in ("success", "failed") for r in marts_runs(cluster)))
        assert marts.pending_counties(clean) == [], "no county's load stranded outside the marts"
