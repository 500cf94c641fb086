"""巡察覆盖率 (mart.coverage), hand-computed, through real exports and the real pipeline.

嵩县 410325, term 11 (2016-10-01 .. 2021-09-30):
  O1 village   in scope all term          inspected in regular round R1 (2017)      covered
  O2 village   leaves the scope 2018-06-30, never inspected                        in scope, not covered
  O3 dept      in scope all term          inspected only in revisit round R2 (2018) not covered (回头看)
  O4 township  in scope all term          inspected by the CITY, escalated round    covered, for 嵩县
  O5 school    left the scope 2016-09-30, before the term                          not in scope
  O6 dept      enters the scope 2019-05-01, never inspected                        in scope from 2019
洛阳市 410300: C1 dept, inspected in the city's regular round.
"""

from __future__ import annotations

import dataclasses

from metrics_fixtures import insp, org, round_, shared_world

from xuncha.metrics import config as metrics_config

COLUMNS = ("as_of", "county_code", "term_no", "org_type", "orgs_in_scope", "orgs_covered", "coverage_rate", "full_coverage")


def build(w):
    w.night("410325", "2017-01-05", org_units=[
        org("410325-O1"), org("410325-O2"), org("410325-O3", "dept"), org("410325-O4", "township"),
        org("410325-O5", "school", since="2015-01-01", to="2016-09-30")])
    w.night("410300", "2017-01-05", org_units=[org("410300-O1", "dept")])
    w.night("410325", "2017-03-01", rounds=[round_("410325-R1", "2017-03-01")],
            inspections=[insp("410325-I1", "410325-R1", "410325-O1", "2017-03-01")])
    w.night("410300", "2017-04-01", rounds=[round_("410300-R1", "2017-04-01")],
            inspections=[insp("410300-I1", "410300-R1", "410300-O1", "2017-04-01")])
    w.night("410300", "2017-09-01", rounds=[round_("410300-R2", "2017-09-01", "escalated", no=2)],
            inspections=[insp("410300-I2", "410300-R2", "410325-O4", "2017-09-01", owner="410325")])
    w.night("410325", "2018-03-01", rounds=[round_("410325-R2", "2018-03-01", "revisit", no=2)],
            inspections=[insp("410325-I2", "410325-R2", "410325-O3", "2018-03-01")])
    w.night("410325", "2018-07-01", org_units=[org("410325-O2", to="2018-06-30", at="2018-07-01")])
    w.night("410325", "2019-05-01", org_units=[org("410325-O6", "dept", since="2019-05-01", at="2019-05-01")])


loaded, world = shared_world(build)


def test_coverage_counts_the_term_scope_and_only_rounds_that_count(world):
    world.refresh("2017-12-31", "2019-12-31")
    assert world.columns("coverage") == COLUMNS
    assert world.mart("coverage") == [
        ("2017-12-31", "410300", 11, "all", 1, 1, "1.0000", True),
        ("2017-12-31", "410300", 11, "dept", 1, 1, "1.0000", True),
        ("2017-12-31", "410325", 11, "all", 4, 2, "0.5000", False),
        ("2017-12-31", "410325", 11, "dept", 1, 0, "0.0000", False),
        ("2017-12-31", "410325", 11, "township", 1, 1, "1.0000", True),   # the city's escalated inspection
        ("2017-12-31", "410325", 11, "village", 2, 1, "0.5000", False),
        ("2019-12-31", "410300", 11, "all", 1, 1, "1.0000", True),
        ("2019-12-31", "410300", 11, "dept", 1, 1, "1.0000", True),
        ("2019-12-31", "410325", 11, "all", 5, 2, "0.4000", False),       # O6 joined; O2 left but was in scope
        ("2019-12-31", "410325", 11, "dept", 2, 0, "0.0000", False),      # O3 only seen by a revisit round
        ("2019-12-31", "410325", 11, "township", 1, 1, "1.0000", True),
        ("2019-12-31", "410325", 11, "village", 2, 1, "0.5000", False),
    ]


def test_which_round_types_count_is_configuration(world):
    cfg = metrics_config.load()
    with_revisit = dataclasses.replace(cfg, coverage_round_types=cfg.coverage_round_types + ("revisit",))
    world.refresh("2019-12-31", config=with_revisit)
    assert world.mart("coverage", county_code="410325") == [
        ("2019-12-31", "410325", 11, "all", 5, 3, "0.6000", False),
        ("2019-12-31", "410325", 11, "dept", 2, 1, "0.5000", False),
        ("2019-12-31", "410325", 11, "township", 1, 1, "1.0000", True),
        ("2019-12-31", "410325", 11, "village", 2, 1, "0.5000", False),
    ]


def test_a_county_refreshed_alone_still_sees_the_citys_inspection_of_its_organisation(world):
    world.refresh("2017-12-31", counties=["410325"])
    assert world.mart("coverage", county_code="410325", org_type="township") == [
        ("2017-12-31", "410325", 11, "township", 1, 1, "1.0000", True)]
    # the city is linked to 嵩县 by that inspection, so its rows are recomputed too
    assert [r[:2] for r in world.mart("coverage", org_type="all")] == [("2017-12-31", "410300"), ("2017-12-31", "410325")]
