"""P3 under the real scheduler: the same night as bench/fanout.py, run by Airflow's services, not `airflow dags test`.

For each case of fanout.py (units: the 17 seed systems; synth: + 180 synthetic counties = 197) and each executor,
(a) the LocalExecutor with parallelism 4 and (b) the CeleryExecutor with two workers of concurrency 2 (Redis
broker), the case's preloaded warehouse is restored from a snapshot taken after its set-up, the night's exports are
landed again, and xuncha.orchestration.cluster.LocalCluster starts the scheduler, dag-processor, triggerer, API server (and the
workers). Then, through the REST API (issue 23: one DAG per county system, two tasks each):

1. untimed for the figure but reported: a run of `xuncha_night` for the night before (already loaded) and the marts
   run its `night` Asset triggers: the fixed cost of a night under the scheduler (judge, refresh, report);
2. timed: a backfill of NIGHT for every county DAG (`xuncha_county_<code>`, created in plan order), then, once every
   county's run has ended, a run of `xuncha_night` for NIGHT; from the first backfill's creation to the end of the
   `xuncha_marts` run its `night` Asset triggers (server timestamps). Until 2026-12-07 the bench waited for every
   backfill's `completed_at` instead, which the scheduler sets on a fixed 30 s timer: up to 30 s of that wait
   was in each figure, and a scheduled night (xuncha_night runs at its own time) never pays it.

Every export of the night must be `loaded`. Cost per county = (wall − fixed) / counties; its growth from 17 to 197
is the ratio of the two. Targets (issue 15): 17 units ≤ 60 s, 197 counties ≤ 300 s, growth ≤ 1.2×.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fanout import NIGHT, SYNTH_BASE, TERM_START, Case, _clone_export, _night_batches

EXECUTORS = {"local": {"workers": [], "parallelism": 4}, "celery": {"workers": ["w1", "w2"], "parallelism": 8}}
WORKER_CONCURRENCY = 2     # task processes per Celery worker
P3S_DETAIL: dict = {}


def _ts(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _tick(night: dt.date) -> str:
    """Logical date of a county DAG's run covering `night` (00:00 the next morning, Asia/Shanghai)."""
    return f"{night + dt.timedelta(days=1)}T00:00:00+08:00"


def _night_tick(night: dt.date) -> str:
    """Logical date of xuncha_night's run covering `night` (06:30 the next morning, Asia/Shanghai)."""
    return f"{night + dt.timedelta(days=1)}T06:30:00+08:00"


def _snapshot(case: Case) -> Path:
    snap = case.home / "pgdata-snapshot"
    subprocess.run(["cp", "-a", str(case.settings.pgdata), str(snap)], check=True)
    return snap


def _restore(case: Case, snap: Path) -> None:
    """The warehouse and Airflow metadata as right after set-up; the night's exports landed again."""
    shutil.rmtree(case.settings.pgdata)
    subprocess.run(["cp", "-a", str(snap), str(case.settings.pgdata)], check=True)
    for area in (case.settings.landing, case.settings.archive, case.settings.quarantine, case.home / "county-systems"):
        shutil.rmtree(area, ignore_errors=True)
    served = case.home / "county-systems"
    for code, d in case.exports.items():
        shutil.copytree(d, (served if code in case.pulled else case.settings.landing) / code / d.name)
    for code, source in case.pairs:
        _clone_export(case.exports[source], case.settings.landing, code, source)


def _wait(cluster, fn, timeout: float, what: str):
    end = time.monotonic() + timeout
    while True:
        cluster.check_alive()
        got = fn()
        if got:
            return got
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not done after {timeout:.0f} s; logs in {cluster.logs}")
        time.sleep(1)


