"""Scale-out without containers: a night of five county DAGs on two real Celery workers under the real scheduler.

Redis (Debian's redis-server) and the suite's PostgreSQL (warehouse, plus a metadata database of its own for this
test) are started; then Airflow's scheduler, dag-processor, triggerer, API server and two Celery workers, as
processes (xuncha.orchestration.cluster.LocalCluster), told apart by `--celery-hostname`. One night of five counties is
backfilled through the REST API (a backfill per county DAG); one county's export is large, and the worker loading it is killed (SIGKILL of
its whole process group: a machine lost mid-task). The scheduler notices the missing heartbeat, the county's
task is retried on the other worker, and the warehouse ends with exactly the rows sent: nothing lost, nothing
doubled. This is also issue 12's "worker killed mid-task under the real scheduler" case.

`make test-scaleout` (marker `scaleout`): minutes of start-up and retry on 2 cores, longer on a busy machine.
"""

from __future__ import annotations

import time

import psycopg2
import pytest
from conftest import query
from exports import slice_rows, write_export

from xuncha.warehouse import db
from xuncha.orchestration.cluster import LocalCluster

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(2400)]   # minutes of start-up on a busy 2-core machine

NIGHT = "2019-04-16"
RUN_AT = "2019-04-17T00:00:00+08:00"          # each county DAG's run covering NIGHT (logical date)
SMALL = {"410303": 7, "410304": 5, "410305": 9, "410311": 4}
BIG, BIG_FINDINGS = "410302", 50_000            # first in the plan: among the first loads the pool lets through
WORKERS = ["worker-a", "worker-b"]
TIMINGS = {
    # A lost worker is noticed after 25 s without a heartbeat (default 300 s), and retried 2 s later.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "25",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "2",
    # Nights before go-live are history: the county DAGs schedule nothing by themselves, only the backfills run.
    "XUNCHA_GO_LIVE": "2099-01-01",
}


def metadata_db(settings, name: str) -> str:
    """A copy of the suite's migrated Airflow metadata database (its pools too) as database `name`; its URL.
    (CREATE DATABASE … TEMPLATE: a file copy, instead of a minute of `airflow db migrate` on a fresh one.)"""
    import psycopg2

    from xuncha.warehouse import embedded
    from xuncha.settings import AIRFLOW_DB

    st = embedded.start(settings)
    conn = psycopg2.connect(dbname="postgres", user="postgres", host=str(st.socket_dir))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (AIRFLOW_DB,))
        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{AIRFLOW_DB}"')
    conn.close()
    return st.url(name)


def land(settings) -> dict[str, int]:
    """The night's exports in the landing area; the findings each county sends."""
    sent = dict(SMALL) | {BIG: BIG_FINDINGS}
    for code, n in sent.items():
        write_export(settings.landing, code, f"{code}-{NIGHT.replace('-', '')}-01", NIGHT,
                     slice_rows(code, n_findings=n, updated=f"{NIGHT}T20:00:00+08:00"))
    return sent


def wait_for(what: str, fn, timeout: float, cluster: LocalCluster, allow_dead=frozenset()):
    deadline = time.monotonic() + timeout
    while True:
        cluster.check_alive(set(allow_dead))
        found = fn()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}; logs in {cluster.logs}")
        time.sleep(1)


def test_two_celery_workers_share_the_night_and_a_killed_workers_county_is_retried(clean, airflow_ready, settings, tmp_path):
    sent = land(settings)
    codes = sorted(sent)
    lock = psycopg2.connect(db.dsn(clean))
    try:
        cluster, run_id, idx, victim = run_night(clean, settings, tmp_path, lock, codes)
    finally:
        lock.close()

    # Exactly what was sent: every county once, the killed county's rows neither lost nor doubled.
    assert dict(query(clean, "SELECT county_code, count(*) FROM core.findings GROUP BY 1")) == sent
    # Written once (issue 16): a night of new rows leaves history empty, and the rows in force as of the night are
    # exactly those sent (none the day before).
    assert query(clean, "SELECT count(*) FROM history.findings") == [(0,)]
    assert dict(query(clean, "SELECT county_code, count(*) FROM mart.findings_as_of(ARRAY[%s::date]) GROUP BY 1",
                      (NIGHT,))) == sent
    assert query(clean, "SELECT count(*) FROM mart.findings_as_of(ARRAY[%s::date - 1])", (NIGHT,)) == [(0,)]
    assert dict(query(clean, "SELECT county_code, count(*) FROM audit.batches WHERE status = 'loaded' GROUP BY 1")) == \
        {c: 1 for c in codes}
    killed = query(clean, "SELECT status FROM audit.batches WHERE county_code = %s AND status <> 'loaded'", (BIG,))
    assert killed and all(s in ("received", "failed") for (s,) in killed), "the killed try left its unpublished batch"
    # Every process the cluster started has ended (task processes included).
    assert cluster.processes() == [] and all(not svc.alive() for svc in cluster.services.values())


