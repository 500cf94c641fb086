"""One dlt load of P1's findings CSV into PostgreSQL, timed inside this process (the dlt rows of `make bench`).

Runs in the benchmark's own venv (`.venv-bench-dlt`, pinned by bench/requirements-dlt.txt), never in the
product's: bench/p1_dlt.py starts it as a subprocess, once per case, and reads the one JSON line it prints.

    .venv-bench-dlt/bin/python bench/dlt_load.py --case arrow-merge --csv findings.csv --rows N \
        --conn '{"database": "xuncha", "username": "postgres", "password": "", "host": "/tmp/…/pgdata"}' \
        --pipelines-dir DIR

Cases (issue 16):
- `arrow-merge`: the file read by pyarrow.csv into one Arrow table (typed: found_date date32, updated_at
  timestamp[us, UTC], the rest string), yielded as a resource with `write_disposition="merge"`,
  `primary_key="finding_id"` and `dedup_sort` on updated_at (the newest version of a key wins, as in Xuncha's
  merge). dlt 1.31 writes Arrow data for postgres as CSV and COPYs it into a staging dataset, then merges
  (delete-insert) into the table; with the ADBC driver installed it would use Parquet instead (not installed).
- `dict-merge`: the same merge from plain row dicts (csv.DictReader), what most dlt users write; the two
  date/time columns are typed by column hints. dlt normalises each row in Python (insert_values files).
- `arrow-append`: the Arrow table with `write_disposition="append"`: no staging, no merge.

Each case first loads the file's first 10 rows (untimed) so the dataset's tables exist and dlt is imported,
as Xuncha's warm P1 run has its tables and its GX context. The timed part is reading the file (`--rows` rows
of it) plus `pipeline.run` (extract, normalise, load). Output, one JSON line on stdout: case, rows,
seconds, rows_per_s, the phases (read, extract, normalize, load; seconds), loaded_rows (counted in the
table afterwards) and expected_rows (rows, plus the 10 warm-up rows when appending), file_formats (what dlt loaded) and the versions. The dataset is dropped afterwards.
Errors: any dlt or database error ends the process non-zero with its traceback on stderr.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
import time

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt  # noqa: E402
import psycopg2  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
from dlt.destinations import postgres  # noqa: E402

COLUMN_TYPES = {"finding_id": pa.string(), "inspection_id": pa.string(), "category": pa.string(),
                "found_date": pa.date32(), "summary": pa.string(), "updated_at": pa.timestamp("us", tz="UTC")}
HINTS = {"found_date": {"data_type": "date"}, "updated_at": {"data_type": "timestamp", "dedup_sort": "desc"}}
CASES = ("arrow-merge", "dict-merge", "arrow-append")


def read_arrow(path: str, rows: int) -> pa.Table:
    """The CSV as one typed Arrow table (COLUMN_TYPES), cut to its first `rows` rows."""
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=COLUMN_TYPES))
    return table.slice(0, rows) if rows < table.num_rows else table


def read_dicts(path: str, rows: int) -> list[dict]:
    """The CSV's first `rows` rows as dicts of strings (csv.DictReader), as a dlt user's generator yields them."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(itertools.islice(csv.DictReader(fh), rows))


def resource(case: str, data):
    """The dlt resource `findings` of a case: merge on finding_id (newest updated_at wins) or append."""
    merge = case.endswith("merge")
    return dlt.resource(data, name="findings", write_disposition="merge" if merge else "append",
                        primary_key="finding_id" if merge else None, columns=HINTS)


def load(case: str, csv_path: str, rows: int, conn: dict, pipelines_dir: str) -> dict:
    """Warm-up load of 10 rows, then the timed load of `rows` rows; returns the figures (see the module doc)."""
    dataset = "bench_dlt_" + case.replace("-", "_")
    dest = postgres(credentials={"database": conn["database"], "username": conn["username"],
                                 "password": conn.get("password") or "", "host": "localhost",
                                 "port": int(conn.get("port") or 5432), "query": {"host": conn["host"]}})
    pipe = dlt.pipeline(pipeline_name=f"xuncha_bench_{dataset}", destination=dest, dataset_name=dataset,
                        pipelines_dir=pipelines_dir, dev_mode=False)
    reader = read_arrow if case.startswith("arrow") else read_dicts
    pipe.run(resource(case, reader(csv_path, 10)))

    t0 = time.perf_counter()
    data = reader(csv_path, rows)
    n = len(data)
    t_read = time.perf_counter() - t0
    info = pipe.run(resource(case, data))
    seconds = time.perf_counter() - t0

    phases = {"read": t_read}
    for step in pipe.last_trace.steps:
        if step.step in ("extract", "normalize", "load") and step.finished_at:
            phases[step.step] = (step.finished_at - step.started_at).total_seconds()
    formats = sorted({job.job_file_info.file_format for pkg in info.load_packages
                      for job in pkg.jobs.get("completed_jobs", []) if job.job_file_info.table_name == "findings"})
    with psycopg2.connect(dbname=conn["database"], user=conn["username"], password=conn.get("password") or None,
                          host=conn["host"], port=conn.get("port") or None) as c, c.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {dataset}.findings")
        loaded = cur.fetchone()[0]
        cur.execute(f"DROP SCHEMA IF EXISTS {dataset} CASCADE; DROP SCHEMA IF EXISTS {dataset}_staging CASCADE")
    return {"case": case, "rows": n, "seconds": seconds, "rows_per_s": n / seconds, "phases": phases,
            "loaded_rows": loaded, "expected_rows": n + (0 if case.endswith("merge") else 10), "file_formats": formats, "dlt": dlt.__version__, "pyarrow": pa.__version__}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=CASES, required=True)
    ap.add_argument("--csv", required=True, help="findings.csv of bench/gen.py")
    ap.add_argument("--rows", type=int, required=True, help="rows to load (the file's first N)")
    ap.add_argument("--conn", required=True, help="JSON: database, username, password, host (or socket dir), port")
    ap.add_argument("--pipelines-dir", required=True, help="dlt's working folder (pipeline state, load packages)")
    args = ap.parse_args(argv)
    print(json.dumps(load(args.case, args.csv, args.rows, json.loads(args.conn), args.pipelines_dir)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
