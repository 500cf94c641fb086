"""Fault matrix: real faults at real moments, each case ending with core, history and audit equal to the state a
clean run reaches (nothing lost, doubled or altered).

- the warehouse stopped (PostgreSQL fast shutdown) mid-load, restarted, the ingest retried;
- the ingest process killed (SIGKILL) mid-merge, retried;
- the archive or quarantine disk full (a 64 KiB tmpfs the test mounts): the export stays in the landing area,
  is recorded as failed (never as loaded or duplicate), no partial copy sits under its name; retried once the
  disk has room;
- a full snapshot that would withdraw more than XUNCHA_WITHDRAW_HOLD_SHARE of a county's rows is held
  (quarantined as `withdraw.held`, alerted) and loads once confirmed.
A worker killed mid-task under the real scheduler is the Celery scale-out work's case (issue 15), not here.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import query
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.load import county_night
from xuncha.extract import inbox
from xuncha.load import pipeline
from xuncha.spec import ENTITY_ORDER

NIGHTS = ["2019-03-15", "2019-03-16", "2019-03-17"]
COUNTIES = ["410302", "410303"]


def _exports(root: Path, n_findings: int = 40) -> list[Path]:
    out = []
    for i, day in enumerate(NIGHTS):
        for code in COUNTIES:
            rows = slice_rows(code, n_findings=n_findings + i, updated=f"{day}T20:00:00+08:00")
            out.append(write_export(root, code, f"{code}-{day.replace('-', '')}-01", day, rows))
    return out


def state(url: str) -> dict:
    """What must come out equal: every core row, every history version (without recorded_at/batch ids), and per
    export id its final status, rows loaded and per-file counts."""
    out = {}
    for e in ENTITY_ORDER:
        cols = [c for (c,) in query(url, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' "
                                         "AND table_name = %s AND column_name <> 'batch_id' ORDER BY ordinal_position", (e,))]
        out[f"core.{e}"] = query(url, f"SELECT {', '.join(cols)} FROM core.{e} ORDER BY 1, 2")
        out[f"history.{e}"] = query(url, f"SELECT {', '.join(cols)}, change FROM history.{e} ORDER BY 1, 2, "
                                         f"{', '.join(cols[2:])}, change")
    out["audit"] = query(url, """SELECT b.export_id, b.status, b.loaded_rows, f.entity, f.inserted_rows, f.updated_rows,
                                        f.withdrawn_rows
                                   FROM audit.batches b LEFT JOIN audit.batch_files f USING (batch_id)
                                  WHERE b.status IN ('loaded', 'duplicate', 'quarantined') ORDER BY 1, 2, 4""")
    return out


def _ingest_all(url, settings, move=True, **kw):
    reg = registry.default()
    ing = pipeline.Ingestor(reg, url=url, settings=settings, move=move, **kw)
    return [r for code in COUNTIES for r in ing.ingest_many(inbox.find(settings.landing / code), reg.get(code))]


@pytest.fixture(scope="module")
def expected(warehouse, settings, tmp_path_factory):
    """The reference: the same exports through a clean run."""
    from conftest import TABLES_TO_RESET

    tables = [f"{s}.{e}" for s in ("core", "history") for e in ENTITY_ORDER]
    query(warehouse, f"TRUNCATE {', '.join(tables)}, {TABLES_TO_RESET}")
    landing = tmp_path_factory.mktemp("reference")
    _exports(landing)
    results = _ingest_all(warehouse, dataclasses.replace(settings, landing=landing), move=False)
    assert {r.status for r in results} == {"loaded"}
    return state(warehouse)


# A real ingest process (as `xuncha ingest --move` runs it), paused inside the publish transaction right after
# the merge of `findings` of the second export, so a fault can strike there.
PAUSED = """
import sys, time
from pathlib import Path
from xuncha import registry
from xuncha.extract import inbox
from xuncha.load import merge as loading
from xuncha.load import pipeline
real, seen = loading.merge, []
def paused(cur, entity, *a, **k):
    out = real(cur, entity, *a, **k)
    if entity.name == "findings":
        seen.append(1)
        if len(seen) == 2:
            Path(sys.argv[1]).write_text("merging")
            time.sleep(600)
    return out