def run_night(clean, settings, tmp_path, lock, codes):
    """Start the cluster, backfill the night for each county, kill the worker that publishes BIG, check the runs;
    the cluster (stopped), BIG's run id, its map index (-1: a county's ingest is not mapped) and the killed worker's name."""
    dag = {code: f"xuncha_county_{code}" for code in codes}
    cluster = LocalCluster(tmp_path, workers=WORKERS, worker_concurrency=2, settings=settings,
                           metadata_url=metadata_db(settings, "airflow_scaleout"), extra_env=TIMINGS, init=False,
                           dag_ids=("xuncha_night", "xuncha_marts", *dag.values()))
    with cluster:
        cluster.unpause("xuncha_marts", "xuncha_night", *dag.values())
        # The big county first: backfills are queued in the order they are made (longest backlog first).
        backfills = {code: cluster.backfill(dag[code], RUN_AT, RUN_AT) for code in [BIG, *sorted(set(codes) - {BIG})]}
        run_id = wait_for("BIG's backfill run", lambda: [r for r in cluster.dag_runs(dag[BIG])
                                                         if r["run_type"] == "backfill"], 60, cluster)[0]["dag_run_id"]

        # The big county's load is held on its own batch row: the test locks it as soon as the load opens it, and
        # the load's next write to it (validation results, or the publish marking it loaded) waits. So the worker is
        # killed exactly mid-task, before the publish commits, whatever the machine's speed; other counties go on.
        batch = wait_for(f"{BIG}'s load to open its batch", lambda: query(
            clean, "SELECT batch_id FROM audit.batches WHERE county_code = %s AND status = 'received'", (BIG,)), 600, cluster)
        with lock.cursor() as cur:
            cur.execute("SELECT status FROM audit.batches WHERE batch_id = %s FOR UPDATE", (batch[0][0],))
            assert cur.fetchone()[0] == "received", f"{BIG} was published before the test could hold it"
        # Held: a session of the load (its publish, or the validation recorded beside it) waits on the test's lock.
        wait_for(f"{BIG}'s load to be held", lambda: query(
            clean, "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            (lock.get_backend_pid(),))[0][0], 600, cluster)
        idx = -1
        first = cluster.api("GET", f"/api/v2/dags/{dag[BIG]}/dagRuns/{run_id}/taskInstances/ingest")
        assert first["state"] == "running" and first["try_number"] == 1, first
        victim = first["hostname"].split("@")[0]
        assert victim in WORKERS, first["hostname"]
        cluster.kill(f"worker-{victim}")
        lock.rollback()                                     # the retry (on the other worker) may publish now
        dead = {f"worker-{victim}"}
        for backfill in backfills.values():
            assert cluster.wait_backfill(backfill, timeout=900, allow_dead=dead)["completed_at"]

        # The night judged (a backfill, not a manual run: with go-live in 2099 a manual run of a 2019 night would skip
        # every task). Its `night` event makes the marts take in every county pending: a load's own event that reached
        # no marts run (here, often the retried load's, arriving while a marts run runs: apache/airflow#56050) is
        # taken in then.
        before = {r["dag_run_id"] for r in cluster.dag_runs("xuncha_marts")}
        cluster.backfill("xuncha_night", "2019-04-17T06:30:00+08:00", "2019-04-17T06:30:00+08:00")
        night = wait_for("the marts run xuncha_night's `night` Asset triggers", lambda: cluster.night_refresh(before),
                         600, cluster, dead)
        assert night["state"] == "success", night

        def marts_refreshed():
            runs = cluster.dag_runs("xuncha_marts")
            return runs and all(r["state"] == "success" for r in runs) and query(
                clean, "SELECT sum(findings) FROM mart.findings_by_category WHERE county_code = %s", (BIG,)) == [(BIG_FINDINGS,)]

        wait_for("the marts to hold the retried load", marts_refreshed, 600, cluster, dead)

        runs = {code: next(r for r in cluster.dag_runs(dag[code]) if r["run_type"] == "backfill") for code in codes}
        assert {c: r["state"] for c, r in runs.items()} == {c: "success" for c in codes}
        tis = [ti for code in codes for ti in cluster.task_instances(dag[code], runs[code]["dag_run_id"])]
        assert {ti["state"] for ti in tis} == {"success"}, [(t["dag_id"], t["task_id"], t["state"]) for t in tis]
        tries = cluster.tries(dag[BIG], run_id, "ingest", idx)
        survivor = next(w for w in WORKERS if w != victim)
        assert [t["try_number"] for t in tries] == [1, 2], tries
        assert tries[0]["hostname"].startswith(f"{victim}@") and tries[0]["state"] in ("failed", "up_for_retry")
        assert tries[1]["hostname"].startswith(f"{survivor}@") and tries[1]["state"] == "success"
        # Work ran on both workers (the Celery node names of --celery-hostname).
        hosts = {ti["hostname"].split("@")[0] for ti in tis} | {tries[0]["hostname"].split("@")[0]}
        assert hosts == set(WORKERS), hosts
        # Each worker imported GX once, before it forked tasks (xuncha.orchestration.preload): the retried county's task did not.
        log = (cluster.home / "airflow" / "logs" / f"dag_id={dag[BIG]}" / f"run_id={run_id}" / "task_id=ingest"
               / "attempt=2.log").read_text(encoding="utf-8")
        assert "Great Expectations preloaded by the worker" in log, log[-3000:]
    return cluster, run_id, idx, victim
