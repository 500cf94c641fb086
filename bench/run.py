"""Xuncha benchmarks: ratios measured side by side in one run (not tests; `make bench`, `make bench-quick`).

    .venv/bin/python bench/run.py [--quick] [--only p1,p2,p3,p3s,import,p3t,p4,p5] [--profile] [--keep] [--p3s-cases units:local,...]

Every run uses its own XUNCHA_HOME under /tmp (own embedded PostgreSQL), stopped and deleted at the end
(--keep leaves it). Each figure is printed as a row: name, measured, baseline, ratio, target, met
(bench_rows.py). P1 also loads its file with dlt in dlt's own venv (p1_dlt.py); P3 is fanout.py, P3s
fanout_scheduler.py, the DAG file's import time import_time.py, P3t catchup_scheduler.py, P4 marts_scale.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
OUT = BENCH / "out"

import p1_dlt  # noqa: E402  (bench/ modules, after the path above)
from bench_rows import ROWS, fmt, row  # noqa: E402
from marts_scale import P4_DETAIL, p4  # noqa: E402

PHASES: dict[str, float] = {}


# --------------------------------------------------------------------------------------------------- setup

def setup_env(home: Path) -> None:
    os.environ["XUNCHA_HOME"] = str(home)
    for var in ("WAREHOUSE_URL", "AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW_CONN_XUNCHA_WAREHOUSE",
                "XUNCHA_PGDATA", "XUNCHA_LANDING", "XUNCHA_ARCHIVE", "XUNCHA_QUARANTINE"):
        os.environ.pop(var, None)
    os.environ.setdefault("XUNCHA_PERSON_KEY", "bench-person-key-0123456789abcdef")
    os.environ["GX_ANALYTICS_ENABLED"] = "False"


def timed_phases():
    """Wrap the pipeline's steps with timers (monkeypatching in this process only; no source is edited)."""
    from xuncha.load import merge as loading
    from xuncha.normalize import parsing
    from xuncha.load import publish
    from xuncha.normalize import staging
    from xuncha.normalize import typed
    from xuncha.validate import validation

    def wrap(owner, attr, label):
        fn = getattr(owner, attr)

        def inner(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                PHASES[label] = PHASES.get(label, 0.0) + time.perf_counter() - t
        setattr(owner, attr, inner)

    wrap(parsing, "stage_file", "stage (COPY into staging)")
    wrap(typed, "cast_once", "cast once (trim + type)")
    wrap(validation.Validator, "__init__", "GX context setup")
    wrap(validation.Validator, "validate", "GX validate (all entities)")
    wrap(loading, "merge", "merge into core + history")
    wrap(staging.manifest_mod, "check_files", "manifest + SHA-256 check")
    wrap(publish, "publish", "publish txn (merge+commit)")


def ingest(url: str, export_dir: Path, code: str, ingestor=None):
    """One export through the county-night entry point (xuncha.load.county_night.run), as a county DAG's ingest takes it."""
    from xuncha import registry
    from xuncha.load import county_night
    from xuncha.extract import inbox
    from xuncha.load.pipeline import Ingestor

    reg = registry.load()
    night = county_night.run(reg, code, None, url=url, exports=[inbox.receive(export_dir)], move=False,
                             ingestor=ingestor or Ingestor(reg, url, move=False))
    [res] = night.exports
    if res.status != "loaded":
        raise RuntimeError(f"ingest of {export_dir} ended {res.status}: {[str(p) for p in res.problems[:5]]}")
    return res


# ------------------------------------------------------------------------------------------------------ P1

def p1(url: str, work: Path, n: int, sample: int, profile: bool) -> None:
    import psycopg2

    from gen import write_findings_export
    from xuncha.warehouse import db

    print(f"\nP1 load throughput: {n:,} findings", flush=True)
    t = time.perf_counter()
    d, size = write_findings_export(work / "p1", "410302", "bench-p1", n)
    print(f"  export written: {size / 1e6:.0f} MB in {time.perf_counter() - t:.1f} s", flush=True)
    csv_path = d / "findings.csv"

    # (a) raw COPY of the same file into a bare (logged, typed, index-free) table.
    with contextlib.closing(psycopg2.connect(db.dsn(url))) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS public.bench_copy; CREATE TABLE public.bench_copy (finding_id text, "
                    "inspection_id text, category text, found_date date, summary text, updated_at timestamptz)")
        conn.commit()
        t = time.perf_counter()
        with csv_path.open("rb") as fh:
            cur.copy_expert("COPY public.bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)", fh, size=1 << 18)
        conn.commit()
        t_copy = time.perf_counter() - t
        cur.execute("DROP TABLE public.bench_copy")
        conn.commit()
    copy_rps = n / t_copy

    # (b) pandas to_sql(method="multi") of the same rows (a sample, scaled: rows/s is what is compared).
    import pandas as pd
    import sqlalchemy

    m = min(n, sample)
    df = pd.read_csv(csv_path, nrows=m, dtype=str, keep_default_na=False)
    engine = sqlalchemy.create_engine(db.owner_url())
    t = time.perf_counter()
    df.to_sql("bench_tosql", engine, schema="public", if_exists="replace", index=False, method="multi", chunksize=2000)
    t_tosql = time.perf_counter() - t
    with engine.begin() as c:
        c.execute(sqlalchemy.text("DROP TABLE public.bench_tosql"))
    engine.dispose()
    tosql_rps = m / t_tosql

    # (c) the pipeline end to end: parse → GX validate → stage → merge into core + history.
    #     cold: a new Ingestor (pays GX's import and context, as each Airflow task process does once);
    #     warm: an Ingestor whose GX context is already built (a task's second export, a catch-up).
    from xuncha import registry
    from xuncha.load.pipeline import Ingestor

    runs = {}
    for label, code in (("cold", "410302"), ("warm", "410305")):
        ex = d if label == "cold" else write_findings_export(work / "p1", code, "bench-p1", n)[0]
        ingestor = Ingestor(registry.default(), url, move=False)
        if label == "warm":
            ingest(url, write_findings_export(work / "p1", code, "bench-p1-warmup", 10, n_inspections=2)[0], code, ingestor)
        PHASES.clear()
        prof = None
        if profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t = time.perf_counter()
        ingest(url, ex, code, ingestor)
        t_e2e = time.perf_counter() - t
        if prof:
            prof.disable()
            import io
            import pstats

            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(40)
            OUT.mkdir(exist_ok=True)
            (OUT / f"p1_profile_{label}_{n}.txt").write_text(s.getvalue(), encoding="utf-8")
        runs[label] = {"seconds": t_e2e, "phases": dict(PHASES)}
        print(f"  end-to-end ({label}): {t_e2e:.2f} s", flush=True)
        for k, v in sorted(PHASES.items(), key=lambda kv: -kv[1]):
            print(f"    phase {k:<32} {v:7.2f} s  ({100 * v / t_e2e:4.1f}%)")
    print(f"  raw COPY {t_copy:.2f} s; to_sql {t_tosql:.2f} s for {m:,} rows{' (sample; rows/s scaled)' if m < n else ''}", flush=True)
    for label in ("cold", "warm"):
        rps = n / runs[label]["seconds"]
        row(f"P1 e2e {label} vs raw COPY (rows/s)", fmt(rps), fmt(copy_rps), f"{rps / copy_rps:.2f}x", ">= 0.5x", rps / copy_rps >= 0.5)
        row(f"P1 e2e {label} vs to_sql multi (rows/s){' *' if m < n else ''}", fmt(rps), fmt(tosql_rps),
            f"{rps / tosql_rps:.1f}x", ">= 10x", rps / tosql_rps >= 10)
    P1_DETAIL.update(n=n, sample=m, t_copy=t_copy, t_tosql=t_tosql, runs=runs, mb=size / 1e6)
    # (d) dlt loading the same file into the same server (its own venv; issue 16).
    p1_dlt.compare(url, csv_path, n, sample, n / runs["warm"]["seconds"], work / "dlt")


P1_DETAIL: dict = {}


# ------------------------------------------------------------------------------------------------------ P2

def _child_ingest(export_dir: str, code: str) -> None:
    """Child process body: one ingest; prints its own VmHWM (peak RSS) and time as JSON."""
    from xuncha.warehouse import db

    t = time.perf_counter()
    ingest(db.warehouse_url(), Path(export_dir), code)
    hwm = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    print(json.dumps({"seconds": time.perf_counter() - t, "vmhwm_kb": hwm}))


def p2(work: Path, small_mb: int, large_mb: int) -> None:
    from gen import chars_for_row_bytes, write_findings_export

    print(f"\nP2 memory: {small_mb} MB vs {large_mb} MB export (ingest in a child process)", flush=True)
    row_bytes = 1900
    chars = chars_for_row_bytes(row_bytes)
    results = {}
    for label, mb, code in (("small", small_mb, "410303"), ("large", large_mb, "410304")):
        n = mb * 1_000_000 // (row_bytes - 10) + 1  # rows are ~1,896 bytes: land just above `mb`
        t = time.perf_counter()
        d, size = write_findings_export(work / "p2", code, f"bench-p2-{label}", n, summary_chars=chars)
        print(f"  {label}: {size / 1e6:,.0f} MB, {n:,} findings, written in {time.perf_counter() - t:.1f} s", flush=True)
        proc = subprocess.Popen([sys.executable, str(Path(__file__)), "_child", str(d), code],
                                stdout=subprocess.PIPE, env=os.environ.copy())
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise RuntimeError(f"child ingest failed ({proc.returncode})")
        info = json.loads(out.decode().strip().splitlines()[-1])
        results[label] = {"mb": size / 1e6, "rows": n, "maxrss_mb": usage.ru_maxrss / 1024,
                          "vmhwm_mb": info["vmhwm_kb"] / 1024, "seconds": info["seconds"]}
        print(f"    peak RSS {usage.ru_maxrss / 1024:.0f} MB (ru_maxrss), VmHWM {info['vmhwm_kb'] / 1024:.0f} MB, "
              f"{info['seconds']:.1f} s, {n / info['seconds']:,.0f} rows/s, {size / 1e6 / info['seconds']:.0f} MB/s", flush=True)
        shutil.rmtree(d)
    s, l = results["small"], results["large"]
    # VmHWM is the child's own peak after exec. wait4's ru_maxrss also counts the pre-exec image (the forked
    # copy of this parent process), so it grows with the parent's heap and is printed for reference only.
    row(f"P2 peak RSS (VmHWM), {l['mb']:,.0f} MB export (MB)", fmt(l["vmhwm_mb"]), "512", f"{l['vmhwm_mb'] / 512:.2f}x", "<= 512 MB", l["vmhwm_mb"] <= 512)
    growth = l["vmhwm_mb"] / s["vmhwm_mb"]
    row(f"P2 flat: VmHWM {l['mb']:,.0f} MB vs {s['mb']:,.0f} MB export", fmt(l["vmhwm_mb"]), fmt(s["vmhwm_mb"]),
        f"{growth:.3f}x", "<= 1.10x", growth <= 1.10)
    P2_DETAIL.update(results)


P2_DETAIL: dict = {}


# ---------------------------------------------------------------------------------------------------- main

def machine() -> dict:
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    return {"nproc": os.cpu_count(), "memory": f"{int(mem.split()[1]) // 1024:,} MB", "cpu": cpu}


def main() -> int:
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # Without .pyc files every import recompiles (GX alone: ~5 s of compile()). A deployment writes them on
        # first import; so do we, into a private cache outside the tree.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.setdefault("PYTHONPYCACHEPREFIX", "/tmp/xuncha-bench-pycache")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child_ingest(sys.argv[2], sys.argv[3])
        return 0
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes (CI smoke)")
    ap.add_argument("--only", default="p1,p2,p3,p3s,import,p3t,p4,p5",
                    help="p3s: P3 under the real scheduler (Local and Celery); import: the county DAG file's import at "
                         "1,000 DAGs (issue 23); p3t: the seed term's catch-up under it; p5: one small export through "
                         "`xuncha ingest`")
    ap.add_argument("--profile", action="store_true", help="cProfile the P1 ingest (bench/out/)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary XUNCHA_HOME and its server")
    ap.add_argument("--rows", type=int, help="P1 findings (default 1,000,000; quick 50,000)")
    ap.add_argument("--p4-findings", type=int)
    ap.add_argument("--timeout", type=int, default=900, help="statement timeout of a mart refresh, seconds")
    ap.add_argument("--p3s-cases", help="P3s cases to run, e.g. units:local,synth:local (default: units and synth, "
                                        "each on local and celery)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    from fanout import P3_DETAIL, p3
    from catchup_scheduler import P3T_DETAIL, p3_catchup
    from fanout_scheduler import P3S_DETAIL, p3_scheduler
    from small import P5_DETAIL, p5
    home = Path(tempfile.mkdtemp(prefix="xb-", dir="/tmp"))
    setup_env(home)
    from xuncha.warehouse import db
    from xuncha.warehouse import embedded
    from xuncha.warehouse import migrate

    timed_phases()
    started = time.time()
    # Warm the bytecode cache (as a deployment's first run would), outside the measurements.
    subprocess.run([sys.executable, "-c", "import great_expectations, pandas, xuncha.load.pipeline, xuncha.validate.validation"], check=True)
    try:
        url = db.owner_url()
        migrate.migrate(url)
        with db.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT version()")
            pg = cur.fetchone()[0].split(" on ")[0]
        info = machine() | {"postgres": pg, "mode": "quick" if args.quick else "full", "home": str(home)}
        print(f"machine: {info}", flush=True)
        print(f"  {'name':<44} {'measured':>16} {'baseline':>16} {'ratio':>8} {'target':>22} met")
        work = home / "exports"
        if "p1" in only:
            p1(url, work, args.rows or (50_000 if args.quick else 1_000_000), 50_000 if args.quick else 100_000, args.profile)
        if "p2" in only:
            p2(work, *((20, 200) if args.quick else (200, 2000)))
        if "p3" in only:
            p3(work, args.quick)
        if "p3s" in only:
            p3_scheduler(work, args.quick, set(args.p3s_cases.split(",")) if args.p3s_cases else None)
        if "import" in only:
            import import_time

            import_time.bench_row()
        if "p3t" in only:
            p3_catchup(work, args.quick)
        if "p4" in only:
            p4(url, args.p4_findings or (500_000 if args.quick else 10_000_000),
               (args.p4_findings or (500_000 if args.quick else 10_000_000)) // 10, args.timeout)
        if "p5" in only:
            p5(work)
        print(f"\n{'name':<50} {'measured':>14} {'baseline':>14} {'ratio':>8} {'target':>12} met")
        for r in ROWS:
            print(f"{r['name']:<50} {r['measured']:>14} {r['baseline']:>14} {r['ratio']:>8} {r['target']:>12} {r['met']}")
        OUT.mkdir(exist_ok=True)
        (OUT / f"results-{info['mode']}.json").write_text(json.dumps(
            {"machine": info, "seconds": time.time() - started, "rows": ROWS, "p1": P1_DETAIL, "p2": P2_DETAIL, "p3": P3_DETAIL, "p3s": P3S_DETAIL, "p3t": P3T_DETAIL, "p4": P4_DETAIL,
             "p1_dlt": p1_dlt.DETAIL, "p5": P5_DETAIL},
            ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return 0
    finally:
        if not args.keep:
            embedded.stop()
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
