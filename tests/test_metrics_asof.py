"""As of any day: every mart from history, the dated series, and what a refresh recomputes (and what it leaves)."""

from __future__ import annotations

import datetime as dt

from conftest import query
from metrics_fixtures import finding, insp, org, round_, world  # noqa: F401

from xuncha import registry
from xuncha.metrics import marts as metrics
from xuncha.orchestration import nightly

AS_OF_MARTS = ("coverage", "rounds_per_year", "rectification", "rectification_overdue", "satisfaction_by_org",
               "satisfaction", "clue_disposal", "clue_ageing", "outcomes", "term_headline")
REPORT_UNITS = sorted({metrics._report_unit(registry.default(), c.code).code for c in registry.default().counties})


def county_night(w, code, day, n_findings=1, **extra):
    """A night of county `code`: an organisation, a round on `day` inspecting it, and findings."""
    tag = day.replace("-", "")
    w.night(code, day, org_units=[org(f"{code}-O{tag}", at=day)], rounds=[round_(f"{code}-R{tag}", day)],
            inspections=[insp(f"{code}-I{tag}", f"{code}-R{tag}", f"{code}-O{tag}", day)],
            findings=[finding(f"{code}-F{tag}-{i}", f"{code}-I{tag}", day) for i in range(n_findings)], **extra)


def headline(w, scope="unit"):
    """(as_of, county_code, rounds, findings) of mart.term_headline."""
    return [(r[0], r[2], r[6], r[8]) for r in w.mart("term_headline", scope=scope)]


def stamp(w):
    query(w.url, "UPDATE mart.term_headline SET refreshed_at = '2000-01-01'")


def redone(w):
    return query(w.url, """SELECT as_of::text, scope, county_code FROM mart.term_headline
                            WHERE refreshed_at > '2000-01-01' ORDER BY 1, 2, 3""")


def test_every_mart_is_empty_on_a_day_before_any_data_and_the_series_says_it_was_computed(world):
    county_night(world, "410325", "2018-01-10")
    world.refresh("2017-12-31", "2018-01-10")
    for table in AS_OF_MARTS:
        assert world.mart(table, "2017-12-31") == [], table
    assert world.mart("term_headline", "2018-01-10", scope="unit") == [
        ("2018-01-10", "unit", "410325", 11, "嵩县", ["410325"], 1, 1, 1, 0, 0, 0, 0, 0, "0.00")]
    logged = query(world.url, "SELECT as_of::text, county_code FROM mart.refresh_log ORDER BY 1, 2")
    assert logged == [(day, u) for day in ("2017-12-31", "2018-01-10") for u in REPORT_UNITS]


def test_a_row_counts_from_its_version_and_until_a_full_snapshot_withdraws_it(world):
    county_night(world, "410325", "2018-01-10", n_findings=3)
    kept = finding("410325-F20180110-0", "410325-I20180110", "2018-01-10")
    world.night("410325", "2018-03-01", mode="full", findings=[kept])     # withdrawn the next morning, 01:00
    world.refresh("2018-01-09", "2018-01-10", "2018-03-01", "2018-03-02")
    assert headline(world) == [("2018-01-10", "410325", 1, 3), ("2018-03-01", "410325", 1, 3), ("2018-03-02", "410325", 1, 1)]


def test_the_nightly_refresh_takes_the_new_business_dates_of_the_counties_it_is_given(world):
    county_night(world, "410325", "2018-01-10")
    county_night(world, "410323", "2018-01-10")
    # every mart, one file per table, in refresh order (satisfaction and its ledger after the satisfaction_by_org
    # they read)
    assert metrics.refresh(world.url) == ["clue_ageing", "clue_disposal", "coverage", "findings_by_category", "freshness",
                                         "ledger_clues", "ledger_outcomes", "ledger_rectification", "satisfaction_by_org",
                                         "ledger_satisfaction", "ledger_uninspected", "outcomes", "rectification",
                                         "rectification_overdue", "rounds_per_year", "satisfaction", "term_headline"]
    assert headline(world) == [("2018-01-10", "410323", 1, 1), ("2018-01-10", "410325", 1, 1)]
    stamp(world)
    county_night(world, "410325", "2018-02-01")
    county_night(world, "410325", "2018-02-02", n_findings=2)
    county_night(world, "410323", "2018-02-02")                      # loaded, but not in this refresh's event
    # a load whose asset event reached no marts run is still pending: the refresh at the night's end covers it, not
    # one mid-night (a county still loading is loaded in part)
    assert metrics.pending_counties(world.url) == ["410323", "410325"]
    assert nightly.changed_counties([{"counties": ["410325"]}], ["410323"]) == ["410325"]
    assert nightly.changed_counties([{"counties": ["410325"]}, nightly.NIGHT_ENDED], ["410323"]) == ["410323", "410325"]
    assert nightly.changed_counties([], ["410323"]) is None          # by hand: every county
    metrics.refresh(world.url, ["410325"])                           # the DAG's call
    assert metrics.pending_counties(world.url) == ["410323"]
    assert headline(world) == [("2018-01-10", "410323", 1, 1), ("2018-01-10", "410325", 1, 1),
                               ("2018-02-01", "410325", 2, 2), ("2018-02-02", "410325", 3, 4)]
    assert redone(world) == [("2018-02-01", "city_total", "410300"), ("2018-02-01", "unit", "410325"),
                             ("2018-02-02", "city_total", "410300"), ("2018-02-02", "unit", "410325")]
    # the whole city is always complete for its day, whoever was refreshed
    assert headline(world, "city_total") == [("2018-01-10", "410300", 2, 2), ("2018-02-01", "410300", 3, 3),
                                             ("2018-02-02", "410300", 5, 6)]
    stamp(world)
    metrics.refresh(world.url, ["410323"])                           # 410323's new night is still pending for it
    assert metrics.pending_counties(world.url) == []
    assert redone(world) == [("2018-02-02", "city_total", "410300"), ("2018-02-02", "unit", "410323")]
    stamp(world)
    metrics.refresh(world.url, ["410325"])                           # nothing new: its latest night is redone
    assert redone(world) == [("2018-02-02", "city_total", "410300"), ("2018-02-02", "unit", "410325")]


