"""问题线索处置 (mart.clue_disposal, mart.clue_ageing), hand-computed. Feedback rule 3 months, 清零 after 180 days.

嵩县 410325, clues of inspection I1:
  C1 transferred 2018-01-10, closed 2018-02-20                       disposed within the rule
  C2 transferred 2018-01-10, closed 2018-03-01, RE-OPENED 2018-05-10 (closed_date cleared), closed again 2018-09-01
  C3 transferred 2018-01-10, shelved 2018-02-01, closed 2018-12-20
  C4 transferred 2017-06-01, closed 2018-07-15
"""

from __future__ import annotations

from metrics_fixtures import clue, insp, org, round_, shared_world

DISPOSAL = ("as_of", "county_code", "clues_transferred", "clues_disposed", "disposal_rate", "clues_open",
            "open_within_rule", "open_beyond_rule", "disposed_within_rule", "open_over_clearance", "cleared",
            "oldest_open_transfer", "feedback_months", "clearance_days")
AGEING = ("as_of", "county_code", "bucket_no", "bucket", "months_from", "months_to", "beyond_feedback_rule", "open_clues")
I1 = "410325-I1"


def build(w):
    w.night("410325", "2017-05-20", org_units=[org("410325-O1", at="2017-05-20")], rounds=[round_("410325-R1", "2017-05-20")],
            inspections=[insp(I1, "410325-R1", "410325-O1", "2017-05-20")])
    w.night("410325", "2017-06-01", clues=[clue("C4", I1, "2017-06-01")])
    w.night("410325", "2018-01-10", clues=[clue(c, I1, "2018-01-10") for c in ("C1", "C2", "C3")])
    w.night("410325", "2018-02-01", clues=[clue("C3", I1, "2018-01-10", "shelved", at="2018-02-01")])
    w.night("410325", "2018-02-20", clues=[clue("C1", I1, "2018-01-10", "talk_letter", "2018-02-20")])
    w.night("410325", "2018-03-01", clues=[clue("C2", I1, "2018-01-10", "preliminary_check", "2018-03-01")])
    w.night("410325", "2018-05-10", clues=[clue("C2", I1, "2018-01-10", "preliminary_check", None, at="2018-05-10")])
    w.night("410325", "2018-07-15", clues=[clue("C4", I1, "2017-06-01", "case_filed", "2018-07-15")])
    w.night("410325", "2018-09-01", clues=[clue("C2", I1, "2018-01-10", "preliminary_check", "2018-09-01")])
    w.night("410325", "2018-12-20", clues=[clue("C3", I1, "2018-01-10", "shelved", "2018-12-20")])


loaded, world = shared_world(build)


def buckets(day, *open_clues):
    names = (("0-3个月", 0, 3, False), ("3-6个月", 3, 6, True), ("6-12个月", 6, 12, True), (">12个月", 12, None, True))
    return [(day, "410325", n, *names[n - 1], k) for n, k in enumerate(open_clues, 1)]


def test_disposal_ageing_and_clearance_follow_each_clues_history(world):
    world.refresh("2017-05-31", "2018-03-31", "2018-06-30", "2018-09-30", "2019-01-31")
    assert world.columns("clue_disposal") == DISPOSAL
    assert world.mart("clue_disposal") == [
        # C1, C2 closed within three months; C3 young; C4 past the rule and older than 180 days: not cleared
        ("2018-03-31", "410325", 4, 2, "0.5000", 2, 1, 1, 2, 1, False, "2017-06-01", 3, 180),
        # C2 re-opened: open again, past the rule; C3 past the rule; C4 still open
        ("2018-06-30", "410325", 4, 1, "0.2500", 3, 0, 3, 1, 1, False, "2017-06-01", 3, 180),
        # C2 closed again and C4 closed, both late; C3 open 263 days
        ("2018-09-30", "410325", 4, 3, "0.7500", 1, 0, 1, 1, 1, False, "2018-01-10", 3, 180),
        # everything closed: cleared (清零)
        ("2019-01-31", "410325", 4, 4, "1.0000", 0, 0, 0, 1, 0, True, None, 3, 180),
    ]
    assert world.columns("clue_ageing") == AGEING
    assert world.mart("clue_ageing") == [
        *buckets("2018-03-31", 1, 0, 1, 0),   # C3 0-3 months; C4 6-12 months
        *buckets("2018-06-30", 0, 2, 0, 1),   # C2, C3 3-6 months; C4 more than 12
        *buckets("2018-09-30", 0, 0, 1, 0),   # C3 6-12 months
        *buckets("2019-01-31", 0, 0, 0, 0),
    ]


def test_a_day_before_the_first_clue_has_no_rows(world):
    world.refresh("2017-05-31")
    assert world.mart("clue_disposal") == [] and world.mart("clue_ageing") == []