loading.merge = paused
reg = registry.default()
ing = pipeline.Ingestor(reg, move=True)
for code in sys.argv[2:]:
    ing.ingest_many(inbox.find(ing.settings.landing / code), reg.get(code))
"""


def _paused_ingest(tmp_path) -> tuple[subprocess.Popen, Path]:
    flag = tmp_path / "merging"
    proc = subprocess.Popen([sys.executable, "-c", PAUSED, str(flag), *COUNTIES],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not flag.exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the ingest never reached the merge"
        time.sleep(0.2)
    return proc, flag


def test_ingest_killed_mid_merge_then_retried(clean, settings, expected, tmp_path):
    _exports(settings.landing)
    proc, _ = _paused_ingest(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert query(clean, "SELECT count(*) FROM audit.batches WHERE status = 'loaded'") == [(1,)]
    _ingest_all(clean, settings)   # the retry (the DAG task's next try)
    assert state(clean) == expected
    assert not any(settings.landing.rglob("manifest.json")), "every export left the landing area"


def test_warehouse_stopped_mid_load_then_restarted_and_retried(clean, settings, expected, tmp_path):
    from xuncha.warehouse import embedded

    if not settings.embedded:
        pytest.skip("stops the suite's own embedded server")
    _exports(settings.landing)
    proc, _ = _paused_ingest(tmp_path)
    assert embedded.stop(settings)          # fast shutdown: open transactions roll back
    proc.kill()
    proc.wait(30)
    embedded.start(settings)
    assert query(clean, "SELECT count(*) FROM audit.batches WHERE status = 'loaded'") == [(1,)]
    _ingest_all(clean, settings)
    assert state(clean) == expected


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs (root only); `grow()` remounts it with room."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")

    class Disk:
        path = mnt

        @staticmethod
        def grow():
            subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)

        @staticmethod
        def fill():
            st = os.statvfs(mnt)
            used_kib = (st.f_blocks - st.f_bfree) * st.f_frsize // 1024
            subprocess.run(["mount", "-o", f"remount,size={used_kib + 4}k", str(mnt)], check=True)

    yield Disk
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_archive_disk_full_records_nothing_as_loaded_until_the_move_finished(clean, settings, tiny_disk):
    full = dataclasses.replace(settings, archive=tiny_disk.path)
    [export] = [write_export(settings.landing, "410302", "410302-20190315-01", "2019-03-15",
                             slice_rows("410302", n_findings=3000))]
    sent = sorted(p.name for p in export.iterdir())
    [r] = _ingest_all(clean, full)   # ours, not the county's: the export ends `failed`, reported, and stays to retry
    assert r.status == "failed" and "No space left" in str(r.problems)
    assert query(clean, "SELECT status FROM audit.batches") == [("failed",)]
    assert query(clean, "SELECT count(*) FROM core.findings") == [(0,)]
    assert (export / "manifest.json").exists(), "still in the landing area"
    assert _names(tiny_disk.path) in ([], ["2019-03-15", "410302"]), "no partial copy, under any name"
    tiny_disk.grow()
    [r] = _ingest_all(clean, full)
    assert r.status == "loaded"
    archived = tiny_disk.path / "410302" / "2019-03-15" / "410302-20190315-01"
    assert sorted(p.name for p in archived.iterdir()) == sent
    assert not export.exists()


def test_archive_disk_full_records_no_duplicate_until_the_move_finished(clean, settings, tiny_disk):
    full = dataclasses.replace(settings, archive=tiny_disk.path)
    rows = slice_rows("410302", n_findings=3000)
    write_export(settings.landing, "410302", "410302-20190315-01", "2019-03-15", rows)
    tiny_disk.grow()
    _ingest_all(clean, full)
    tiny_disk.fill()
    # the archive disk is full now; the same export arrives again
    again = write_export(settings.landing, "410302", "410302-20190315-01", "2019-03-15", rows)
    [r] = _ingest_all(clean, full)
    assert r.status == "failed" and "No space left" in str(r.problems)
    assert query(clean, "SELECT status FROM audit.batches ORDER BY batch_id") == [("loaded",), ("failed",)]
    assert (again / "manifest.json").exists()


def test_quarantine_disk_full_leaves_the_export_in_the_landing_area(clean, settings, tiny_disk):
    full = dataclasses.replace(settings, quarantine=tiny_disk.path)
    rows = slice_rows("410302", n_findings=3000)
    rows["findings"][5]["found_date"] = "15/03/2019"
    export = write_export(settings.landing, "410302", "410302-20190315-01", "2019-03-15", rows)
    with pytest.raises(OSError, match="No space left"):
        _ingest_all(clean, full)
    assert query(clean, "SELECT status FROM audit.batches") == [("failed",)]
    assert (export / "manifest.json").exists()
    assert _names(tiny_disk.path) in ([], ["410302"]), "no partial copy, under any name"
    tiny_disk.grow()
    [r] = _ingest_all(clean, full)
    assert r.status == "quarantined"
    assert (tiny_disk.path / "410302" / "410302-20190315-01" / "_report.json").exists()


def test_a_full_snapshot_withdrawing_too_much_is_held_alerted_and_loads_once_confirmed(clean, settings):
    reg = registry.default()
    rows = slice_rows("410302", n_findings=30)
    first = write_export(settings.landing, "410302", "410302-20190315-01", "2019-03-15", rows, mode="full")
    [r] = pipeline.Ingestor(reg, url=clean).ingest_many([first], reg.get("410302"))
    assert r.status == "loaded"
    truncated = dict(rows, findings=rows["findings"][:2])          # a truncated extract: 28 of 30 would go
    held = write_export(settings.landing, "410302", "410302-20190316-01", "2019-03-16", truncated, mode="full",
                        generated_at="2019-03-16T23:30:00+08:00")
    # through the county's night: the pipeline returns what happened, its caller raises the alert
    [r] = county_night.run(reg, "410302", None, url=clean, exports=[inbox.receive(held)]).exports
    assert r.status == "quarantined"
    assert [p.rule for p in r.problems] == ["withdraw.held"] and "28 of" in r.problems[0].message
    assert query(clean, "SELECT count(*) FROM core.findings WHERE withdrawn_at IS NULL") == [(30,)]
    assert query(clean, "SELECT count(*) FROM core.rounds WHERE batch_id = %s", (r.batch_id,)) == [(0,)], "nothing of it loaded"
    [(msg,)] = query(clean, "SELECT message FROM audit.alerts WHERE kind = 'quarantined'")
    assert "withdraw.held" in msg
    # the operator confirms: the held folder, from quarantine
    again = settings.quarantine / "410302" / "410302-20190316-01"
    [r] = pipeline.Ingestor(reg, url=clean, move=False, confirm_withdraw=True).ingest_many([again], reg.get("410302"))
    assert r.status == "loaded", r.problems
    assert query(clean, "SELECT count(*) FROM core.findings WHERE withdrawn_at IS NULL") == [(2,)]


def test_a_small_withdrawal_is_not_held(clean, settings):
    reg = registry.default()
    rows = slice_rows("410302", n_findings=30)
    first = write_export(settings.landing, "410302", "410302-20190315-01", "2019-03-15", rows, mode="full")
    second = write_export(settings.landing, "410302", "410302-20190316-01", "2019-03-16",
                          dict(rows, findings=rows["findings"][:25]), mode="full", generated_at="2019-03-16T23:30:00+08:00")
    results = pipeline.Ingestor(reg, url=clean).ingest_many([first, second], reg.get("410302"))
    assert [r.status for r in results] == ["loaded", "loaded"]
    assert query(clean, "SELECT count(*) FROM core.findings WHERE withdrawn_at IS NULL") == [(25,)]


def test_the_ingest_paused_script_really_pauses_inside_the_publish(settings):
    """Guards the matrix itself: the hook it relies on (publish calls loading.merge through the module)."""
    import inspect

    from xuncha.load import publish

    assert "loading.merge(" in inspect.getsource(publish.publish)
    assert os.path.exists(shutil.which("mount") or "/bin/mount")
