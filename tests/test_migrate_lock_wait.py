"""`make up` (its `xuncha setup`) while another process holds the warehouse's migration lock or a table a migration
step must lock: it says what it waits for and who holds it, and Ctrl-C ends the wait at once — a real `xuncha db
migrate` (what setup runs first) in a subprocess against the suite's PostgreSQL, the holder a real session."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from xuncha.warehouse import db, migrate

XUNCHA = str(Path(sys.executable).with_name("xuncha"))


def _start_migrate() -> tuple[subprocess.Popen, queue.Queue]:
    # As from a terminal: Ctrl-C's default disposition. A suite started in the background (`cmd &`, nohup, some CI
    # runners) has SIGINT ignored, which a child inherits, and Python then installs no KeyboardInterrupt for it.
    proc = subprocess.Popen([XUNCHA, "db", "migrate"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=os.environ | {"COLUMNS": "400"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    return proc, lines


def _wait_for(lines: queue.Queue, needle: str, seconds: float = 120) -> str:
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if needle in line:
            return " ".join("".join(seen[-3:]).split())
    pytest.fail(f"never said {needle!r}: {''.join(seen)[-2000:]}")


def _ctrl_c_exits_promptly(proc: subprocess.Popen) -> float:
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)   # Ctrl-C: the terminal signals the foreground process group
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("still waiting 15 s after Ctrl-C")
    return time.monotonic() - started


@pytest.mark.parametrize("held", ["migration-lock", "table-lock"])
def test_migrate_says_which_lock_it_waits_for_and_who_holds_it_and_ctrl_c_ends_the_wait(warehouse, held):
    with db.connect(warehouse, autocommit=True) as holder, holder.cursor() as cur:
        cur.execute("SET application_name = 'make demo stand-in'")
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        if held == "migration-lock":
            cur.execute("SELECT pg_advisory_lock(%s)", (migrate._LOCK_ID,))
        else:   # a long transaction holding what migrate reads first: its ledger
            cur.execute("BEGIN")
            cur.execute("LOCK TABLE audit.schema_migrations IN ACCESS EXCLUSIVE MODE")
        proc, lines = _start_migrate()
        try:
            said = _wait_for(lines, f"backend {pid} (make demo stand-in")
            assert ("waiting for the warehouse migration lock" if held == "migration-lock"
                    else "warehouse migration: waiting for a relation lock (Lock) for `SELECT") in said, said
            assert "Ctrl-C stops waiting" in said
            assert _ctrl_c_exits_promptly(proc) < 5
            assert proc.returncode != 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            if held == "migration-lock":
                cur.execute("SELECT pg_advisory_unlock(%s)", (migrate._LOCK_ID,))
            else:
                cur.execute("ROLLBACK")
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'xuncha migrate pid %%'")
        deadline = time.monotonic() + 10
        while cur.fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.2)
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'xuncha migrate pid %%'")
    assert migrate.migrate(warehouse) == [], "the interrupted run left the lock free and the schema as it was"


def test_migrate_goes_on_by_itself_once_the_holder_lets_go(warehouse):
    said = []
    with db.connect(warehouse, autocommit=True) as holder, holder.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (migrate._LOCK_ID,))
        t = threading.Thread(target=lambda: said.append(migrate.migrate(warehouse, say=said.append)))
        t.start()
        deadline = time.monotonic() + 60
        while not said and time.monotonic() < deadline:
            time.sleep(0.1)
        cur.execute("SELECT pg_advisory_unlock(%s)", (migrate._LOCK_ID,))
        t.join(timeout=120)
    assert said[0].startswith("waiting for the warehouse migration lock") and said[-1] == []
    assert any(str(s).startswith("got the warehouse migration lock after") for s in said)
