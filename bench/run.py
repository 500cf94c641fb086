"""Xuncha benchmarks: ratios measured side by side in one run (not tests; `make bench`, `make bench-quick`).

    .venv/bin/python bench/run.py [--quick] [--only p1,p2,p3,p3s,p3t,p4] [--profile] [--keep]

Every run uses its own XUNCHA_HOME under /tmp (own embedded PostgreSQL), stopped and deleted at the end
(--keep leaves it). Each figure is printed as a row: name, measured, baseline, ratio, target, met.
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

ROWS: list[dict] = []
PHASES: dict[str, float] = {}


def row(name, measured, baseline, ratio, target, met, unit=""):
    r = {"name": name, "measured": measured, "baseline": baseline, "ratio": ratio, "target": target,
         "met": "met" if met else "NOT met", "unit": unit}
    ROWS.append(r)
    print(f"  {name:<44} {measured:>16} {baseline:>16} {ratio:>8} {target:>22} {r['met']}", flush=True)


def fmt(x, unit=""):
    return f"{x:,.0f}{unit}" if abs(x) >= 100 else f"{x:,.2f}{unit}"


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
    from xuncha import loading, parsing, publish, staging, validation

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
    wrap(validation.Validator, "__init__", "GX context setup")
    wrap(validation.Validator, "validate", "GX validate (all entities)")
    wrap(loading, "merge", "merge into core + history")
    wrap(staging.manifest_mod, "check_files", "manifest + SHA-256 check")
    wrap(publish, "publish", "publish txn (merge+commit)")


def ingest(url: str, export_dir: Path, code: str, ingestor=None):
    """One export through the county-night entry point (xuncha.county_night.run), as the nightly DAG takes it."""
    from xuncha import county_night, inbox, registry
    from xuncha.pipeline import Ingestor

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
    from xuncha import db

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
    from xuncha.pipeline import Ingestor

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


P1_DETAIL: dict = {}


# ------------------------------------------------------------------------------------------------------ P2

def _child_ingest(export_dir: str, code: str) -> None:
    """Child process body: one ingest; prints its own VmHWM (peak RSS) and time as JSON."""
    from xuncha import db

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


# ------------------------------------------------------------------------------------------------------ P4

GEN_SQL = """
CREATE TEMP TABLE bc AS
SELECT code, row_number() OVER (ORDER BY code) AS k FROM unnest(%(codes)s::text[]) code;
INSERT INTO audit.batches (export_id, county_code, business_date, mode, source, status, declared_rows, loaded_rows, finished_at)
SELECT 'bench-bulk', code, DATE '2024-06-01', 'full', 'bench/run.py', 'loaded', 0, 0, now() FROM bc;
CREATE TEMP TABLE bb AS SELECT county_code AS code, batch_id FROM audit.batches WHERE export_id = 'bench-bulk';
INSERT INTO audit.batch_files (batch_id, entity, path, format, declared_rows, staged_rows, inserted_rows, updated_rows, unchanged_rows, withdrawn_rows)
SELECT batch_id, e, e || '.csv', 'csv', 1, 1, 1, 0, 0, 0 FROM bb, unnest(ARRAY['org_units','rounds','inspections','findings','clues']) e;

INSERT INTO core.org_units
SELECT bb.code, bb.code || '-BO' || g, '组织' || g, (ARRAY['dept','township','village','community','soe','school','hospital','other'])[1 + g %% 8],
       NULL, DATE '2016-10-01', NULL, TIMESTAMPTZ '2017-01-01 20:00+08', NULL, bb.batch_id
FROM bb, generate_series(0, %(insp)s - 1) g;
INSERT INTO core.rounds
SELECT bb.code, bb.code || '-BR' || g, 1 + g / 10 + 10, 1 + g, 'regular', DATE '2017-01-02' + g * 50, DATE '2017-03-01' + g * 50,
       TIMESTAMPTZ '2017-01-02 20:00+08' + g * interval '50 days', NULL, bb.batch_id
FROM bb, generate_series(0, %(rounds)s - 1) g;
INSERT INTO core.inspections
SELECT bb.code, bb.code || '-BI' || g, bb.code || '-BR' || (g %% %(rounds)s), bb.code || '-BO' || g, NULL, '第' || (1 + g %% 9) || '巡察组',
       DATE '2017-01-09' + (g %% %(rounds)s) * 50, DATE '2017-02-20' + (g %% %(rounds)s) * 50, DATE '2017-04-01' + (g %% %(rounds)s) * 50,
       TIMESTAMPTZ '2017-01-09 20:00+08' + (g %% %(rounds)s) * interval '50 days', NULL, bb.batch_id
FROM bb, generate_series(0, %(insp)s - 1) g;
INSERT INTO core.findings
SELECT bb.code, bb.code || '-BF' || g, bb.code || '-BI' || (g %% %(insp)s), (ARRAY['SL1','SL2','SL3','SL4','SJ1','SJ2','SJ3','OT'])[1 + g %% 8],
       DATE '2017-01-20' + (g %% %(insp)s %% %(rounds)s) * 50, '发现问题摘要 ' || g || '：落实“两个责任”不力',
       TIMESTAMPTZ '2017-01-20 20:00+08' + (g %% %(insp)s %% %(rounds)s) * interval '50 days', NULL, bb.batch_id