def test_ensure_computes_only_the_units_a_day_lacks_and_a_full_refresh_redoes_the_series(world):
    county_night(world, "410325", "2018-01-10")
    county_night(world, "410323", "2018-01-10")
    world.refresh("2018-01-10", counties=["410325"])
    assert headline(world) == [("2018-01-10", "410325", 1, 1)]
    stamp(world)
    metrics.ensure(world.url, dt.date(2018, 1, 10))
    assert redone(world) == [("2018-01-10", "city_total", "410300"), ("2018-01-10", "unit", "410323")]
    stamp(world)
    assert metrics.ensure(world.url, dt.date(2018, 1, 10)) == []
    assert redone(world) == []
    # a late night's pass took 410323's lists of the day, and 410325 is to be computed again: both get them back
    query(world.url, "UPDATE mart.refresh_log SET lists = false WHERE as_of = '2018-01-10' AND county_code = '410323'")
    query(world.url, "DELETE FROM mart.refresh_log WHERE as_of = '2018-01-10' AND county_code = '410325'")
    assert metrics.ensure(world.url, dt.date(2018, 1, 10))
    assert query(world.url, "SELECT county_code FROM mart.refresh_log WHERE as_of = '2018-01-10' AND NOT lists") == []
    world.refresh("2018-01-31", counties=["410323"])
    query(world.url, "UPDATE mart.term_headline SET findings = 99")
    metrics.refresh(world.url, full=True)
    assert headline(world) == [("2018-01-10", "410323", 1, 1), ("2018-01-10", "410325", 1, 1),
                               ("2018-01-31", "410323", 1, 1), ("2018-01-31", "410325", 1, 1)]


def test_a_county_refresh_on_a_new_day_takes_quiet_units_from_their_last_day_and_computes_the_others(world):
    county_night(world, "410325", "2018-01-10")
    county_night(world, "410323", "2018-01-10")
    county_night(world, "410329", "2018-01-10")
    # 410329's round of 2018-01-10 plans a second one that starts on 2018-02-02: its headline changes that day
    world.night("410329", "2018-01-11", rounds=[round_("410329-R-PLANNED", "2018-02-02", at="2018-01-11")])
    metrics.refresh(world.url)
    county_night(world, "410325", "2018-02-03", n_findings=2)
    metrics.refresh(world.url, ["410325"])
    # 410323 is quiet since 2018-01-10 and 410329 since its horizon, 2018-02-02: the whole city of 2018-02-03
    # equals a recomputation of every unit, and their rows are not stored for that day (not refreshed)
    incremental = world.mart("term_headline", "2018-02-03", scope="city_total")
    assert headline(world, "city_total")[-1] == ("2018-02-03", "410300", 5, 5)
    assert [r[2] for r in world.mart("term_headline", "2018-02-03", scope="unit")] == ["410325"]
    metrics.refresh(world.url, dates=[dt.date(2018, 2, 3)])
    assert [r[:6] + r[7:] for r in world.mart("term_headline", "2018-02-03", scope="city_total")] == \
        [r[:6] + r[7:] for r in incremental]
    # a unit whose rows change after the day it was last computed is computed, not carried: a refresh of
    # 2018-02-01 (before 410329's planned round) then one of a new day after it, for 410325 only
    query(world.url, "DELETE FROM mart.refresh_log WHERE as_of > '2018-01-10'")
    query(world.url, "DELETE FROM mart.term_headline WHERE as_of > '2018-01-10'")
    metrics.refresh(world.url, ["410325"], dates=[dt.date(2018, 2, 1)])
    assert headline(world, "city_total")[-1] == ("2018-02-01", "410300", 3, 3)
    metrics.refresh(world.url, ["410325"], dates=[dt.date(2018, 2, 2)])
    assert headline(world, "city_total")[-1] == ("2018-02-02", "410300", 4, 3)
    # a late correction of 410323, dated before its last computed day, changes its rows but not its horizon
    world.night("410323", "2018-02-05", findings=[finding("410323-F-LATE", "410323-I20180110", "2018-01-05", at="2018-01-06")])
    metrics.refresh(world.url, ["410325"], dates=[dt.date(2018, 2, 6)])
    assert headline(world, "city_total")[-1] == ("2018-02-06", "410300", 5, 6)
