"""Waiting for a lock out loud, and stoppable: what `xuncha setup`/`make up` does while another process (a running
`make demo`, a DAG task) holds the warehouse's migration lock or a table that `audit.apply_access()` must alter.

- `advisory(cur, key, what, say)` takes a session advisory lock (`pg_advisory_lock(key)`), but first tries it
  (`pg_try_advisory_lock`); while it is held elsewhere it says once which lock it waits for and who holds it (the
  backend pid, its application_name and client address from pg_locks/pg_stat_activity: PostgreSQL tells what it
  knows) and polls every `poll_seconds`, so Ctrl-C (KeyboardInterrupt) stops the wait at once.
- `watched(conn, what, say)` wraps statements that may wait for a table lock (migrations, apply_access): a thread with
  its own connection looks every `poll_seconds` at what the session waits for (`pg_blocking_pids`, pg_stat_activity's
  wait_event) and says who blocks it; and a psycopg2 wait callback (psycopg2.extras.wait_select's loop, main thread
  only) makes Ctrl-C cancel the waiting statement (PQcancel) and raise KeyboardInterrupt instead of hanging in libpq.

`holders(cur, pids)` describes backends. Imports no Airflow.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
Say = Callable[[str], None]


def application_name(role: str) -> str:
    """A connection's application_name that tells another waiter who we are: `xuncha <role> pid <os pid> <command>`
    (at most 63 characters, PostgreSQL's limit)."""
    cmd = " ".join([Path(sys.argv[0]).name, *sys.argv[1:2]]) if sys.argv and sys.argv[0] else "python"
    return f"xuncha {role} pid {os.getpid()} {cmd}"[:63]


def holders(cur, pids: list[int]) -> str:
    """'backend <pid> (<application_name>, <client address>, <state> since <HH:MM:SS>)' for each backend pid, joined;
    'a backend PostgreSQL does not show' when pg_stat_activity hides it (another role without pg_read_all_stats)."""
    if not pids:
        return "a backend PostgreSQL does not show"
    cur.execute("""SELECT pid, application_name, client_addr, state, state_change FROM pg_stat_activity
                    WHERE pid = ANY(%s) ORDER BY pid""", (list(pids),))
    out = [f"backend {pid} ({app or 'no application_name'}, {addr or 'local socket'}, {state or '?'}"
           + (f" since {since:%H:%M:%S}" if since else "") + ")" for pid, app, addr, state, since in cur.fetchall()]
    return "; ".join(out) or ", ".join(f"backend {p}" for p in pids)


def advisory(cur, key: int, what: str, say: Say, poll_seconds: float = POLL_SECONDS) -> None:
    """Take session advisory lock `key` on `cur`'s connection (autocommit), saying once through `say` what it waits
    for (`what`) and who holds it when it is held elsewhere. Raises KeyboardInterrupt on Ctrl-C while waiting."""
    cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
    if cur.fetchone()[0]:
        return
    cur.execute("""SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s::oid
                      AND objid = %s::oid AND objsubid = 1""", (key >> 32, key & 0xFFFFFFFF))
    say(f"waiting for {what} (PostgreSQL advisory lock {key}), held by {holders(cur, [r[0] for r in cur.fetchall()])}; "
        "it is taken while migrations and audit.apply_access() run — Ctrl-C stops waiting")
    started = time.monotonic()
    while True:
        time.sleep(poll_seconds)
        cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
        if cur.fetchone()[0]:
            say(f"got {what} after {time.monotonic() - started:.0f} s")
            return


def _interruptible_wait(conn) -> None:
    """psycopg2 wait callback: psycopg2.extras.wait_select's loop, but Ctrl-C cancels the statement and the
    KeyboardInterrupt is raised once the server has cancelled it (not a QueryCanceled error)."""
    import psycopg2
    from psycopg2.extensions import POLL_OK, POLL_READ, POLL_WRITE

    interrupted = False
    while True:
        try:
            state = conn.poll()
            if state == POLL_OK:
                break
            if state == POLL_READ:
                select.select([conn.fileno()], [], [], 1.0)
            elif state == POLL_WRITE:
                select.select([], [conn.fileno()], [], 1.0)
            else:
                raise psycopg2.OperationalError(f"bad state from poll: {state}")
        except KeyboardInterrupt:
            conn.cancel()
            interrupted = True
        except psycopg2.errors.QueryCanceled:
            if interrupted:
                raise KeyboardInterrupt from None
            raise
    if interrupted:
        raise KeyboardInterrupt


def _watch(url: str, pid: int, what: str, say: Say, stop: threading.Event, poll_seconds: float) -> None:
    """Until `stop`: say who blocks backend `pid` whenever the set of blockers changes (once per set)."""
    from xuncha.warehouse import db

    told: set[int] = set()
    try:
        with db.connect(url, autocommit=True) as conn, conn.cursor() as cur:
            while not stop.wait(poll_seconds):
                cur.execute("""SELECT pg_blocking_pids(pid), wait_event_type, wait_event, left(query, 80)
                                 FROM pg_stat_activity WHERE pid = %s""", (pid,))
                row = cur.fetchone()
                blockers = set(row[0]) if row and row[0] else set()
                if blockers and blockers != told:
                    say(f"{what}: waiting for a {row[2] or '?'} lock ({row[1] or '?'}) for `{' '.join(row[3].split())}`, "
                        f"held by {holders(cur, sorted(blockers))} — Ctrl-C stops waiting")
                told = blockers or told
    except Exception as exc:   # watching is a courtesy: the statement it watches goes on without it
        log.debug("lock watcher stopped: %s", exc)


@contextlib.contextmanager
def watched(conn, url: str, what: str, say: Say, poll_seconds: float = POLL_SECONDS) -> Iterator[None]:
    """Run the block's statements on `conn` (whose server is at `url`) with lock waits reported through `say` and,
    in the main thread, Ctrl-C cancelling a waiting statement (KeyboardInterrupt). Restores psycopg2's previous wait
    callback after; other threads keep psycopg2's blocking calls."""
    from psycopg2 import extensions

    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(url, pid, what, say, stop, poll_seconds), daemon=True,
                               name="xuncha-lock-watch")
    watcher.start()
    main = threading.current_thread() is threading.main_thread()
    previous = extensions.get_wait_callback()
    if main:
        extensions.set_wait_callback(_interruptible_wait)
    try:
        yield
    finally:
        if main:
            extensions.set_wait_callback(previous)
        stop.set()
        watcher.join(timeout=5)
