"""The 2021 division code changes: 孟津县 410322 + 吉利区 410306 → 孟津区 410308, reported as one unit across 2021.

410322 (2017): organisations M1 (village), M2 (dept); round R1 inspects M1; finding MF1; clue MC1; a sanction
               (1,000.00).
410306 (2018): organisation J1 (township); round R1 inspects J1; finding JF1.
410308 (2021, the successor system, continuing both): a new organisation N1; its round R1 inspects M2 and J1
               again; it closes 410322's clue MC1 (the row stays the one 410322 delivered).
"""

from __future__ import annotations

from conftest import query
from metrics_fixtures import clue, finding, insp, org, outcome, round_, shared_world

SOURCES = ["410306", "410308", "410322"]


def build(w):
    w.night("410322", "2017-05-01", org_units=[org("410322-M1", at="2017-05-01"), org("410322-M2", "dept", at="2017-05-01")],
            rounds=[round_("410322-R1", "2017-05-01")], inspections=[insp("410322-I1", "410322-R1", "410322-M1", "2017-05-01")])
    w.night("410322", "2017-05-20", findings=[finding("410322-MF1", "410322-I1", "2017-05-20")],
            clues=[clue("410322-MC1", "410322-I1", "2017-05-20")])
    w.night("410322", "2017-09-01", case_outcomes=[outcome("410322-MD1", "410322-MC1", "sanction", "2017-09-01", amount="1000")])
    w.night("410306", "2018-03-01", org_units=[org("410306-J1", "township", at="2018-03-01")],
            rounds=[round_("410306-R1", "2018-03-01")], inspections=[insp("410306-I1", "410306-R1", "410306-J1", "2018-03-01")],
            findings=[finding("410306-JF1", "410306-I1", "2018-03-01")])
    w.night("410308", "2021-03-01", org_units=[org("410308-N1", "dept", since="2021-03-01", at="2021-03-01"),
                                               org("410322-M2", "dept", at="2021-03-01", name="孟津区某局")])
    w.night("410308", "2021-04-01", rounds=[round_("410308-R1", "2021-04-01")],
            inspections=[insp("410308-I1", "410308-R1", "410322-M2", "2021-04-01"),
                         insp("410308-I2", "410308-R1", "410306-J1", "2021-04-01")])
    w.night("410308", "2021-04-10", clues=[clue("410322-MC1", "410322-I1", "2017-05-20", "talk_letter", "2021-04-10")])


loaded, world = shared_world(build)


def test_one_reporting_unit_across_the_change_without_double_counting(world):
    world.refresh("2020-12-31", "2021-06-30")
    assert world.mart("term_headline", scope="unit") == [
        ("2020-12-31", "unit", "410308", 11, "孟津区", SOURCES, 2, 2, 2, 1, 1, 0, 0, 0, "1000.00"),
        # J1, inspected before and after the change, is one organisation; MC1, updated by 410308, one clue
        ("2021-06-30", "unit", "410308", 11, "孟津区", SOURCES, 3, 3, 2, 1, 1, 0, 0, 0, "1000.00"),
    ]
    assert [r[6:] for r in world.mart("term_headline", scope="city_total")] == [
        (2, 2, 2, 1, 1, 0, 0, 0, "1000.00"), (3, 3, 2, 1, 1, 0, 0, 0, "1000.00")]
    assert query(world.url, "SELECT county_code, clue_id, closed_date::text FROM core.clues") == [
        ("410322", "410322-MC1", "2021-04-10")]


def test_a_term_spanning_the_change_reports_coverage_of_every_predecessors_organisations(world):
    world.refresh("2020-12-31", "2021-06-30")
    assert world.mart("coverage") == [
        ("2020-12-31", "410308", 11, "all", 3, 2, "0.6667", False),
        ("2020-12-31", "410308", 11, "dept", 1, 0, "0.0000", False),
        ("2020-12-31", "410308", 11, "township", 1, 1, "1.0000", True),
        ("2020-12-31", "410308", 11, "village", 1, 1, "1.0000", True),
        ("2021-06-30", "410308", 11, "all", 4, 3, "0.7500", False),   # N1 new, M2 now covered by 孟津区
        ("2021-06-30", "410308", 11, "dept", 2, 1, "0.5000", False),
        ("2021-06-30", "410308", 11, "township", 1, 1, "1.0000", True),
        ("2021-06-30", "410308", 11, "village", 1, 1, "1.0000", True),
    ]
    assert world.mart("clue_disposal") == [
        ("2020-12-31", "410308", 1, 0, "0.0000", 1, 0, 1, 0, 1, False, "2017-05-20", 3, 180),
        ("2021-06-30", "410308", 1, 1, "1.0000", 0, 0, 0, 0, 0, True, None, 3, 180),
    ]


def test_no_mart_reports_an_old_code_and_a_refresh_by_old_code_recomputes_the_successor(world):
    world.refresh("2021-06-30", counties=["410322"])
    rows = query(world.url, """SELECT DISTINCT county_code FROM (
        SELECT county_code FROM mart.coverage UNION ALL SELECT county_code FROM mart.rounds_per_year
        UNION ALL SELECT county_code FROM mart.clue_disposal UNION ALL SELECT county_code FROM mart.outcomes
        UNION ALL SELECT county_code FROM mart.term_headline WHERE scope = 'unit') x""")
    assert rows == [("410308",)]
    assert world.mart("rounds_per_year") == [
        ("2021-06-30", "410308", year, "county", n, n, 0, 0, 0, 0, 0, 0, 4, 5, False, year < 2021)
        for year, n in ((2017, 1), (2018, 1), (2019, 0), (2020, 0), (2021, 1))]
    assert query(world.url, "SELECT source_code, report_code FROM mart.county_crosswalk WHERE source_code <> report_code "
                            "ORDER BY 1") == [("410306", "410308"), ("410322", "410308"), ("410381", "410307")]
