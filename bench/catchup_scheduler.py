"""P3 catch-up under the real scheduler: the whole seed term, every export landed at once, one run per county DAG.

A city going live with its history (export spec: a county system's backlog is a run of nightly exports) lands
every export of the term, then one backfill run of each county's DAG (`xuncha_county_<code>`, longest backlog
first: xuncha.orchestration.backfills.order) for the term's last night takes every export waiting up to that night,
oldest first (xuncha.load.county_night.run), counties in parallel as the pool `xuncha_ingest` lets through; then a
run of `xuncha_night`, whose `night` Asset makes the last marts refresh.

The seed profile (17 systems, 2016-10 … 2021-09, 30,828 exports; quick: its first month) is generated and landed
untimed (嵩县 410325 and 洛宁县 410328 are served over HTTP by a CountyServer and pulled, as in P3), into an empty
warehouse of its own XUNCHA_HOME. xuncha.orchestration.cluster.LocalCluster starts Airflow's services with the LocalExecutor
(parallelism 4). Timed, from server timestamps: the first backfill's POST (created_at) to the end of the last
`xuncha_marts` run. Every export must be `loaded`, and core must hold the generator's row counts.

Baseline: the 22 min of the single-process catch-up (`airflow dags test` of the same run, README "Measured
here", 2026-11-24), which issue 15 asks the scheduler to beat.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

from fanout import TERM_START, _case_env, _child, _settings, _write_config
from fanout_scheduler import _ts, _tick, _wait

BASELINE_S = 22 * 60
P3T_DETAIL: dict = {}


def _land(gen: Path, settings, served: Path, pulled: set[str]) -> tuple[int, dt.date]:
    """Every generated export into the landing area (pulled counties: into what the CountyServer serves);
    the number of exports and the last night."""
    from xuncha.extract import inbox

    n, last = 0, TERM_START
    for unit in sorted(p for p in gen.iterdir() if p.is_dir()):
        dest = (served if unit.name in pulled else settings.landing) / unit.name
        dest.mkdir(parents=True, exist_ok=True)
        for a in inbox.find(unit):
            shutil.copytree(a.path, dest / a.path.name)
            n += 1
            last = max(last, dt.date.fromisoformat(a.night))
    return n, last


def _counts(url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Exports per audit status, and live core rows per entity (withdrawn ones left out, as truth.json counts)."""
    from xuncha.warehouse import db
    from xuncha.spec import ENTITY_ORDER

    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM audit.batches GROUP BY 1")
        statuses = dict(cur.fetchall())
        rows = {}
        for e in ENTITY_ORDER:
            cur.execute(f"SELECT count(*) FROM core.{e} WHERE withdrawn_at IS NULL")
            rows[e] = cur.fetchone()[0]
    return statuses, rows