FROM bb, generate_series(0, %(findings)s - 1) g;
INSERT INTO core.clues
SELECT bb.code, bb.code || '-BC' || g, bb.code || '-BI' || (g %% %(insp)s), (ARRAY['discipline','organisation','other'])[1 + g %% 3],
       DATE '2017-02-01' + (g %% %(insp)s %% %(rounds)s) * 50,
       CASE WHEN g %% 2 = 0 THEN (ARRAY['talk_letter','preliminary_check','shelved','closed_no_action','case_filed'])[1 + g %% 5] END,
       CASE WHEN g %% 2 = 0 THEN DATE '2017-05-01' + (g %% %(insp)s %% %(rounds)s) * 50 END,
       TIMESTAMPTZ '2017-02-01 20:00+08' + (g %% %(insp)s %% %(rounds)s) * interval '50 days', NULL, bb.batch_id
FROM bb, generate_series(0, %(clues)s - 1) g;
"""
HISTORY_TABLES = ("org_units", "rounds", "inspections", "findings", "clues")


def _timing_connect(log: list, timeout_s: int):
    """db.connect for metrics.refresh with per-statement timings and a statement timeout."""
    import psycopg2.extensions

    from xuncha import db

    real = db.connect

    class Cur(psycopg2.extensions.cursor):
        def execute(self, query, vars=None):
            t = time.perf_counter()
            try:
                return super().execute(query, vars)
            finally:
                text = query if isinstance(query, str) else str(query)
                head = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("--")), "")
                log.append((time.perf_counter() - t, head[:90], text))

    @contextlib.contextmanager
    def connect(url=None, autocommit=False):
        with real(url, autocommit) as conn:
            conn.cursor_factory = Cur
            with conn.cursor() as c:
                c.execute(f"SET statement_timeout = '{timeout_s}s'")
            yield conn
    return connect


def p4(url: str, findings: int, clues: int, timeout_s: int) -> None:
    from xuncha import db, metrics, registry

    day = __import__("datetime").date(2024, 6, 1)
    codes = [c.code for c in registry.default().active(day)]
    nc = len(codes)
    print(f"\nP4 marts at scale: {findings:,} findings, {clues:,} clues over {nc} county systems", flush=True)
    params = {"codes": codes, "findings": findings // nc, "clues": clues // nc, "insp": 1000, "rounds": 40}
    t = time.perf_counter()
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT core.add_county(c) FROM unnest(%s::text[]) c", (codes,))   # as the loader does
        for tbl in HISTORY_TABLES:
            cur.execute(f"DROP INDEX IF EXISTS history.{tbl}_by_batch")
        cur.execute(GEN_SQL, params)
        for tbl in HISTORY_TABLES:   # fresh inserts write no history (issue 16): history holds superseded versions
            cur.execute(f"CREATE INDEX {tbl}_by_batch ON history.{tbl} USING brin (batch_id) WITH (autosummarize = on)")
    with db.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("SELECT count(*) FROM core.findings WHERE county_code = ANY(%s)", (codes,))
        nf = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM core.clues WHERE county_code = ANY(%s)", (codes,))
        ncl = cur.fetchone()[0]
    print(f"  generated {nf:,} findings, {ncl:,} clues (core; history empty) in {time.perf_counter() - t:.0f} s", flush=True)

    log: list = []
    real_connect = metrics.db.connect
    metrics.db.connect = _timing_connect(log, timeout_s)
    try:
        t = time.perf_counter()
        full_err = None
        try:
            metrics.refresh(url)
        except Exception as exc:  # a mart being rewritten may be broken: measure what works and say so
            full_err = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        t_full = time.perf_counter() - t
        full_log = list(log)
        print(f"  full refresh: {t_full:.1f} s{'  FAILED: ' + full_err if full_err else ''}", flush=True)
        _print_log(full_log)

        # One county's delta night: 10,000 findings changed, 1,000 clues closed, as the loader would record them.
        code = "410302"
        with real_connect(url) as conn, conn.cursor() as cur:
            cur.execute("""INSERT INTO audit.batches (export_id, county_code, business_date, mode, source, status, finished_at)
                           VALUES ('bench-delta', %s, DATE '2024-06-02', 'delta', 'bench/run.py', 'loaded', now()) RETURNING batch_id""", (code,))
            bid = cur.fetchone()[0]
            cur.execute("""INSERT INTO audit.batch_files (batch_id, entity, path, format, inserted_rows, updated_rows)
                           VALUES (%s, 'findings', 'findings.csv', 'csv', 0, 10000), (%s, 'clues', 'clues.csv', 'csv', 0, 1000)""", (bid, bid))
            cur.execute("""WITH u AS (UPDATE core.findings SET category = 'OT', updated_at = TIMESTAMPTZ '2024-06-02 20:00+08', batch_id = %(b)s
                                      WHERE county_code = %(c)s AND finding_id IN (SELECT %(c)s || '-BF' || g FROM generate_series(0, 9999) g)
                                      RETURNING old.*)
                           INSERT INTO history.findings SELECT *, 'insert', now() FROM u""", {"b": bid, "c": code})
            cur.execute("""WITH u AS (UPDATE core.clues SET disposal_method = 'case_filed', closed_date = DATE '2024-06-02',
                                             updated_at = TIMESTAMPTZ '2024-06-02 20:00+08', batch_id = %(b)s
                                      WHERE county_code = %(c)s AND clue_id IN (SELECT %(c)s || '-BC' || g FROM generate_series(1, 1999, 2) g)
                                      RETURNING old.*)
                           INSERT INTO history.clues SELECT *, 'insert', now() FROM u""", {"b": bid, "c": code})
        log.clear()
        t = time.perf_counter()
        inc_err = None
        try:
            metrics.refresh(url, counties=[code])
        except Exception as exc:
            inc_err = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        t_inc = time.perf_counter() - t
        inc_log = list(log)
        print(f"  incremental refresh ({code}, one delta night): {t_inc:.1f} s{'  FAILED: ' + inc_err if inc_err else ''}", flush=True)
        _print_log(inc_log)
    finally:
        metrics.db.connect = real_connect
    note = " (FAILED)" if full_err else ""
    row(f"P4 full mart refresh, {nf / 1e6:.0f}M findings (s){note}", fmt(t_full), "30", f"{t_full / 30:.2f}x", "<= 30 s",
        t_full <= 30 and not full_err)
    row(f"P4 incremental vs full (s){' (FAILED)' if inc_err or full_err else ''}", fmt(t_inc), fmt(t_full),
        f"{t_inc / t_full:.3f}x", "<= 0.10x", t_inc / t_full <= 0.10 and not (inc_err or full_err))
    P4_DETAIL.update(t_full=t_full, t_inc=t_inc, full_err=full_err, inc_err=inc_err, findings=nf, clues=ncl,
                     full_log=[(round(s, 2), h) for s, h, _ in full_log], inc_log=[(round(s, 2), h) for s, h, _ in inc_log])


P4_DETAIL: dict = {}


def _print_log(log) -> None:
    from xuncha import metrics

    names = {p.read_text(encoding="utf-8"): p.stem for p in metrics.mart_files()}
    agg: dict[str, float] = {}
    for s, head, text in log:
        key = names.get(text, head)
        agg[key] = agg.get(key, 0.0) + s
    for k, v in sorted(agg.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {v:7.2f} s  {k}")


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
    ap.add_argument("--only", default="p1,p2,p3,p3s,p3t,p4",
                    help="p3s: P3 under the real scheduler (Local and Celery); p3t: the seed term's catch-up under it")
    ap.add_argument("--profile", action="store_true", help="cProfile the P1 ingest (bench/out/)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary XUNCHA_HOME and its server")
    ap.add_argument("--rows", type=int, help="P1 findings (default 1,000,000; quick 50,000)")
    ap.add_argument("--p4-findings", type=int)
    ap.add_argument("--timeout", type=int, default=900, help="statement timeout of a mart refresh, seconds")
    args = ap.parse_args()
    only = set(args.only.split(","))
    from fanout import P3_DETAIL, p3
    from catchup_scheduler import P3T_DETAIL, p3_catchup
    from fanout_scheduler import P3S_DETAIL, p3_scheduler
    home = Path(tempfile.mkdtemp(prefix="xb-", dir="/tmp"))
    setup_env(home)
    from xuncha import db, embedded, migrate

    timed_phases()
    started = time.time()
    # Warm the bytecode cache (as a deployment's first run would), outside the measurements.
    subprocess.run([sys.executable, "-c", "import great_expectations, pandas, xuncha.pipeline, xuncha.validation"], check=True)
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
            p3_scheduler(work, args.quick)
        if "p3t" in only:
            p3_catchup(work, args.quick)
        if "p4" in only:
            p4(url, args.p4_findings or (500_000 if args.quick else 10_000_000),
               (args.p4_findings or (500_000 if args.quick else 10_000_000)) // 10, args.timeout)
        print(f"\n{'name':<50} {'measured':>14} {'baseline':>14} {'ratio':>8} {'target':>12} met")
        for r in ROWS:
            print(f"{r['name']:<50} {r['measured']:>14} {r['baseline']:>14} {r['ratio']:>8} {r['target']:>12} {r['met']}")
        OUT.mkdir(exist_ok=True)
        (OUT / f"results-{info['mode']}.json").write_text(json.dumps(
            {"machine": info, "seconds": time.time() - started, "rows": ROWS, "p1": P1_DETAIL, "p2": P2_DETAIL, "p3": P3_DETAIL, "p3s": P3S_DETAIL, "p3t": P3T_DETAIL, "p4": P4_DETAIL},
            ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return 0
    finally:
        if not args.keep:
            embedded.stop()
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
