"""core.finding_tally (migration 0170): the current findings counted per group, kept by statement triggers on
core.findings, equal to core counted after every kind of write, and the counts the marts take from it equal to the
findings counted row by row, at the edges of a day in Asia/Shanghai. (tests/conftest.py's `clean` also holds the
tally equal to core after every test that loads through the pipeline.)"""

from __future__ import annotations

import datetime as dt

import psycopg2
import pytest
from conftest import TALLY_DRIFT, query

from xuncha.warehouse import db

ROW = "INSERT INTO core.findings VALUES (%s, %s, %s, %s, %s, 'summary', %s, NULL, 1)"


def run(url, *statements):
    with db.connect(url) as conn, conn.cursor() as cur:
        for sql, *params in statements:
            cur.execute(sql, params[0] if params else None)


def tally(url):
    return query(url, "SELECT county_code, inspection_id, category, found_date::text, from_day::text, findings "
                      "FROM core.finding_tally ORDER BY 1, 2, 3, 4, 5")


def test_every_kind_of_write_keeps_the_tally_equal_to_core(clean):
    run(clean, ("SELECT core.add_county('410302'), core.add_county('410305')",),
        *[(ROW, (c, f"{c}-F{i}", f"{c}-I{i % 2}", "SL1" if i < 3 else "SJ2", "2019-03-15",
                 "2019-03-16T23:59:59+08:00" if i % 2 else "2019-03-17T00:00:00+08:00"))
          for c in ("410302", "410305") for i in range(5)])
    assert not query(clean, TALLY_DRIFT)
    # local days: 23:59:59+08 is the 16th, 00:00+08 the 17th (mart.day_end)
    assert ("410302", "410302-I0", "SL1", "2019-03-15", "2019-03-17", 2) in tally(clean)
    assert ("410302", "410302-I1", "SL1", "2019-03-15", "2019-03-16", 1) in tally(clean)
    steps = [
        ("UPDATE core.findings SET category = 'OT', updated_at = '2019-03-18T10:00+08' WHERE finding_id = '410302-F0'",),
        ("UPDATE core.findings SET withdrawn_at = '2019-03-19T10:00+08', batch_id = 2 WHERE finding_id IN ('410302-F1', '410305-F1')",),
        ("UPDATE core.findings SET withdrawn_at = NULL, updated_at = '2019-03-20T10:00+08' WHERE finding_id = '410302-F1'",),
        ("UPDATE core.findings SET summary = 'same groups'",),    # every row rewritten, no group moves
        ("DELETE FROM core.findings WHERE finding_id = '410305-F4'",),
        # the merge's shape: one statement inserting and updating through CTEs
        ("""WITH i AS (INSERT INTO core.findings VALUES ('410305', '410305-F9', '410305-I0', 'SL1', '2019-03-15', 's',
                                                     '2019-03-21T10:00+08', NULL, 3)),
                 u AS (UPDATE core.findings SET inspection_id = '410305-I1' WHERE finding_id = '410305-F0' RETURNING 1)
            SELECT count(*) FROM u""",),
    ]
    for (sql,) in steps:
        run(clean, (sql,))
        assert not query(clean, TALLY_DRIFT), sql
    assert ("410302", "410302-I0", "OT", "2019-03-15", "2019-03-18", 1) in tally(clean)
    assert not [r for r in tally(clean) if r[:5] == ("410305", "410305-I1", "SL1", "2019-03-15", "2019-03-16")], \
        "410305-F1, its group's one finding, is withdrawn"
    assert query(clean, "SELECT count(*) FROM core.finding_tally WHERE findings <= 0") == [(0,)]
    run(clean, ("TRUNCATE core.findings",))
    assert tally(clean) == []


def test_a_count_below_zero_fails_the_writing_statement(clean):
    run(clean, ("SELECT core.add_county('410302')",),
        (ROW, ("410302", "410302-F1", "410302-I1", "SL1", "2019-03-15", "2019-03-16T10:00+08")))
    run(clean, ("DELETE FROM core.finding_tally",))      # a tally that no longer counts core
    with pytest.raises(psycopg2.errors.RaiseException, match="below zero"):
        run(clean, ("DELETE FROM core.findings",))
    assert query(clean, "SELECT count(*) FROM core.findings") == [(1,)], "the statement was rolled back"
    run(clean, ("TRUNCATE core.findings",))    # core and tally empty, equal again for `clean`'s check


def test_the_counts_per_inspection_equal_the_findings_counted_row_by_row(clean):
    stamps = ["2019-03-15T00:00:00+08:00", "2019-03-15T23:59:59.999+08:00", "2019-03-16T00:00:00+08:00",
              "2019-03-16T16:00:00+00:00", "2019-03-20T12:00:00+08:00"]
    rows = [("410302", f"410302-F{i}", f"410302-I{i % 3}", "SL1", f"2019-03-{14 + i % 5}", stamps[i % 5]) for i in range(40)]
    run(clean, ("SELECT core.add_county('410302')",), *[(ROW, r) for r in rows],
        ("UPDATE core.findings SET withdrawn_at = updated_at + interval '1 day' WHERE finding_id LIKE '%7'",))
    days = [dt.date(2019, 3, d) for d in range(13, 23)]
    by_tally = query(clean, "SELECT as_of, inspection_id, findings FROM mart.finding_counts_as_of(%s::date[], %s) "
                            "ORDER BY 1, 2", (days, ["410302"]))
    # the rule the tally stands for, row by row: current, not withdrawn, in force and found by the end of the day
    # (history is empty, so no superseded version is in force)
    by_rows = query(clean, """
        SELECT d, inspection_id, count(*) FROM unnest(%s::date[]) d
          JOIN core.findings c ON c.updated_at < mart.day_end(d) AND c.found_date <= d
         WHERE c.withdrawn_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2""", (days,))
    assert by_tally == by_rows and len(by_rows) > 10
