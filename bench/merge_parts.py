"""Where the merge's time goes: the parts of sql/load/merge.sql timed one by one on the same staged file.

    .venv/bin/python bench/merge_parts.py [ROWS]     (default 1,000,000; own XUNCHA_HOME under /tmp, stopped after)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    home = Path(tempfile.mkdtemp(prefix="xb-m-", dir="/tmp"))
    import run

    run.setup_env(home)
    from gen import write_findings_export
    from xuncha import db, embedded, loading, migrate, parsing
    from xuncha.spec import load_spec

    try:
        url = db.warehouse_url()
        migrate.migrate(url)
        d, _ = write_findings_export(home / "x", "410302", "m", n)
        entity = load_spec().entity("findings")
        out = {}
        with db.connect(url, autocommit=True) as conn, conn.cursor() as cur:
            t = time.perf_counter()
            parsing.stage_file(conn, 1, entity, d / "findings.csv", "csv", "utf-8")
            out["COPY into unlogged staging"] = time.perf_counter() - t
            staging = parsing.staging_table(1, "findings").as_string(conn)
            cur.execute(f"ANALYZE {staging}")
            full = loading.render("merge.sql", entity, staging)
            src = full.split("WITH src AS (", 1)[1].split("),\nmatched AS", 1)[0]
            steps = [
                ("DISTINCT ON + casts (src CTE)", f"CREATE TEMP TABLE s AS {src}"),
                ("INSERT core (PK index)", "INSERT INTO core.findings SELECT '410303', finding_id, inspection_id, category, "
                                           "found_date, summary, updated_at, NULL, 1 FROM s"),
                ("INSERT history (2 indexes)", "INSERT INTO history.findings SELECT *, 'insert', now() FROM core.findings "
                                               "WHERE county_code = '410303'"),
            ]
            for label, sql in steps:
                t = time.perf_counter()
                cur.execute(sql)
                out[label] = time.perf_counter() - t
            t = time.perf_counter()
            cur.execute("BEGIN")
            loading.merge(cur, entity, staging, "410302", ("410302",), 1)
            cur.execute("COMMIT")
            out["merge.sql as the loader runs it (new county)"] = time.perf_counter() - t
            t = time.perf_counter()
            cur.execute("BEGIN")
            loading.merge(cur, entity, staging, "410302", ("410302",), 1)
            cur.execute("COMMIT")
            out["merge.sql again (re-sent: all unchanged)"] = time.perf_counter() - t
        for k, v in out.items():
            print(f"  {k:<48} {v:7.2f} s  {n / v:>12,.0f} rows/s")
    finally:
        embedded.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
