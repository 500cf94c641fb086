"""The cast pass (xuncha.normalize.typed.cast_once) on a file large enough for PostgreSQL's parallel workers
(issue 26): every value trimmed and typed exactly as staging.trimmed and staging.is_valid define it, and the rows
written in row_no order, the order the suites' "first rows" samples are taken in."""

from __future__ import annotations

import pytest

from xuncha.normalize import typed
from xuncha.spec import load_spec
from xuncha.warehouse import db

TABLE = "staging.cast_once_test"
EXPECTED = "staging.cast_once_expected"
ROWS = 90_000   # about 12 MB of text: above min_parallel_table_scan_size (8 MB)


@pytest.mark.parametrize("autocommit", [True, False])
def test_a_large_file_is_trimmed_typed_and_kept_in_row_order(warehouse, autocommit):
    entity = load_spec().entity("findings")
    with db.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cur.execute(f"CREATE UNLOGGED TABLE {TABLE} (row_no bigint GENERATED ALWAYS AS IDENTITY, "
                    f"{', '.join(c + ' text' for c in entity.column_names)})")
        # Values with white space and invisible characters at the ends, blanks, bad and impossible dates.
        cur.execute(f"""INSERT INTO {TABLE} ({', '.join(entity.column_names)})
            SELECT CASE WHEN g % 7 = 0 THEN E'\\u3000F' || g || ' ' ELSE 'F' || g END,
                   'I' || (g % 300),
                   CASE WHEN g % 11 = 0 THEN '' ELSE E'\\t0' || (g % 9) END,
                   CASE g % 5 WHEN 0 THEN '2019-02-30' WHEN 1 THEN ' 2019-3-5' WHEN 2 THEN E'2019-03-15\\uFEFF'
                              ELSE '2024-06-01' END,
                   repeat('问题摘要', 6) || g || CASE WHEN g % 3 = 0 THEN E'\\u00A0' ELSE '' END,
                   CASE WHEN g % 13 = 0 THEN 'not a time' ELSE '2024-06-01T10:00:00+08:00 ' END
              FROM generate_series(1, {ROWS}) g""")
        cur.execute(f"DROP TABLE IF EXISTS {EXPECTED}")
        cur.execute(f"CREATE TABLE {EXPECTED} AS SELECT row_no, "
                    + ", ".join(f"staging.trimmed({c}) AS {c}" for c in entity.column_names) + f" FROM {TABLE}")
        cur.execute(f"SELECT pg_relation_size('{TABLE}')")
        assert cur.fetchone()[0] > 8 * 1024 * 1024, "the file must be large enough for a parallel scan"
    with db.connect(warehouse, autocommit=autocommit) as conn, conn.cursor() as cur:
        typed.cast_once(cur, TABLE, entity)
        cur.execute("SHOW parallel_tuple_cost")
        assert cur.fetchone()[0] != "0", "the settings of the cast's statement are restored"
    with db.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT row_no FROM {TABLE}")   # physical order: no ORDER BY
        assert [r[0] for r in cur.fetchall()] == list(range(1, ROWS + 1))
        cols = ", ".join(entity.column_names)
        cur.execute(f"SELECT count(*) FROM (SELECT row_no, {cols} FROM {TABLE} EXCEPT ALL "
                    f"SELECT row_no, {cols} FROM {EXPECTED}) d")
        assert cur.fetchone()[0] == 0
        cur.execute(f"""SELECT count(*) FILTER (WHERE found_date__typed IS DISTINCT FROM
                                                 CASE WHEN staging.is_valid(found_date, 'date') THEN found_date::date END),
                               count(*) FILTER (WHERE updated_at__typed IS DISTINCT FROM
                                                 CASE WHEN staging.is_valid(updated_at, 'timestamptz') THEN updated_at::timestamptz END),
                               count(found_date__typed), count(updated_at__typed), count(*) FILTER (WHERE category IS NULL)
                          FROM {TABLE}""")
        wrong_date, wrong_ts, dates, stamps, blank = cur.fetchone()
        assert (wrong_date, wrong_ts) == (0, 0)
        assert 0 < dates < ROWS and 0 < stamps < ROWS and blank > 0
        cur.execute(f"DROP TABLE {TABLE}, {EXPECTED}")


def test_a_large_file_validated_on_both_cores_gives_what_one_core_gives(warehouse, monkeypatch):
    """Issue 26, P1: a large file's row rules run on two connections at once; every outcome (success, counts, and
    the sample: the first failing rows in the file's order) must be what one connection gives. The file breaks rules
    of both kinds (dates, timestamps, person data: row rules; blanks: column checks)."""
    import datetime as dt

    from xuncha.normalize import parsing
    from xuncha.validate import row_rules
    from xuncha.validate.validation import Validator

    entity = load_spec().entity("findings")
    view = "staging.cast_once_test_v"
    with db.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE} CASCADE")
        cur.execute(f"CREATE UNLOGGED TABLE {TABLE} (row_no bigint GENERATED ALWAYS AS IDENTITY, "
                    f"{', '.join(c + ' text' for c in entity.column_names)})")
        cur.execute(f"""INSERT INTO {TABLE} ({', '.join(entity.column_names)})
            SELECT 'F' || g, 'I' || (g % 300), CASE WHEN g % 1009 = 0 THEN '' ELSE '01' END,
                   CASE WHEN g % 997 = 0 THEN '2019-02-30' ELSE '2024-06-01' END,
                   CASE WHEN g % 4999 = 0 THEN '电话13812345678' ELSE repeat('问题摘要', 6) || g END,
                   CASE WHEN g % 1013 = 0 THEN 'not a time' ELSE '2024-06-01T10:00:00+08:00' END
              FROM generate_series(1, {ROWS}) g""")
        typed.cast_once(cur, TABLE, entity)
        bound = dt.datetime(2024, 6, 2, tzinfo=dt.timezone.utc)
        cur.execute(f"CREATE VIEW {view} AS {parsing.validated_relation(7, TABLE, entity, bound)}")
    validator = Validator(warehouse, docs_mode="off")
    both = validator.validate("findings", view, {"findings": view}, ("410302",))
    monkeypatch.setattr(row_rules, "PARALLEL_ROWS", ROWS + 1)
    one = validator.validate("findings", view, {"findings": view}, ("410302",))
    with db.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE {TABLE} CASCADE")
    failed = [o for o in one.outcomes if not o.success]
    assert {o.expectation for o in failed} >= {"unexpected_rows_expectation"} and len(failed) >= 3, failed
    assert all(o.sample for o in failed)
    assert both.outcomes == one.outcomes
