"""Counties of one lineage cannot block each other (issue 28): one lock per lineage, taken before fetching by every
entry point (xuncha.load.county_night.run), and a reaper that never touches a live batch and drops the staging of
batches killed after their commit.

Each case runs real processes (`python -c` running county_night.run, as the DAG's ingest task does) against the
suite's PostgreSQL, pausing one at a real moment (after its fetch, inside its merge, before its move) and
checking what the other process and the ledger do meanwhile. Every wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import query
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.warehouse import batch_ledger as ledger
from xuncha.load import county_night, lineage_lock
from xuncha.orchestration import env as airflow_env
from xuncha.warehouse import db
from xuncha_sim.countyserver import CountyServer

pytestmark = pytest.mark.hardening

RUN = """
import datetime as dt, json, sys, time
from pathlib import Path
from xuncha import registry
from xuncha.load import county_night, merge, moves
url, code, day, at, flag, go = sys.argv[1:7]
def pause():
    Path(flag).write_text(at)
    deadline = time.monotonic() + 120
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
if at == "fetch":        # holding the lineage's lock, right after the pull
    real_fetch = county_night.fetch
    def fetch(*a, **k):
        real_fetch(*a, **k)
        pause()
    county_night.fetch = fetch
elif at == "merge":      # inside the publish transaction, its batch `received`
    real_merge = merge.merge
    def paused_merge(cur, entity, *a, **k):
        out = real_merge(cur, entity, *a, **k)
        if entity.name == "findings":
            pause()
        return out
    merge.merge = paused_merge
elif at == "archive":    # committed (`loaded`), before the move and the staging drop
    real_archive = moves.archive
    def archive(*a, **k):
        pause()
        return real_archive(*a, **k)
    moves.archive = archive
night = county_night.run(registry.default(), code, dt.date.fromisoformat(day), url=url)
print(json.dumps(night.to_xcom()))
"""


def _start(url: str, code: str, day: str, tmp_path: Path, at: str = "none", name: str = "p") -> tuple[subprocess.Popen, Path, Path]:
    flag, go = tmp_path / f"{name}.paused", tmp_path / f"{name}.go"
    proc = subprocess.Popen([sys.executable, "-c", RUN, url, code, day, at, str(flag), str(go)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, flag, go


def _until(check, what: str, proc: subprocess.Popen | None = None, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while not (found := check()):
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"process ended before {what}: {proc.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def _finish(proc: subprocess.Popen) -> dict:
    out, errors = proc.communicate(timeout=180)
    assert proc.returncode == 0, errors[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _waiting_on_lineage(url: str, root: str) -> bool:
    ns, objid = lineage_lock.key(root)
    return bool(query(url, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s::oid "
                           "AND objid = %s::oid AND NOT granted", (ns, objid)))


def _staging_tables(url: str) -> list[str]:
    return [t for (t,) in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'staging' ORDER BY 1")]


def _night(root: Path, code: str, day: str, n: int = 4, **kw) -> Path:
    rows = slice_rows(code, n_findings=n, updated=f"{day}T20:00:00+08:00")
    return write_export(root, code, f"{code}-{day.replace('-', '')}-01", day, rows, **kw)


def test_every_county_of_a_lineage_takes_one_lock_keyed_on_its_root():
    reg = registry.default()
    assert {lineage_lock.root(reg, c) for c in ("410306", "410322", "410308")} == {"410308"}
    assert lineage_lock.root(reg, "410381") == "410307" and lineage_lock.root(reg, "410302") == "410302"
    assert lineage_lock.key("410308") == lineage_lock.key(lineage_lock.root(reg, "410306"))
    assert lineage_lock.key("410302") != lineage_lock.key("410308")


def test_a_successor_started_while_its_predecessor_loads_waits_and_never_reaps_the_live_batch(clean, settings, tmp_path):
    _night(settings.landing, "410306", "2021-02-20")
    _night(settings.landing, "410308", "2021-03-05")
    jili, jili_paused, jili_go = _start(clean, "410306", "2021-02-20", tmp_path, at="merge", name="jili")
    _until(jili_paused.exists, "吉利区 reached its merge", jili)
    mengjin, _, _ = _start(clean, "410308", "2021-03-05", tmp_path, name="mengjin")
    try:
        # 孟津区 waits on the lineage lock, a wait PostgreSQL shows (pg_locks), before fetching or reaping anything.
        _until(lambda: _waiting_on_lineage(clean, "410308"), "孟津区 to wait on the lineage lock", mengjin)
        time.sleep(1)
        assert query(clean, "SELECT county_code, status FROM audit.batches") == [("410306", "received")]
        jili_go.write_text("go")
        first, second = _finish(jili), _finish(mengjin)
    finally:
        jili_go.write_text("go")
        for p in (jili, mengjin):
            p.kill() if p.poll() is None else None
    assert first["loaded"] == 1 and second["loaded"] == 1 and second["county"].endswith("410308")
    assert query(clean, "SELECT county_code, status, error FROM audit.batches ORDER BY batch_id") == [
        ("410306", "loaded", None), ("410308", "loaded", None)]
    assert _staging_tables(clean) == []


@pytest.fixture
def luoning(tmp_path, monkeypatch):
    """洛宁县 410328's own system (pulled in the registry) on loopback, serving tmp_path/systems."""
    root = tmp_path / "systems"
    root.mkdir()
    with CountyServer(root, {"410328": "luoning-token"}, page_size=1) as server:
        for k, v in airflow_env.county_connection_env("xuncha_county_410328", server.url, "luoning-token").items():
            monkeypatch.setenv(k, v)
        yield root


