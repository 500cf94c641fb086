"""mart.changed_from: which mart days a batch can change, per batch and county code, on late nights of all 8
entities (a correction, a late older version placed at its own time, a full snapshot's withdrawal and its
re-sending, a round of a term absent from config/metrics.yml). The figures are the ones the 16-branch function
(before it was built from one entity list) returned on this world; a slip here recomputes the wrong mart days."""

from __future__ import annotations

import datetime as dt

from conftest import query
from metrics_fixtures import clue, finding, insp, org, outcome, round_, survey, task, ts, world  # noqa: F401

import mart_world

C = "410325"


def late(row: dict, day: str, hour: int = 10) -> dict:
    """`row` as it was recorded at `day` `hour`:00 local (a version older than the one core holds)."""
    return dict(row, updated_at=ts(day, hour))


def build_late_nights(w) -> dict[str, int]:
    """mart_world's county, then one correction night and one late night per entity, a full snapshot and a re-send;
    {night label: batch id}."""
    mart_world.build(w)
    fixed = {  # each entity's row as corrected on 2018-07-01 + i, the entity's i in this order (core's version)
        "org_units": org(f"{C}-O2", "township", at="2018-07-01", name="更正"),
        "rounds": round_(f"{C}-R1", "2018-01-10", end="2018-06-30", at="2018-07-02"),
        "inspections": insp(f"{C}-I1", f"{C}-R1", f"{C}-O1", "2018-01-15", end="2018-02-10", feedback="2018-03-01",
                            at="2018-07-03"),
        "findings": finding(f"{C}-F2", f"{C}-I1", "2018-02-01", category="SL3", at="2018-07-04"),
        "clues": clue(f"{C}-C2", f"{C}-I1", "2018-02-01", "case_filed", "2018-07-05"),
        "case_outcomes": outcome(f"{C}-D1", f"{C}-C1", "sanction", "2018-03-01", amount="6000.00", at="2018-07-06"),
        "rectifications": task("T3", f"{C}-I1", "2018-09-30", "done", "2018-07-07", at="2018-07-07"),
        "satisfaction_surveys": survey(f"{C}-S1", f"{C}-I1", "2018-04-15", 30, 21, 4, 5, at="2018-07-08"),
    }
    batches = {f"fix {e}": w.night(C, r["updated_at"][:10], **{e: [r]}).batch_id for e, r in fixed.items()}
    # one late night per entity, each carrying a version recorded between the first one and the correction
    for i, (entity, row) in enumerate(fixed.items()):
        batches[entity] = w.night(C, f"2018-07-{11 + i:02d}", **{entity: [late(row, f"2018-05-{10 + i:02d}")]}).batch_id
    # a round of term 12 (not configured): its marts count from its start_date, before the night
    batches["term12"] = w.night(C, "2018-07-20", rounds=[round_(f"{C}-R9", "2018-04-01", term=12, at="2018-07-20")]).batch_id
    # a full snapshot of findings withdraws F1 and F3 (withdrawn_at: the next morning, 01:00), then F1 is re-sent
    batches["full"] = w.night(C, "2018-07-21", mode="full",
                              findings=[finding(f"{C}-F2", f"{C}-I1", "2018-02-01", category="SL3", at="2018-07-04")]
                              ).batch_id
    batches["resend"] = w.night(C, "2018-07-22", findings=[finding(f"{C}-F1", f"{C}-I1", "2018-02-01", at="2018-07-22")]
                                ).batch_id
    # another county's night: its own code
    batches["other"] = w.night("410323", "2018-07-22", org_units=[org("410323-O1", at="2018-07-22")]).batch_id
    return batches


def changed_from(w, batch_ids, term_nos=(11,)):
    return query(w.url, """SELECT batch_id, county_code, from_day::text FROM mart.changed_from(%s::bigint[], %s::int[])
                            ORDER BY 1, 2""", (list(batch_ids), list(term_nos)))


ENTITIES = ("org_units", "rounds", "inspections", "findings", "clues", "case_outcomes", "rectifications",
            "satisfaction_surveys")


def test_each_late_night_reaches_back_to_its_oldest_version_and_a_withdrawal_to_its_morning(world):
    b = build_late_nights(world)
    got = {bid: (code, day) for bid, code, day in changed_from(world, b.values())}
    want = {}
    for i, e in enumerate(ENTITIES):
        want[b[f"fix {e}"]] = (C, f"2018-07-{1 + i:02d}")       # core's version, each entity's core table
        want[b[e]] = (C, f"2018-05-{10 + i:02d}")                # the late version, each entity's history table
    want[b["term12"]] = (C, "2018-04-01")                        # an unconfigured term counts from its start_date
    want[b["full"]] = (C, "2018-07-22")                          # withdrawn at 01:00 the morning after the night
    want[b["resend"]] = (C, "2018-07-22")
    want[b["other"]] = ("410323", "2018-07-22")
    assert got == want


def test_only_the_batches_asked_for_are_read_and_a_configured_term_counts_from_its_version(world):
    b = build_late_nights(world)
    asked = [b["findings"], b["term12"], b["other"]]
    assert changed_from(world, asked, term_nos=(11, 12)) == sorted([
        (b["findings"], C, "2018-05-13"), (b["term12"], C, "2018-07-20"), (b["other"], "410323", "2018-07-22")])
    assert changed_from(world, [b["term12"]], term_nos=()) == [(b["term12"], C, "2018-04-01")]
    # the withdrawal's version moved to history when F1 came back: the full snapshot's batch is still found there
    query(world.url, "DELETE FROM core.findings WHERE batch_id = %s", (b["full"],))
    assert changed_from(world, [b["full"]]) == [(b["full"], C, "2018-07-22")]
    assert changed_from(world, [max(b.values()) + 1]) == []
