"""整改满意率 (mart.satisfaction_by_org, mart.satisfaction), hand-computed.

嵩县 410325, round R1: I1 → O1, I2 → O2, I3 → O3; the city's escalated round inspects 嵩县's O4 (CI1).
  S1  I1 2018-06-01  40 answered: 36 satisfied, 3 basically, 1 not   exactly 90%: at the threshold
  S2  I2 2018-06-05  nobody answered                                 no rate, not judged
  S3  I3 2018-06-10  50: 40 / 8 / 2                                  80% (96% with 基本满意)
  S3b I3 2018-09-01  50: 46 / 3 / 1, a re-survey                     92%, replaces S3 from that day
  CS1 CI1 2018-07-01 30: 27 / 2 / 1                                  the city's row, owner 嵩县
"""

from __future__ import annotations

import dataclasses

from metrics_fixtures import insp, org, round_, shared_world, survey

from xuncha.metrics import config as metrics_config

BY_ORG = ("as_of", "county_code", "inspection_id", "term_no", "org_county_code", "org_id", "org_name", "org_type",
          "survey_id", "survey_date", "surveys", "respondents", "satisfied", "basically_satisfied", "dissatisfied",
          "satisfied_count", "satisfaction_rate", "meets_threshold")
ROLLUP = ("as_of", "county_code", "term_no", "orgs_surveyed", "orgs_zero_respondents", "orgs_rated",
          "orgs_meeting_threshold", "threshold_share", "respondents", "satisfied", "basically_satisfied", "dissatisfied",
          "satisfied_count", "satisfaction_rate", "threshold", "basically_counts")


def build(w):
    w.night("410325", "2018-01-10", org_units=[org(f"410325-O{i}", at="2018-01-10") for i in (1, 2, 3, 4)],
            rounds=[round_("410325-R1", "2018-01-10")],
            inspections=[insp(f"410325-I{i}", "410325-R1", f"410325-O{i}", "2018-01-10") for i in (1, 2, 3)])
    w.night("410300", "2018-02-01", rounds=[round_("410300-R1", "2018-02-01", "escalated")],
            inspections=[insp("410300-CI1", "410300-R1", "410325-O4", "2018-02-01", owner="410325")])
    w.night("410325", "2018-06-10", satisfaction_surveys=[
        survey("S1", "410325-I1", "2018-06-01", 40, 36, 3, 1, at="2018-06-10"),
        survey("S2", "410325-I2", "2018-06-05", 0, 0, 0, 0, at="2018-06-10"),
        survey("S3", "410325-I3", "2018-06-10", 50, 40, 8, 2)])
    w.night("410300", "2018-07-01", satisfaction_surveys=[survey("CS1", "410300-CI1", "2018-07-01", 30, 27, 2, 1)])
    w.night("410325", "2018-09-01", satisfaction_surveys=[survey("S3b", "410325-I3", "2018-09-01", 50, 46, 3, 1)])


loaded, world = shared_world(build)


def org_row(day, inspection, org_no, sid, sdate, surveys, counts, count, rate, meets, county="410325"):
    oid = f"410325-O{org_no}"
    return (day, county, inspection, 11, "410325", oid, f"组织{oid}", "village", sid, sdate, surveys, *counts, count,
            rate, meets)


def test_satisfaction_per_organisation_uses_its_latest_survey_and_skips_empty_ones(world):
    world.refresh("2018-06-30", "2018-12-31")
    assert world.columns("satisfaction_by_org") == BY_ORG
    assert world.mart("satisfaction_by_org") == [
        org_row("2018-06-30", "410325-I1", 1, "S1", "2018-06-01", 1, (40, 36, 3, 1), 36, "0.9000", True),
        org_row("2018-06-30", "410325-I2", 2, "S2", "2018-06-05", 1, (0, 0, 0, 0), 0, None, None),
        org_row("2018-06-30", "410325-I3", 3, "S3", "2018-06-10", 1, (50, 40, 8, 2), 40, "0.8000", False),
        org_row("2018-12-31", "410300-CI1", 4, "CS1", "2018-07-01", 1, (30, 27, 2, 1), 27, "0.9000", True, county="410300"),
        org_row("2018-12-31", "410325-I1", 1, "S1", "2018-06-01", 1, (40, 36, 3, 1), 36, "0.9000", True),
        org_row("2018-12-31", "410325-I2", 2, "S2", "2018-06-05", 1, (0, 0, 0, 0), 0, None, None),
        org_row("2018-12-31", "410325-I3", 3, "S3b", "2018-09-01", 2, (50, 46, 3, 1), 46, "0.9200", True),
    ]
    assert world.columns("satisfaction") == ROLLUP
    assert world.mart("satisfaction") == [
        # weighted by respondents: (36 + 0 + 40) / 90; one of the two rated organisations at 90% or more
        ("2018-06-30", "410325", 11, 3, 1, 2, 1, "0.5000", 90, 76, 11, 3, 76, "0.8444", "0.9000", False),
        ("2018-12-31", "410300", 11, 1, 0, 1, 1, "1.0000", 30, 27, 2, 1, 27, "0.9000", "0.9000", False),
        ("2018-12-31", "410325", 11, 3, 1, 2, 2, "1.0000", 90, 82, 6, 2, 82, "0.9111", "0.9000", False),
    ]


def test_basically_satisfied_counts_when_configured(world):
    cfg = dataclasses.replace(metrics_config.load(), count_basically_satisfied=True)
    world.refresh("2018-06-30", config=cfg)
    assert world.mart("satisfaction_by_org") == [
        org_row("2018-06-30", "410325-I1", 1, "S1", "2018-06-01", 1, (40, 36, 3, 1), 39, "0.9750", True),
        org_row("2018-06-30", "410325-I2", 2, "S2", "2018-06-05", 1, (0, 0, 0, 0), 0, None, None),
        org_row("2018-06-30", "410325-I3", 3, "S3", "2018-06-10", 1, (50, 40, 8, 2), 48, "0.9600", True),
    ]
    assert world.mart("satisfaction") == [
        ("2018-06-30", "410325", 11, 3, 1, 2, 2, "1.0000", 90, 76, 11, 3, 87, "0.9667", "0.9000", True)]
