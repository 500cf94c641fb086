"""整改完成率 (mart.rectification) and the overdue listing (mart.rectification_overdue), hand-computed.

嵩县 410325: inspection I1 fed back on 2018-03-01 (its rectification report is due 2018-05-01); tasks set
that day, each a timeline of versions:
  T1 due 05-01  in_progress 03-10, done 04-20                     on time
  T2 due 05-01  in_progress 03-10, done 06-10                     completed after its due date
  T3 due 05-01  on_the_spot (completed 02-20) from the start
  T4 due 05-01  basically_done 04-30
  T5 due 05-01  extended 05-02, never completed                   overdue
  T6 due 09-30  in_progress                                       not yet due
"""

from __future__ import annotations

from metrics_fixtures import insp, org, round_, shared_world, task

COLUMNS = ("as_of", "county_code", "term_no", "tasks", "tasks_due", "tasks_completed", "completion_rate", "tasks_done",
           "tasks_basically_done", "tasks_on_the_spot", "tasks_overdue", "tasks_completed_late", "tasks_not_yet_due",
           "inspections_fed_back", "reports_due", "reports_due_with_overdue_tasks")
OVERDUE = ("as_of", "county_code", "task_id", "source_code", "term_no", "inspection_id", "org_id", "responsible_org",
           "status", "due_date", "days_overdue", "feedback_date", "report_due_date")
DUE = "2018-05-01"


def build(w):
    w.night("410325", "2018-01-10", org_units=[org("410325-O1", at="2018-01-10")],
            rounds=[round_("410325-R1", "2018-01-10")],
            inspections=[insp("410325-I1", "410325-R1", "410325-O1", "2018-01-15", at="2018-01-10")])
    w.night("410325", "2018-03-01",
            inspections=[insp("410325-I1", "410325-R1", "410325-O1", "2018-01-15", end="2018-02-10",
                              feedback="2018-03-01", at="2018-03-01")],
            rectifications=[task("T1", "410325-I1", DUE), task("T2", "410325-I1", DUE),
                            task("T3", "410325-I1", DUE, "on_the_spot", "2018-02-20"), task("T4", "410325-I1", DUE),
                            task("T5", "410325-I1", DUE), task("T6", "410325-I1", "2018-09-30")])
    w.night("410325", "2018-03-10", rectifications=[
        task(t, "410325-I1", due, "in_progress", at="2018-03-10")
        for t, due in (("T1", DUE), ("T2", DUE), ("T4", DUE), ("T5", DUE), ("T6", "2018-09-30"))])
    w.night("410325", "2018-04-20", rectifications=[task("T1", "410325-I1", DUE, "done", "2018-04-20", at="2018-04-20")])
    w.night("410325", "2018-04-30", rectifications=[
        task("T4", "410325-I1", DUE, "basically_done", "2018-04-30", at="2018-04-30")])
    w.night("410325", "2018-05-02", rectifications=[task("T5", "410325-I1", DUE, "extended", at="2018-05-02")])
    w.night("410325", "2018-06-10", rectifications=[task("T2", "410325-I1", DUE, "done", "2018-06-10", at="2018-06-10")])


loaded, world = shared_world(build)


def test_completion_counts_tasks_due_by_the_as_of_date_and_lists_the_overdue_ones(world):
    world.refresh("2018-04-30", "2018-05-31", "2018-06-30")
    assert world.columns("rectification") == COLUMNS
    assert world.mart("rectification") == [
        # nothing due yet: no rate; the report is not due either
        ("2018-04-30", "410325", 11, 6, 0, 0, None, 0, 0, 0, 0, 0, 6, 1, 0, 0),
        # T1 done, T3 on the spot, T4 basically done; T2 and T5 overdue; T6 not due
        ("2018-05-31", "410325", 11, 6, 5, 3, "0.6000", 1, 1, 1, 2, 0, 1, 1, 1, 1),
        # T2 completed after its due date: completed, and counted as late
        ("2018-06-30", "410325", 11, 6, 5, 4, "0.8000", 2, 1, 1, 1, 1, 1, 1, 1, 1),
    ]
    assert world.columns("rectification_overdue") == OVERDUE
    assert world.mart("rectification_overdue") == [
        ("2018-05-31", "410325", "T2", "410325", 11, "410325-I1", "410325-O1", "责任单位", "in_progress", DUE, 30,
         "2018-03-01", "2018-05-01"),
        ("2018-05-31", "410325", "T5", "410325", 11, "410325-I1", "410325-O1", "责任单位", "extended", DUE, 30,
         "2018-03-01", "2018-05-01"),
        ("2018-06-30", "410325", "T5", "410325", 11, "410325-I1", "410325-O1", "责任单位", "extended", DUE, 60,
         "2018-03-01", "2018-05-01"),
    ]


def test_a_task_due_today_and_not_completed_by_the_end_of_it_is_overdue(world):
    world.refresh(DUE)
    assert world.mart("rectification") == [("2018-05-01", "410325", 11, 6, 5, 3, "0.6000", 1, 1, 1, 2, 0, 1, 1, 1, 1)]
    assert world.mart("rectification_overdue") == [
        ("2018-05-01", "410325", t, "410325", 11, "410325-I1", "410325-O1", "责任单位", "in_progress", DUE, 0,
         "2018-03-01", "2018-05-01") for t in ("T2", "T5")]
