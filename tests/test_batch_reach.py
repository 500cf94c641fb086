"""audit.batch_reach (migration 0161): what each batch's versions reach of the term headline, recorded by the load
(sql/load/merge.sql, withdraw.sql) in the export's transaction, is what audit.batch_reach_of reads back from the
stored rows, on late nights of every entity, a full snapshot's withdrawal and its re-sending, and a successor county
updating and withdrawing its predecessor's rows. mart.state_horizon, taken from the recorded rows, is the one read
from the rows themselves (a batch loaded before 0161), so term_headline reuses the same days either way."""

from __future__ import annotations

import datetime as dt

from conftest import query
from metrics_fixtures import clue, finding, world  # noqa: F401
from test_changed_from import build_late_nights

import test_metrics_codechange as codechange

RECORDED = "SELECT batch_id, entity, county_code, last_from, last_day FROM audit.batch_reach ORDER BY 1, 2, 3"
READ_BACK = """SELECT * FROM audit.batch_reach_of(ARRAY(SELECT batch_id FROM audit.batches WHERE status = 'loaded'))
                ORDER BY 1, 2, 3"""


def test_the_load_records_what_the_stored_versions_reach(world):
    b = build_late_nights(world)
    codechange.build(world)
    # the successor's full snapshot of findings withdraws 410322's MF1 and 410306's JF1 under their own codes
    world.night("410308", "2021-05-01", mode="full", findings=[finding("410308-F1", "410308-I1", "2021-04-30")])
    world.night("410308", "2021-05-02", clues=[clue("410322-MC1", "410322-I1", "2017-05-20", "case_filed", "2021-05-02")])
    recorded = query(world.url, RECORDED)
    assert recorded == query(world.url, READ_BACK)
    # spot checks, by hand: the late finding (found 2018-02-01, recorded as of 2018-05-13) and the withdrawals
    assert (b["findings"], "findings", "410325") in {r[:3] for r in recorded}
    morning = dt.datetime.fromisoformat("2021-05-02T01:00:00+08:00")     # the snapshot's generated_at
    withdrawn = {(r[1], r[2]) for r in recorded if r[3] == morning}
    assert {("findings", "410306"), ("findings", "410322")} <= withdrawn
    assert not [r for r in recorded if r[1] in ("org_units", "rectifications", "satisfaction_surveys")]


def test_the_horizon_from_recorded_reach_is_the_horizon_read_from_the_rows(world):
    build_late_nights(world)
    codechange.build(world)
    world.refresh("2018-07-31")
    recorded = query(world.url, "SELECT county_code, horizon FROM mart.state_horizon ORDER BY 1")
    assert recorded and len(query(world.url, "SELECT 1 FROM audit.batch_reach")) > 0
    query(world.url, "TRUNCATE audit.batch_reach, mart.state_horizon, mart.state_horizon_batches")
    world.refresh("2018-07-31")
    assert query(world.url, "SELECT county_code, horizon FROM mart.state_horizon ORDER BY 1") == recorded