def p3_catchup(work: Path, quick: bool) -> None:
    """Run the catch-up once and print its row (bench/run.py's `row`)."""
    run = next(m for m in (sys.modules.get("__main__"), sys.modules.get("run")) if m is not None and hasattr(m, "row"))
    from xuncha import registry
    from xuncha.orchestration import env as airflow_env
    from xuncha.orchestration import backfills
    from xuncha.orchestration.nightly import county_dag_id
    from xuncha.warehouse import db
    from xuncha.orchestration.cluster import LocalCluster
    from xuncha_sim.countyserver import CountyServer
    from xuncha_sim.generator import generate

    home, gen = work / "p3t", work / "p3t-seed"
    for d in (home, gen):
        shutil.rmtree(d, ignore_errors=True)
    end = TERM_START + dt.timedelta(days=30) if quick else None
    t = time.perf_counter()
    truth = generate(gen, profile="seed", end=end, progress=False)
    config = home / "config"
    _write_config(config, [])
    env = _case_env(home, config)
    settings = _settings(env)
    reg = registry.load(config / "counties.yml")
    pulled = {c.code for c in reg.counties if c.pulled}
    served = home / "county-systems"
    exports, last = _land(gen, settings, served, pulled)
    print(f"\nP3 catch-up under the real scheduler: {exports:,} exports of the seed term ({TERM_START} … {last}) landed "
          f"in {time.perf_counter() - t:.0f} s (untimed); one run per county DAG for {last}, LocalExecutor x4", flush=True)
    _child(["_setup", str(gen), TERM_START.isoformat()], env)        # migrations, Airflow db, pools; nothing preloaded
    tokens = {code: f"bench-token-{code}" for code in pulled}
    try:
        with CountyServer(served, tokens) as server:
            cenv = dict(env) | {"XUNCHA_GO_LIVE": "2099-01-01", "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "10"}
            for code, token in tokens.items():
                cenv |= airflow_env.county_connection_env(reg.get(code).delivery["http"]["conn_id"], server.url, token)
            dags = [county_dag_id(c) for c in backfills.order(reg, last, last)]
            with LocalCluster(home / "cluster", workers=[], parallelism=4, settings=settings, extra_env=cenv,
                              dag_ids=("xuncha_night", "xuncha_marts", dags[0])) as cluster:
                cluster.api("PATCH", "/api/v2/dags", params={"dag_id_pattern": "xuncha_%"}, json={"is_paused": False})
                made = [cluster.backfill(d, _tick(last), _tick(last)) for d in dags]
                ended = [cluster.wait_backfill(b, timeout=4 * 3600) for b in made]
                done = {"created_at": min(e["created_at"] for e in ended), "completed_at": max(e["completed_at"] for e in ended)}
                night_at = f"{last + dt.timedelta(days=1)}T06:30:00+08:00"
                cluster.backfill("xuncha_night", night_at, night_at)   # go-live 2099: a manual run would skip its tasks
                _wait(cluster, cluster.night_refresh, 1800, "the marts run xuncha_night's `night` Asset triggers")
                marts = _wait(cluster, lambda: (lambda rs: rs if all(r["state"] in ("success", "failed") for r in rs)
                                                else None)(cluster.dag_runs("xuncha_marts")), 1800, "every marts run")
        statuses, rows = _counts(db.warehouse_url(settings))
    finally:
        _child(["_stop"], env)
    wall = (max(_ts(r["end_date"]) for r in marts) - _ts(done["created_at"])).total_seconds()
    nightly_s = (_ts(done["completed_at"]) - _ts(done["created_at"])).total_seconds()
    want = truth["window"].get("row_counts") or truth["row_counts"]
    ok = statuses == {"loaded": exports} and all(r["state"] == "success" for r in marts) and rows == want
    print(f"  {exports:,} exports: trigger → marts {wall:.0f} s (nightly run {nightly_s:.0f} s, {len(marts)} marts runs); "
          f"audit {statuses}; core rows {'= truth.json' if rows == want else f'{rows} != truth.json {want}'}", flush=True)
    if quick:     # a month of the term: shows the run works; the 22 min baseline is the whole term's
        run.row(f"P3t seed catch-up (quick: first month), {exports:,} exports (s)", run.fmt(wall), "-", "-",
                "loads, = truth", ok)
    else:
        run.row(f"P3t seed term catch-up, {exports:,} exports, LocalExecutor x4 (s)", run.fmt(wall), run.fmt(BASELINE_S),
                f"{wall / BASELINE_S:.2f}x", "< 1x (22 min)", ok and wall < BASELINE_S)
    P3T_DETAIL.update(exports=exports, last_night=last.isoformat(), wall_s=wall, nightly_s=nightly_s,
                      marts_runs=len(marts), statuses=statuses, core_rows=rows, truth_rows=want, ok=ok)
    if not ok:
        raise RuntimeError(f"P3t: the catch-up did not load cleanly: {json.dumps(P3T_DETAIL, default=str)}")
    shutil.rmtree(gen, ignore_errors=True)
