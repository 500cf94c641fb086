"""A small hand-made world in which every mart has rows: 嵩县 410325 over 2018 (used by the dictionary,
read-API and workbook tests). `AS_OF` is the newest night, on which each mart holds at least one row."""

from __future__ import annotations

from metrics_fixtures import clue, finding, insp, org, outcome, round_, survey, task

AS_OF = "2018-06-30"
TEXT_INJECTION = "=HYPERLINK(\"http://127.0.0.1/x\",\"点我\")"
"""An organisation name a spreadsheet would run as a formula if it were written as one."""


def build(w):
    c = "410325"
    w.night(c, "2018-01-10", org_units=[org(f"{c}-O1", at="2018-01-10", name=TEXT_INJECTION),
                                        org(f"{c}-O2", "township", at="2018-01-10")],
            rounds=[round_(f"{c}-R1", "2018-01-10")],
            inspections=[insp(f"{c}-I1", f"{c}-R1", f"{c}-O1", "2018-01-15", at="2018-01-10")])
    w.night(c, "2018-02-01", findings=[finding(f"{c}-F1", f"{c}-I1", "2018-02-01"),
                                       finding(f"{c}-F2", f"{c}-I1", "2018-02-01", category="SL2")],
            clues=[clue(f"{c}-C1", f"{c}-I1", "2018-02-01"), clue(f"{c}-C2", f"{c}-I1", "2018-02-01")])
    w.night(c, "2018-03-01",
            inspections=[insp(f"{c}-I1", f"{c}-R1", f"{c}-O1", "2018-01-15", end="2018-02-10", feedback="2018-03-01",
                              at="2018-03-01")],
            rectifications=[task("T1", f"{c}-I1", "2018-05-01"), task("T2", f"{c}-I1", "2018-05-01", "done", "2018-03-01"),
                            task("T3", f"{c}-I1", "2018-09-30")],
            clues=[clue(f"{c}-C1", f"{c}-I1", "2018-02-01", "case_filed", "2018-03-01")],
            case_outcomes=[outcome(f"{c}-D1", f"{c}-C1", "sanction", "2018-03-01", amount="5000.00")])
    w.night(c, "2018-04-15", satisfaction_surveys=[survey(f"{c}-S1", f"{c}-I1", "2018-04-15", 30, 20, 5, 5)])
    w.night(c, AS_OF, findings=[finding(f"{c}-F3", f"{c}-I1", AS_OF, category="SL3")])