def run_case(case: Case, executor: str, snap: Path) -> dict:
    """One timed night of `case` under `executor`; the figures."""
    from xuncha.orchestration import env as airflow_env
    from xuncha.orchestration import nightly
    from xuncha.warehouse import db
    from xuncha.orchestration.cluster import LocalCluster
    from xuncha_sim.countyserver import CountyServer

    _restore(case, snap)
    url = db.warehouse_url(case.settings)           # starts the case's server
    tokens = {code: f"bench-token-{code}" for code in case.pulled}
    spec = EXECUTORS[executor]
    home = case.home / f"cluster-{executor}"
    shutil.rmtree(home, ignore_errors=True)
    with CountyServer(case.home / "county-systems", tokens) as server:
        env = dict(case.env) | {"XUNCHA_GO_LIVE": "2099-01-01", "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "10"}
        for code, token in tokens.items():
            env |= airflow_env.county_connection_env(case.reg.get(code).delivery["http"]["conn_id"], server.url, token)
        t = time.perf_counter()
        codes = [c["code"] for c in nightly.plan(case.reg, case.night)]
        dags = [nightly.county_dag_id(c) for c in codes]
        with LocalCluster(home, workers=spec["workers"], parallelism=spec["parallelism"], worker_concurrency=WORKER_CONCURRENCY,
                          settings=case.settings, extra_env=env, dag_ids=("xuncha_night", "xuncha_marts", dags[0])) as cluster:
            t_start = time.perf_counter() - t
            cluster.api("PATCH", "/api/v2/dags", params={"dag_id_pattern": "xuncha_%"}, json={"is_paused": False})
            # 1. fixed cost: the night before (already loaded) judged, and the marts run it triggers
            marts_before = {r["dag_run_id"] for r in cluster.dag_runs("xuncha_marts")}
            # (backfills, not manual runs: with go-live in 2099 a manual run of an earlier night would skip its tasks)
            before = _night_tick(case.night - dt.timedelta(days=1))
            n0 = cluster.api("GET", f"/api/v2/backfills/{cluster.backfill('xuncha_night', before, before)}")
            m0 = _wait(cluster, lambda: cluster.night_refresh(marts_before), 600, "the fixed cost's marts run")
            fixed = (_ts(m0["end_date"]) - _ts(n0["created_at"])).total_seconds()
            # 2. timed: the night for every county, until the marts run xuncha_night's event triggers has ended
            marts_before = {r["dag_run_id"] for r in cluster.dag_runs("xuncha_marts")}
            backfills = [cluster.backfill(d, _tick(case.night), _tick(case.night)) for d in dags]
            created = _ts(cluster.api("GET", f"/api/v2/backfills/{backfills[0]}")["created_at"])
            # every county's run has ended (its state, not the backfill's `completed_at`: the scheduler marks
            # backfills complete on a fixed 30 s timer, up to 30 s after their last run ended)
            last = _wait(cluster, lambda: _runs_ended(cluster, dags, created), 1800, "every county's run of the night")
            night = cluster.backfill("xuncha_night", _night_tick(case.night), _night_tick(case.night))
            marts = _wait(cluster, lambda: cluster.night_refresh(marts_before), 900, "the night's last marts run")
            # every backfill ends too (untimed): one left running would refuse the next case's (409) when a case's
            # warehouse is copied from this one (big's set-up copies the units' data directory)
            for b in (*backfills, night):
                cluster.wait_backfill(b, timeout=600)
            runs = [next(r for r in cluster.dag_runs(d) if r["run_type"] == "backfill") for d in dags]
            tis = [ti for d, r in zip(dags, runs) for ti in cluster.task_instances(d, r["dag_run_id"])]
    nightly_run = {"state": "success" if all(r["state"] == "success" for r in runs) else "failed"}
    wall = (_ts(marts["end_date"]) - created).total_seconds()
    nightly_wall = (_ts(last["end_date"]) - created).total_seconds()
    batches = _night_batches(url, case.night)
    loaded = batches["by_status"].get("loaded", {}).get("exports", 0)
    bad = {s: v["exports"] for s, v in batches["by_status"].items() if s != "loaded"}
    ok = loaded == case.expected and not bad and nightly_run["state"] == "success" and marts["state"] == "success"
    hosts = sorted({(ti.get("hostname") or "?").split("@")[0] for ti in tis})
    slots = _slots(tis, spec, wall)
    tries = sum(1 for ti in tis if (ti.get("try_number") or 1) > 1)
    print(f"  [{case.name}/{executor}] {case.expected} counties: trigger → marts {wall:.1f} s (nightly {nightly_wall:.1f} s, "
          f"marts run {(_ts(marts['end_date']) - _ts(marts['start_date'])).total_seconds():.1f} s); fixed {fixed:.1f} s; "
          f"{loaded}/{case.expected} loaded{f', NOT loaded: {bad}' if bad else ''}; {len(tis)} task instances on {hosts}"
          f"{f', {tries} retried' if tries else ''}; services up in {t_start:.0f} s\n      {slots['text']}", flush=True)
    if not ok:
        raise RuntimeError(f"P3 {case.name}/{executor}: the night did not load cleanly ({loaded}/{case.expected}, {bad}, "
                           f"nightly {nightly_run['state']}, marts {marts['state']}); logs in {home}")
    return {"counties": case.expected, "wall_s": wall, "nightly_s": nightly_wall, "fixed_s": fixed, "hosts": hosts,
            "task_instances": len(tis), "retried": tries, "services_start_s": t_start, "slots": slots}


def _runs_ended(cluster, dag_ids: list[str], since: dt.datetime) -> dict | None:
    """The last-ended of the runs of `dag_ids` started at or after `since` (REST representation), once one such run
    of every DAG has ended (success or failed); None before. One batch query (POST /dags/~/dagRuns/list)."""
    body = {"dag_ids": dag_ids, "start_date_gte": since.isoformat(), "states": ["success", "failed"],
            "order_by": "-end_date", "page_limit": 1}
    got = cluster.api("POST", "/api/v2/dags/~/dagRuns/list", json=body)
    return got["dag_runs"][0] if got["total_entries"] >= len(dag_ids) else None


def _slots(tis: list[dict], spec: dict, wall: float) -> dict:
    """Where a night's task time went, from its task instances' server timestamps: the median task's run time
    (start→end, s), the median wait in the queue (queued→start, s), and how busy the executor's slots were (the
    county tasks' run times ÷ (slots × trigger→marts wall); the marts and `xuncha_night` runs take slots too):
    near 1 means the slots bound the night, well under 1 with a long queue wait that something else held them."""
    import statistics as st
    runs = [(_ts(ti["end_date"]) - _ts(ti["start_date"])).total_seconds() for ti in tis
            if ti.get("start_date") and ti.get("end_date")]
    waits = [(_ts(ti["start_date"]) - _ts(ti["queued_when"])).total_seconds() for ti in tis
             if ti.get("start_date") and ti.get("queued_when")]
    n = len(spec["workers"]) * WORKER_CONCURRENCY if spec["workers"] else spec["parallelism"]
    busy = sum(runs) / (n * wall) if runs and wall else 0.0
    med_run, med_wait = (st.median(runs) if runs else 0.0), (st.median(waits) if waits else 0.0)
    return {"median_run_s": med_run, "median_queue_s": med_wait, "slots": n, "busy": busy,
            "text": f"task run median {med_run:.2f} s, queue wait median {med_wait:.2f} s, "
                    f"{n} slots {busy:.0%} busy with county tasks"}


def p3_scheduler(work: Path, quick: bool, cases: set[str] | None = None) -> None:
    """Run the cases (`cases`: "units:local", "synth:celery", …; None = all four) and print their rows."""
    run = next(m for m in (sys.modules.get("__main__"), sys.modules.get("run")) if m is not None and hasattr(m, "row"))
    fmt = run.fmt
    from xuncha_sim.generator import generate

    k = 20 if quick else 180
    k_big = 100 if quick else 1000        # the province-scale row (issue 23): counties in all, units included
    cases = cases or {f"{c}:{e}" for c in ("units", "synth") for e in EXECUTORS} | {"big:local"}
    print(f"\nP3 under the real scheduler: night {NIGHT}; units = the seed units, synth = + {k} synthetic counties; "
          f"local = LocalExecutor (parallelism 4), celery = CeleryExecutor (2 workers x 2); cases {sorted(cases)}",
          flush=True)
    gen = work / "p3s-seed"
    shutil.rmtree(gen, ignore_errors=True)
    t = time.perf_counter()
    generate(gen, profile="seed", start=TERM_START, end=NIGHT, progress=False)
    print(f"  generated the seed nights {TERM_START} … {NIGHT} in {time.perf_counter() - t:.0f} s (untimed)", flush=True)
    a = Case("units", work / "p3s-units", gen, NIGHT, [])
    b = Case("synth", work / "p3s-synth", gen, NIGHT, [str(SYNTH_BASE + i) for i in range(1, k + 1)])
    big = Case("big", work / "p3s-big", gen, NIGHT, [str(SYNTH_BASE + i) for i in range(1, k_big - len(a.exports) + 1)])
    results: dict[str, dict[str, dict]] = {e: {} for e in EXECUTORS}
    try:
        a.setup()
        a.stop()
        snaps = {a.name: _snapshot(a)}
        if any(c.startswith("synth:") for c in cases):
            b.setup(pgdata_from=a.settings.pgdata)
            b.stop()
            snaps[b.name] = _snapshot(b)
        for case in (a, b, big):
            if case is big and any(c.startswith("big:") for c in cases):   # set up last: 15 min on 2 cores
                big.setup(pgdata_from=a.settings.pgdata)
                big.stop()
                snaps[big.name] = _snapshot(big)
            for executor in EXECUTORS:
                if f"{case.name}:{executor}" in cases:
                    results[executor][case.name] = run_case(case, executor, snaps[case.name])
                    case.stop()
    finally:
        for case in (a, b, big):
            case.stop()
    for executor, label in (("local", "LocalExecutor x4"), ("celery", "Celery 2 workers x2")):
        ra, rb = results[executor].get("units"), results[executor].get("synth")
        if ra:
            run.row(f"P3s {label}: {ra['counties']} units trigger→marts (s)", fmt(ra["wall_s"]), "60",
                    f"{ra['wall_s'] / 60:.2f}x", "<= 60 s", ra["wall_s"] <= 60)
        if rb:
            run.row(f"P3s {label}: {rb['counties']} counties trigger→marts (s)", fmt(rb["wall_s"]), "300",
                    f"{rb['wall_s'] / 300:.2f}x", "<= 300 s", rb["wall_s"] <= 300)
        if ra and rb:
            na, nb = ra["counties"], rb["counties"]
            per_a, per_b = (ra["wall_s"] - ra["fixed_s"]) / na, (rb["wall_s"] - rb["fixed_s"]) / nb
            run.row(f"P3s {label}: s/county at {nb} vs {na}", fmt(per_b), fmt(per_a), f"{per_b / per_a:.2f}x",
                    "<= 1.2x", per_b / per_a <= 1.2)
            results[executor]["per_county_s"] = {str(na): per_a, str(nb): per_b}
        rc = results[executor].get("big")
        if rc:
            nc = rc["counties"]
            per_c = (rc["wall_s"] - rc["fixed_s"]) / nc
            run.row(f"P3s {label}: {nc} counties trigger→marts (s)", fmt(rc["wall_s"]), "–", "–", "measured", None)
            if rb:
                per_b = (rb["wall_s"] - rb["fixed_s"]) / rb["counties"]
                run.row(f"P3s {label}: s/county at {nc} vs {rb['counties']}", fmt(per_c), fmt(per_b),
                        f"{per_c / per_b:.2f}x", "measured (issue 23)", None)
            results[executor].setdefault("per_county_s", {})[str(nc)] = per_c
    P3S_DETAIL.update(night=NIGHT.isoformat(), results=results)
    shutil.rmtree(gen, ignore_errors=True)