def test_two_runs_of_a_pulled_county_at_once_load_everything_once(clean, settings, luoning, tmp_path):
    for day in ("2019-03-14", "2019-03-15", "2019-03-16"):
        _night(luoning, "410328", day, generated_at=f"{day}T23:30:00+08:00")
    first, paused, go = _start(clean, "410328", "2019-03-16", tmp_path, at="fetch", name="first")
    _until(paused.exists, "the first run to have pulled", first)
    second, _, _ = _start(clean, "410328", "2019-03-16", tmp_path, name="second")
    try:
        _until(lambda: _waiting_on_lineage(clean, "410328"), "the second run to wait before pulling", second)
        go.write_text("go")
        one, two = _finish(first), _finish(second)
    finally:
        go.write_text("go")
        for p in (first, second):
            p.kill() if p.poll() is None else None
    assert (one["loaded"], two["loaded"], two["exports"]) == (3, 0, [])
    assert query(clean, "SELECT export_id, status FROM audit.batches ORDER BY 1") == [
        (f"410328-2019031{d}-01", "loaded") for d in (4, 5, 6)]
    assert not list((settings.landing / "410328").glob(".*.part")), "no half-pulled folder is left"


def test_a_batch_killed_after_its_commit_has_its_staging_dropped_by_the_next_run(clean, settings, tmp_path):
    export = _night(settings.landing, "410302", "2019-03-15")
    proc, paused, _ = _start(clean, "410302", "2019-03-15", tmp_path, at="archive")
    _until(paused.exists, "the commit", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    [(batch_id, status)] = query(clean, "SELECT batch_id, status FROM audit.batches")
    assert status == "loaded" and export.exists()
    left = _staging_tables(clean)
    assert left and all(t.startswith(f"b{batch_id}_") for t in left), left
    _until(lambda: not query(clean, "SELECT 1 FROM pg_stat_activity a JOIN audit.batches b ON a.pid = b.holder_pid"),
           "PostgreSQL to see the killed backend gone", seconds=30)
    night = county_night.run(registry.default(), "410302", dt.date(2019, 3, 15), url=clean)
    assert [r.status for r in night.exports] == ["duplicate"] and not export.exists()
    assert _staging_tables(clean) == []
    assert query(clean, "SELECT status FROM audit.batches ORDER BY batch_id") == [("loaded",), ("duplicate",)]


def test_the_reaper_leaves_a_batch_whose_backend_is_alive_even_when_the_lineage_lock_is_free(clean):
    with db.connect(clean, autocommit=True) as live:
        batch_id = ledger.open_batch(live, "410302", "/landing/410302/x", None, "410302-x")
        with live.cursor() as cur:
            cur.execute(f"CREATE TABLE staging.b{batch_id}_findings (a int)")
        with db.connect(clean, autocommit=True) as reaper:
            assert ledger.recover_stale(reaper, ("410302",)) == ([], [])
        assert query(clean, "SELECT status FROM audit.batches") == [("received",)]
    _until(lambda: not query(clean, "SELECT 1 FROM pg_stat_activity a JOIN audit.batches b ON a.pid = b.holder_pid"),
           "the backend to end", seconds=30)
    with db.connect(clean, autocommit=True) as reaper:
        assert ledger.recover_stale(reaper, ("410302",)) == ([batch_id], [f"staging.b{batch_id}_findings"])
    assert query(clean, "SELECT status, error LIKE 'abandoned%%' FROM audit.batches") == [("failed", True)]
    assert _staging_tables(clean) == []


def test_a_run_waiting_longer_than_allowed_gives_up_naming_the_holder_and_takes_nothing(clean):
    with db.connect(clean, autocommit=True) as other, other.cursor() as cur:
        cur.execute("SET application_name = 'another night'")
        cur.execute("SELECT pg_advisory_lock(%s, %s), pg_backend_pid()", lineage_lock.key("410308"))
        holder_pid = cur.fetchone()[1]
        started = time.monotonic()
        with pytest.raises(lineage_lock.LineageBusy, match=rf"county 410322: lineage 410308 still held after 1 s by "
                                                            rf"backend {holder_pid} \(another night\)"):
            with lineage_lock.held(clean, registry.default(), "410322", wait_seconds=1):
                pytest.fail("the lock was taken while another session held it")
        assert time.monotonic() - started < 10
    with lineage_lock.held(clean, registry.default(), "410322", wait_seconds=5):   # free once that session ended
        assert lineage_lock.holds(registry.default(), "410306")
    assert not lineage_lock.holds(registry.default(), "410306")
