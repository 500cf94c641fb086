"""P1 against dlt (issue 16): the same findings CSV loaded by dlt 1.31 into the same PostgreSQL server, same run.

dlt is not a product dependency: it lives in its own venv, `.venv-bench-dlt` (`make bench-dlt`, pinned with
hashes in bench/requirements-dlt.txt), and each case runs there as a subprocess (bench/dlt_load.py), which
times itself and prints one JSON line. Cases, rows/s compared with Xuncha's warm end-to-end run:

- Arrow merge on the key (`write_disposition="merge"`, `primary_key`): the target, Xuncha >= 2x its rows/s;
- merge from plain row dicts, timed on the first `sample` rows (at 1 M rows it takes about 100 s): info;
- Arrow append (no key, no merge): info.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bench_rows import fmt, row

BENCH = Path(__file__).resolve().parent
VENV_PYTHON = BENCH.parent / ".venv-bench-dlt" / "bin" / "python"
TARGET = 2.0            # Xuncha's warm rows/s over dlt's Arrow merge (issue 16)
DETAIL: dict = {}


def conn_of(url: str) -> dict:
    """The login parts dlt_load.py takes (database, username, password, host or socket folder, port) from a
    SQLAlchemy URL such as the embedded server's `postgresql+psycopg2://postgres:@/xuncha?host=/tmp/…`."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return {"database": u.database, "username": u.username, "password": u.password or "",
            "host": u.host or u.query.get("host"), "port": u.port}


def run_case(case: str, csv_path: Path, rows: int, conn: dict, work: Path, timeout_s: int = 1800) -> dict:
    """One dlt load (`case` of dlt_load.CASES, the file's first `rows` rows) in the dlt venv; returns its JSON.
    Raises RuntimeError with the tail of its stderr if it fails, or if the table does not hold the rows loaded."""
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(DLT_DATA_DIR=str(work), RUNTIME__DLTHUB_TELEMETRY="false", RUNTIME__LOG_LEVEL="WARNING")
    proc = subprocess.run([str(VENV_PYTHON), str(BENCH / "dlt_load.py"), "--case", case, "--csv", str(csv_path),
                           "--rows", str(rows), "--conn", json.dumps(conn), "--pipelines-dir", str(work)],
                          cwd=work, env=env, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode:
        raise RuntimeError(f"dlt {case} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if res["loaded_rows"] != res["expected_rows"]:
        raise RuntimeError(f"dlt {case}: the table holds {res['loaded_rows']:,} rows, expected {res['expected_rows']:,}")
    return res


def compare(url: str, csv_path: Path, n: int, sample: int, warm_rps: float, work: Path) -> None:
    """Run the three dlt cases on `csv_path` (n rows; dict merge on min(n, sample)) against the server at `url`
    and print their rows against Xuncha's warm rows/s. Without the venv, or if a case fails, its row says so
    and is NOT met (the Arrow merge) or not measured."""
    print(f"\nP1 vs dlt (its own venv, {VENV_PYTHON.parent.parent.name}): the same file, the same server", flush=True)
    cases = (("arrow-merge", n), ("dict-merge", min(n, sample)), ("arrow-append", n))
    results: dict[str, dict] = {}
    for case, rows in cases:
        if not VENV_PYTHON.exists():
            results[case] = {"error": f"{VENV_PYTHON} missing: run `make bench-dlt`"}
        else:
            try:
                results[case] = run_case(case, csv_path, rows, conn_of(url), work / case)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                results[case] = {"error": str(exc)}
        r = results[case]
        if "error" in r:
            print(f"  dlt {case}: NOT MEASURED: {r['error']}", flush=True)
            continue
        ph = ", ".join(f"{k} {v:.2f}" for k, v in r["phases"].items())
        print(f"  dlt {case}: {r['rows']:,} rows in {r['seconds']:.2f} s, {r['rows_per_s']:,.0f} rows/s "
              f"(phases, s: {ph}; files: {'+'.join(r['file_formats'])}; dlt {r['dlt']}, pyarrow {r['pyarrow']})", flush=True)

    def vs(case: str, name: str, target: str, met_of):
        r = results[case]
        if "error" in r:
            row(f"{name} (NOT MEASURED)", "-", "-", "-", target, False if met_of else None)
            return
        ratio = warm_rps / r["rows_per_s"]
        row(name, fmt(warm_rps), fmt(r["rows_per_s"]), f"{ratio:.2f}x", target, met_of(ratio) if met_of else None)

    m = min(n, sample)
    vs("arrow-merge", "P1 e2e warm vs dlt Arrow merge (rows/s)", f">= {TARGET:g}x", lambda x: x >= TARGET)
    vs("dict-merge", f"P1 e2e warm vs dlt dict merge (rows/s){' *' if m < n else ''}", "-", None)
    vs("arrow-append", "P1 e2e warm vs dlt Arrow append (rows/s)", "-", None)
    if m < n and "error" not in results["dict-merge"]:
        print(f"  * dlt's dict merge was timed on the file's first {m:,} rows; rows/s compared", flush=True)
    DETAIL.update(n=n, sample=m, warm_rps=warm_rps, cases=results)
