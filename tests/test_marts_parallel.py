"""The marts on both cores (issue 26, xuncha.metrics.parallel): the refresh that hands most mart files to a second
connection publishes exactly the figures of the serial refresh, in one commit, so a reader never sees a mix.

World: tests/mart_world.py's 嵩县 410325 over 2018 plus 老城区 410302's lists (as tests/test_ledgers.py), which
gives every mart rows. Figures are compared with tests/marts_compare.snapshot (every described column of every
mart, and the refresh log's pairs).
"""

from __future__ import annotations

import threading

import mart_world
import psycopg2
from conftest import query
from marts_compare import snapshot
from metrics_fixtures import World, _empty_marts, finding, shared_world
from test_ledgers import build

from xuncha.metrics import marts as metrics
from xuncha.metrics import parallel
from xuncha.warehouse import db

loaded, world = shared_world(build)


def both_ways(w, monkeypatch, **kw) -> tuple[dict, dict, list]:
    """The marts after `refresh(**kw)` serially and then, from empty marts again, in parallel; plus the files the
    parallel refresh's worker ran (so a silent fallback to serial is seen)."""
    w.refresh(**kw, parallel=False)
    serial = snapshot(w.url)
    _empty_marts(w.url)
    handed: list[str] = []
    real = parallel.Split.start

    def start(self, cur, plan, files):
        here = real(self, cur, plan, files)
        handed.extend(stem for stem, _ in files if (stem, _) not in here)
        return here

    monkeypatch.setattr(parallel.Split, "start", start)
    w.refresh(**kw)
    return serial, snapshot(w.url), handed


def test_a_parallel_refresh_of_named_days_publishes_the_serial_refresh_s_figures(world, monkeypatch):
    serial, par, handed = both_ways(world, monkeypatch, dates=[metrics.dt.date(2018, 3, 31),
                                                               metrics.dt.date.fromisoformat(mart_world.AS_OF)])
    assert {"findings_by_category", "coverage", "satisfaction", "ledger_satisfaction"} <= set(handed)
    assert not set(parallel.MAIN) & set(handed)
    assert sum(len(v) for v in serial.values()) > 50        # every mart has rows to compare
    assert [t for t in serial if not serial[t]] == []
    assert par == serial


def test_a_parallel_nightly_and_full_refresh_publish_the_serial_refresh_s_figures(world, monkeypatch):
    serial, par, handed = both_ways(world, monkeypatch)               # the nightly refresh: loaded batches' days
    assert handed and par == serial
    serial_full = (world.refresh(full=True, parallel=False), snapshot(world.url))[1]
    world.refresh(full=True)
    assert snapshot(world.url) == serial_full == par


def test_a_failing_worker_rolls_the_whole_refresh_back(world, monkeypatch):
    world.refresh(mart_world.AS_OF)
    before = snapshot(world.url)
    real = parallel.run_pass

    def broken(cur, files, p):
        if any(stem == "coverage" for stem, _ in files):
            cur.execute("SELECT 1/0")
        return real(cur, files, p)

    monkeypatch.setattr(parallel, "run_pass", broken)
    try:
        world.refresh(full=True)
    except psycopg2.errors.DivisionByZero:
        pass
    else:
        raise AssertionError("the worker's error must reach the refresh")
    assert snapshot(world.url) == before


def test_a_reader_during_a_parallel_refresh_sees_the_old_or_the_new_figures_never_a_mix(clean, tmp_path):
    w = World(clean, tmp_path / "exports")
    _empty_marts(clean)
    build(w)
    w.refresh(mart_world.AS_OF)
    w.night("410302", "2018-07-02", findings=[finding(f"410302-FX{i}", "410302-I1", "2018-07-02") for i in range(40)])
    sample = """SELECT (SELECT max(as_of) FROM mart.term_headline), (SELECT sum(findings) FROM mart.findings_by_category),
                       (SELECT max(as_of) FROM mart.coverage), (SELECT max(as_of) FROM mart.ledger_uninspected)"""
    old = query(clean, sample)[0]
    seen, stop = set(), threading.Event()

    def reader():
        with db.connect(clean, autocommit=True) as conn, conn.cursor() as cur:
            while not stop.is_set():
                cur.execute(sample)        # one statement: one snapshot of the four marts
                seen.add(cur.fetchone())

    t = threading.Thread(target=reader)
    t.start()
    try:
        for _ in range(3):                 # the night, then the same day again (nothing new: the same figures)
            w.refresh()
    finally:
        stop.set()
        t.join()
    new = query(clean, sample)[0]
    assert old != new and old[1] + 40 == new[1]
    assert seen <= {old, new}, seen - {old, new}


def test_a_refresh_of_given_counties_stays_on_one_connection_with_the_same_figures(world, monkeypatch):
    serial, par, handed = both_ways(world, monkeypatch, counties=["410302"])   # a delta night: serial is faster
    assert handed == [] and par == serial
