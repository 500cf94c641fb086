"""Where the merge's time goes: the parts of sql/load/merge.sql timed one by one on the same staged file, then
the merge as the loader runs it (new rows, an unchanged re-send, a mixed re-send with 10% newer rows), side by
side with merge.sql as it was at a git revision, alternating so that load on the machine hits both alike.

    .venv/bin/python bench/merge_parts.py [ROWS] [--baseline REV] [--rounds N] [--lineage N]

ROWS defaults to 1,000,000. --baseline (e.g. HEAD~3) adds that revision's merge.sql; --rounds repeats the
pair; --lineage N merges as a county whose lineage has N codes (the predecessors hold no rows); --migrations
DIR builds the warehouse from another directory of migrations. Runs on its
own XUNCHA_HOME under /tmp and stops its PostgreSQL after.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent


def _renderer(rev: str | None):
    """render(entity, staging, lineage_size) for merge.sql now (rev None) or at a git revision."""
    from xuncha.load import merge as loading

    if rev is None:
        return lambda entity, staging, n: loading.render("merge.sql", entity, staging, n)
    import jinja2

    from xuncha.normalize import typed

    text = subprocess.run(["git", "show", f"{rev}:sql/load/merge.sql"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    tpl = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(text)

    def render(entity, staging, n):
        # A revision since cast once (issue 16) reads the typed copies; an older one casts the staged text itself.
        cast = typed.merge_value if "typed" in text else (lambda c: c.type_info.cast(c.name))
        columns = [{"name": c.name, "cast": cast(c)} for c in entity.columns]
        return tpl.render(entity=entity.name, table=entity.name, key=entity.key, staging=staging, columns=columns,
                          names=", ".join(entity.column_names), lineage_size=n,
                          counted_from=loading.COUNTED_FROM.get(entity.name))
    return render


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--baseline", help="git revision whose merge.sql to time alongside the current one")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--lineage", type=int, default=1)
    ap.add_argument("--migrations", type=Path, help="apply the migrations of this directory (default sql/migrations)")
    args = ap.parse_args()
    n = args.rows
    home = Path(tempfile.mkdtemp(prefix="xb-m-", dir="/tmp"))
    import run

    run.setup_env(home)
    from gen import write_findings_export
    from xuncha.warehouse import db
    from xuncha.warehouse import embedded
    from xuncha.warehouse import migrate
    from xuncha.normalize import parsing
    from xuncha.normalize import typed
    from xuncha.spec import load_spec

    try:
        url = db.owner_url()
        migrate.migrate(url, args.migrations or migrate.MIGRATIONS_DIR)
        d, _ = write_findings_export(home / "x", "410302", "m", n)
        entity = load_spec().entity("findings")
        out = {}
        with db.connect(url, autocommit=True) as conn, conn.cursor() as cur:
            t = time.perf_counter()
            parsing.stage_file(conn, 1, entity, d / "findings.csv", "csv", "utf-8")
            out["COPY into unlogged staging"] = time.perf_counter() - t
            staging = parsing.staging_table(1, "findings").as_string(conn)
            t = time.perf_counter()
            typed.cast_once(cur, staging, entity)   # as staging.stage_export does (cast once, issue 16)
            out["trim + type once (typed.cast_once)"] = time.perf_counter() - t
            # The same file re-sent a day later with every 10th row changed (newer updated_at).
            mixed = parsing.staging_table(2, "findings").as_string(conn)
            cur.execute(f"CREATE UNLOGGED TABLE {mixed} AS SELECT * FROM {staging}")
            cur.execute(f"UPDATE {mixed} SET summary = summary || '*', "
                        f"updated_at = (updated_at::timestamptz + interval '1 day')::text, "
                        f"updated_at__typed = updated_at__typed + interval '1 day' WHERE row_no % 10 = 0")
            # GX has read every staged row before the merge runs, so hint bits are set: do the same here.
            cur.execute(f"VACUUM ANALYZE {staging}")
            cur.execute(f"VACUUM ANALYZE {mixed}")
            cur.execute("SELECT pg_get_indexdef('history.findings_by_batch'::regclass)")
            batch_index = {"current": cur.fetchone()[0]}
            src = None
            if args.baseline:
                src = _renderer(args.baseline)(entity, staging, 1).split("WITH src AS (", 1)[1].split("\n),\n", 1)[0]
            steps = [
                ("INSERT core (PK index)", "INSERT INTO core.findings SELECT '410399', finding_id, inspection_id, category, "
                                           "found_date, summary, updated_at, NULL, 1 FROM s"),
                # what every new row cost before issue 16 (history now gets superseded versions only)
                ("INSERT history (2 indexes; pre-issue-16)", "INSERT INTO history.findings SELECT *, 'insert', now() "
                                                             "FROM core.findings WHERE county_code = '410399'"),
            ]
            if src:
                steps.insert(0, ("DISTINCT ON + casts (old src CTE)", f"CREATE TEMP TABLE s AS {src}"))
            else:
                cols = ", ".join(f"{typed.merge_value(c)} AS {c.name}" for c in entity.columns)
                steps.insert(0, ("DISTINCT ON + casts (src)", f"CREATE TEMP TABLE s AS SELECT DISTINCT ON ({entity.key}) "
                                 f"{cols} FROM {staging} ORDER BY {entity.key}, updated_at DESC, row_no DESC"))
            for label, sql in steps:
                t = time.perf_counter()
                cur.execute(sql)
                out[label] = time.perf_counter() - t
            cur.execute("DROP TABLE s")
            for k, v in out.items():
                print(f"  {k:<48} {v:7.2f} s  {n / v:>12,.0f} rows/s", flush=True)

            variants = [("current", _renderer(None))]
            if args.baseline:
                variants.insert(0, (f"at {args.baseline}", _renderer(args.baseline)))
                # history's batch_id index as it was before migration 0012 (a btree), for a baseline without 0012
                if subprocess.run(["git", "cat-file", "-e", f"{args.baseline}:sql/migrations/0012_history_batch_brin.sql"],
                                  cwd=ROOT, capture_output=True).returncode:
                    batch_index[f"at {args.baseline}"] = ("CREATE INDEX findings_by_batch ON history.findings "
                                                          "USING btree (batch_id)")
                else:
                    batch_index[f"at {args.baseline}"] = batch_index["current"]
            on = batch_index["current"]
            cur.execute("SELECT to_regproc('core.add_county') IS NOT NULL")  # migration 0014
            partitioned = cur.fetchone()[0]
            county = 410500
            for r in range(args.rounds):
                for name, render in (variants if r % 2 == 0 else variants[::-1]):
                    if batch_index[name] != on:  # untimed: the index the variant had
                        on = batch_index[name]
                        cur.execute(f"DROP INDEX history.findings_by_batch; {on}")
                    county += 1
                    code = str(county)
                    lineage = (code, *(str(900000 + county * 10 + i) for i in range(1, args.lineage)))
                    if partitioned:  # the county's partitions, as the loader makes them before it publishes
                        cur.execute("SELECT core.add_county(c) FROM unnest(%s::text[]) c", (list(lineage),))
                    for case, table in (("new rows", staging), ("unchanged re-send", staging),
                                        ("mixed re-send (10% newer)", mixed)):
                        cur.execute("SELECT pg_current_wal_insert_lsn(), (SELECT count(*) FROM history.findings)")
                        lsn, hist = cur.fetchone()
                        cur.execute("BEGIN")
                        t = time.perf_counter()
                        cur.execute(render(entity, table, len(lineage)),
                                    {"county": code, "lineage": list(lineage), "batch_id": county})
                        counts = cur.fetchone()
                        dt = time.perf_counter() - t
                        cur.execute("COMMIT")
                        # WAL written and history rows added: what the merge wrote, whatever else runs on the machine
                        cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s), "
                                    "(SELECT count(*) FROM history.findings) - %s", (lsn, hist))
                        wal, added = cur.fetchone()
                        print(f"  round {r + 1} {name:<14} {case:<27} {dt:7.2f} s  {n / dt:>10,.0f} rows/s  "
                              f"WAL {float(wal) / 1e6:6.1f} MB  history +{added:,}  (staged, inserted, updated) = {tuple(counts)}",
                              flush=True)
                    cur.execute("CHECKPOINT")
    finally:
        embedded.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
