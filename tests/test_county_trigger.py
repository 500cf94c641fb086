"""A county DAG as a fresh engineer meets it (issue 23's trial) under Airflow's real scheduler with the DAGs' own
schedules (xuncha.orchestration.cluster.LocalCluster, scheduled=True: no hold policy), go-live today (the default: the
day of the first `xuncha setup`), driven through the REST API as the UI drives it:

- the Trigger form's request (POST …/dagRuns with the logical date "now", the Params as conf, a Referer) runs ingest and
  verdict for the chosen night; before the fix the county DAG started at the midnight after go-live, and Airflow makes
  no task instance for a manual run dated before a task's start_date: an empty green run;
- its red night is counted by the home page's "Failed DAGs" card (GET /ui/dashboard/dag_stats, the card's own call);
- `xuncha airflow dags trigger` of a paused county (README's re-run) is refused with how to go on;
- unpausing after a backfill schedules at most one night; before the fix (catchup on) the scheduler filled every night
  from the newest backfilled one up to today with empty runs.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import httpx
import psycopg2  # noqa: F401  (the suite's PostgreSQL driver; metadata_db needs it)
import pytest
from conftest import config_with_units, query
from exports import slice_rows, write_export
from test_county_runs import ended, until
from test_scaleout import metadata_db

from xuncha.orchestration.cluster import LocalCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

CODE = "410327"
DAG = f"xuncha_county_{CODE}"


def ui_trigger(cluster: LocalCluster, conf: dict) -> str:
    """The request the Airflow 3.3 UI's Trigger dialog sends (its form's logical date defaults to now, ISO in UTC)."""
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {"conf": conf, "data_interval_end": None, "data_interval_start": None, "logical_date": now,
            "partition_key": None}
    r = httpx.post(f"{cluster.url}/api/v2/dags/{DAG}/dagRuns", json=body, timeout=120,
                   headers={"Authorization": f"Bearer {cluster.token()}", "Referer": f"{cluster.url}/dags/{DAG}"})
    r.raise_for_status()
    return r.json()["dag_run_id"]


def runs_ended(cluster: LocalCluster) -> bool:
    return all(r["state"] in ("success", "failed") for r in cluster.dag_runs(DAG))


def test_the_ui_trigger_form_runs_the_night_its_red_run_is_counted_and_unpausing_after_a_backfill_schedules_one_night(
        clean, airflow_ready, settings, tmp_path):
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    env = {"AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "2", "XUNCHA_GO_LIVE": today.isoformat(),
           "XUNCHA_CONFIG": config_with_units(tmp_path, (CODE,))}
    cluster = LocalCluster(tmp_path / "cluster", parallelism=4, settings=settings, extra_env=env, init=False,
                           scheduled=True, metadata_url=metadata_db(settings, "airflow_county_trigger"),
                           dag_ids=(DAG,))
    with cluster:
        # Backfilled while paused, then unpaused (the trial's order): the backfill's night runs, and the scheduler adds
        # at most one night (the newest due one), not every night from the backfilled one up to today.
        backfill = cluster.backfill(DAG, "2019-03-11T00:00:00+08:00", "2019-03-11T00:00:00+08:00")
        cluster.unpause(DAG)
        cluster.wait_backfill(backfill, 600)
        time.sleep(30)   # scheduler loops enough to have filled dozens of nights before the fix (55 here)
        scheduled = [r["dag_run_id"] for r in cluster.dag_runs(DAG) if r["run_type"] == "scheduled"]
        assert len(scheduled) <= 1, f"unpausing after a backfill scheduled {len(scheduled)} nights: {scheduled[:3]} …"
        until(cluster, "the runs to end", lambda: runs_ended(cluster), 600)

        # The Trigger form: night 2019-03-16 (quarantined), 2019-03-15 waiting too (good).
        write_export(settings.landing, CODE, f"{CODE}-20190315-01", "2019-03-15", slice_rows(CODE, n_findings=6))
        bad = slice_rows(CODE)
        bad["findings"][1]["category"] = "XX"
        write_export(settings.landing, CODE, f"{CODE}-20190316-01", "2019-03-16", bad)
        run_id = ui_trigger(cluster, {"night": "2019-03-16", "reason": "re-sent 补报"})
        run = until(cluster, "the UI-triggered run", lambda: ended(cluster, DAG, run_id), 900)
        states = {ti["task_id"]: ti["state"] for ti in cluster.task_instances(DAG, run_id)}
        assert states == {"ingest": "success", "verdict": "failed"}, (run, states)
        assert run["state"] == "failed" and run["note"].startswith(f"RED: 宜阳县 {CODE}: export {CODE}-20190316-01"), run
        assert " — night 2019-03-16: took in 2 night(s)" in run["note"] and "re-sent 补报" in run["note"], run  # reason first
        assert query(clean, "SELECT export_id, status FROM audit.batches WHERE county_code = %s ORDER BY export_id",
                     (CODE,)) == [(f"{CODE}-20190315-01", "loaded"), (f"{CODE}-20190316-01", "quarantined")]
        # The home page's "Failed DAGs" card: the DAGs whose latest run by logical date failed.
        assert cluster.api("GET", "/ui/dashboard/dag_stats")["failed_dag_count"] == 1

        # README's command-line re-run of a paused county is refused, saying how to go on (its run would wait queued).
        cluster.api("PATCH", f"/api/v2/dags/{DAG}", json={"is_paused": True})
        cli = subprocess.run([str(os.path.join(os.path.dirname(sys.executable), "xuncha")), "airflow", "dags", "trigger",
                              DAG, "-c", '{"night": "2019-03-16"}'], capture_output=True, text=True, timeout=300,
                             env=os.environ | {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": cluster.metadata_url})
        said = " ".join(cli.stderr.split())
        assert cli.returncode == 1 and f"{DAG} is paused" in said, cli.stdout + cli.stderr
        assert f"xuncha airflow dags unpause {DAG}" in said
