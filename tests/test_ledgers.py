"""The ledgers (台账, sql/marts/ledger_*.sql): the lists behind the figures, counted as the figures count.

World: tests/mart_world.py's 嵩县 410325 over 2018, plus 老城区 410302 with an organisation it never inspects,
an overdue task, a clue open for more than 180 days, a survey below the line and a decision (嵩县's
survey is below the line too). Every ledger's
`explains` (its .yml) is checked on every unit: the list's rows number the figure. County readers see only
their county's rows (row-level security, migration 0040).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import mart_world
import pytest
from conftest import query
from metrics_fixtures import clue, insp, org, outcome, round_, shared_world, survey, task

from xuncha.metrics import dictionary
from xuncha.warehouse import db

AS_OF = dt.date.fromisoformat(mart_world.AS_OF)
LEDGERS = [m for m in dictionary.marts().values() if m.is_ledger]


def build(w):
    mart_world.build(w)
    c = "410302"
    at = "2017-12-20"
    w.night(c, at, org_units=[org(f"{c}-O1", at=at), org(f"{c}-O2", at=at), org(f"{c}-O3", "township", at=at)],
            rounds=[round_(f"{c}-R1", "2017-11-20", at=at)],
            inspections=[insp(f"{c}-I1", f"{c}-R1", f"{c}-O1", "2017-11-25", feedback=at, at=at)],
            clues=[clue(f"{c}-C1", f"{c}-I1", "2017-11-30", at=at)])
    w.night(c, "2018-01-05", rectifications=[task(f"{c}-T1", f"{c}-I1", "2018-03-31", at="2018-01-05"),
                                             task(f"{c}-T2", f"{c}-I1", "2018-12-31", at="2018-01-05")],
            satisfaction_surveys=[survey(f"{c}-S1", f"{c}-I1", "2018-01-05", 10, 5, 1, 4)],
            case_outcomes=[outcome(f"{c}-D1", f"{c}-C1", "sanction", "2018-01-05")])


loaded, world = shared_world(build)


@pytest.fixture
def refreshed(world):
    world.refresh(mart_world.AS_OF)
    return world


def test_every_mart_with_explains_is_a_ledger_of_existing_figures():
    assert {m.name for m in LEDGERS} == {"ledger_uninspected", "ledger_rectification", "ledger_clues",
                                         "ledger_satisfaction", "ledger_outcomes"}
    for m in LEDGERS:
        for e in m.explains:
            target = dictionary.get(e.mart)
            for col in e.by:
                target.column(col), m.column(col)


@pytest.mark.parametrize("ledger", LEDGERS, ids=lambda m: m.name)
def test_each_list_counts_exactly_what_its_figure_says_on_every_unit(refreshed, ledger):
    for e, sql in dictionary.explain_queries(ledger):
        assert query(refreshed.url, sql, {"as_of": AS_OF}) == [], f"{ledger.name}: {e.label} ({e.mart}.{e.figure})"
    assert query(refreshed.url, f"SELECT count(*) > 0 FROM {ledger.table} WHERE as_of = %s",
                 (AS_OF,)) == [(True,)], "the list has rows, so the comparison above compares something"


def test_the_lists_hold_the_rows_a_person_would_write_down(refreshed):
    u = refreshed.url
    assert query(u, """SELECT county_code, org_id FROM mart.ledger_uninspected WHERE as_of = %s
                        ORDER BY 1, 2""", (AS_OF,)) == [("410302", "410302-O2"), ("410302", "410302-O3"),
                                                        ("410325", "410325-O2")]
    # in-scope units − inspected units, as the coverage figure says
    assert query(u, """SELECT county_code, orgs_in_scope - orgs_covered FROM mart.coverage
                        WHERE as_of = %s AND org_type = 'all' ORDER BY 1""", (AS_OF,)) == [("410302", 2), ("410325", 1)]
    assert query(u, """SELECT task_id, days_overdue, export_id, business_date FROM mart.ledger_rectification
                        WHERE as_of = %s AND overdue ORDER BY 1""", (AS_OF,)) == [
        ("410302-T1", 91, "410302-20180105-01", dt.date(2018, 1, 5)), ("T1", 60, "410325-20180301-01", dt.date(2018, 3, 1))]
    assert query(u, """SELECT clue_id, beyond_rule, over_clearance, days_open FROM mart.ledger_clues
                        WHERE as_of = %s AND NOT disposed ORDER BY 1""", (AS_OF,)) == [
        ("410302-C1", True, True, 212), ("410325-C2", True, False, 149)]
    assert query(u, "SELECT org_id, satisfaction_rate FROM mart.ledger_satisfaction WHERE as_of = %s ORDER BY 1",
                 (AS_OF,)) == [("410302-O1", Decimal("0.5000")), ("410325-O1", Decimal("0.6667"))]
    assert query(u, "SELECT outcome_id, term_no, source_code FROM mart.ledger_outcomes WHERE as_of = %s ORDER BY 1",
                 (AS_OF,)) == [("410302-D1", 11, "410302"), ("410325-D1", 11, "410325")]


@pytest.mark.parametrize("ledger", LEDGERS, ids=lambda m: m.name)
def test_the_reader_sees_every_row_and_a_county_reader_only_its_own(refreshed, settings, ledger):
    def seen(url):
        with db.connect(url) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT county_code, count(*) FROM {ledger.table} WHERE as_of = %s GROUP BY 1 ORDER BY 1",
                        (AS_OF,))
            return cur.fetchall()

    everything = query(refreshed.url, f"SELECT county_code, count(*) FROM {ledger.table} WHERE as_of = %s "
                                      "GROUP BY 1 ORDER BY 1", (AS_OF,))
    assert seen(db.reader_url(settings)) == everything
    assert seen(db.reader_url(settings, county="410302")) == [r for r in everything if r[0] == "410302"]
    assert seen(db.reader_url(settings, county="410325")) == [r for r in everything if r[0] == "410325"]
