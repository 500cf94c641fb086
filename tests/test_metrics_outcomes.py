"""处置结果 (mart.outcomes) and 巡察轮次 (mart.rounds_per_year), hand-computed.

嵩县 410325 rounds: regular 2017-03-01, special 2017-06-01, revisit 2017-09-01, cross 2017-11-01, none in 2018,
regular 2019-03-01 (target 4 to 5 a year). The city: regular, escalated and linked rounds in 2017 (target 3+).
Outcomes following clue C1 of 嵩县's first round:
  D1 sanction          township  2018-03-01  1,000.50
  D2 sanction          county    2018-04-01  amount recovered later: 5,000.00 on 2018-06-01
  D5 detention         township  2018-12-01
  D3 org_handling      other     2019-02-01
  D4 judicial_transfer township  2019-03-01  20,000.00
"""

from __future__ import annotations

from metrics_fixtures import clue, insp, org, outcome, round_, shared_world

OUTCOMES = ("as_of", "county_code", "term_no", "year", "outcome_type", "person_rank", "outcomes", "amount_recovered",
            "outcomes_with_amount")
ROUNDS = ("as_of", "county_code", "year", "level", "rounds", "regular_rounds", "special_rounds", "mobile_rounds",
          "linked_rounds", "cross_rounds", "escalated_rounds", "revisit_rounds", "target_min", "target_max",
          "meets_target", "year_complete")


def build(w):
    county = [("R1", "2017-03-01", "regular"), ("R2", "2017-06-01", "special"), ("R3", "2017-09-01", "revisit"),
              ("R4", "2017-11-01", "cross"), ("R5", "2019-03-01", "regular")]
    w.night("410325", "2017-03-01", org_units=[org("410325-O1", at="2017-03-01")],
            rounds=[round_(f"410325-{r}", d, t, no=n, at="2017-03-01") for n, (r, d, t) in enumerate(county, 1)],
            inspections=[insp("410325-I1", "410325-R1", "410325-O1", "2017-03-01")])
    w.night("410300", "2017-03-01", rounds=[round_(f"410300-R{n}", d, t, no=n, at="2017-03-01") for n, (d, t) in
                                            enumerate((("2017-04-01", "regular"), ("2017-07-01", "escalated"),
                                                       ("2017-10-01", "linked")), 1)])
    w.night("410325", "2017-04-01", clues=[clue("C1", "410325-I1", "2017-04-01")])
    w.night("410325", "2018-03-01", case_outcomes=[outcome("D1", "C1", "sanction", "2018-03-01", amount="1000.50")])
    w.night("410325", "2018-04-01", case_outcomes=[outcome("D2", "C1", "sanction", "2018-04-01", "county", person="P-0000000000D2")])
    w.night("410325", "2018-06-01", case_outcomes=[outcome("D2", "C1", "sanction", "2018-04-01", "county", "5000.00",
                                                           at="2018-06-01", person="P-0000000000D2")])
    w.night("410325", "2018-12-01", case_outcomes=[outcome("D5", "C1", "detention", "2018-12-01")])
    w.night("410325", "2019-02-01", case_outcomes=[outcome("D3", "C1", "org_handling", "2019-02-01", "other")])
    w.night("410325", "2019-03-01", case_outcomes=[outcome("D4", "C1", "judicial_transfer", "2019-03-01", amount="20000")])


loaded, world = shared_world(build)


def test_outcomes_by_type_rank_and_year_with_amounts_as_known_on_each_day(world):
    world.refresh("2018-04-30", "2019-06-30")
    assert world.columns("outcomes") == OUTCOMES
    assert world.mart("outcomes") == [
        ("2018-04-30", "410325", 11, 2018, "sanction", "county", 1, "0.00", 0),       # amount not recovered yet
        ("2018-04-30", "410325", 11, 2018, "sanction", "township", 1, "1000.50", 1),
        ("2019-06-30", "410325", 11, 2018, "detention", "township", 1, "0.00", 0),
        ("2019-06-30", "410325", 11, 2018, "sanction", "county", 1, "5000.00", 1),
        ("2019-06-30", "410325", 11, 2018, "sanction", "township", 1, "1000.50", 1),
        ("2019-06-30", "410325", 11, 2019, "judicial_transfer", "township", 1, "20000.00", 1),
        ("2019-06-30", "410325", 11, 2019, "org_handling", "other", 1, "0.00", 0),
    ]


def test_rounds_per_year_against_the_levels_target(world):
    world.refresh("2017-06-30", "2019-06-30")
    assert world.columns("rounds_per_year") == ROUNDS
    assert world.mart("rounds_per_year") == [
        # rounds planned for later in the year are not counted before they start
        ("2017-06-30", "410300", 2017, "city", 1, 1, 0, 0, 0, 0, 0, 0, 3, None, False, False),
        ("2017-06-30", "410325", 2017, "county", 2, 1, 1, 0, 0, 0, 0, 0, 4, 5, False, False),
        ("2019-06-30", "410300", 2017, "city", 3, 1, 0, 0, 1, 0, 1, 0, 3, None, True, True),
        ("2019-06-30", "410300", 2018, "city", 0, 0, 0, 0, 0, 0, 0, 0, 3, None, False, True),
        ("2019-06-30", "410300", 2019, "city", 0, 0, 0, 0, 0, 0, 0, 0, 3, None, False, False),
        ("2019-06-30", "410325", 2017, "county", 4, 1, 1, 0, 0, 1, 0, 1, 4, 5, True, True),
        ("2019-06-30", "410325", 2018, "county", 0, 0, 0, 0, 0, 0, 0, 0, 4, 5, False, True),
        ("2019-06-30", "410325", 2019, "county", 1, 1, 0, 0, 0, 0, 0, 0, 4, 5, False, False),
    ]
