"""One lock per county lineage, taken the same way by every entry point (issue 28).

A lineage is a county system and every system it continues or that continues it (config/counties.yml `successor`:
孟津区 410308 continues 吉利区 410306 and 孟津县 410322, so all three are one lineage). Its lock is a PostgreSQL
session advisory lock keyed on the lineage's root, the last successor (`root`): two-key form
`pg_advisory_lock(NAMESPACE, <root code>)`, so it shows in `pg_locks` as locktype `advisory`, classid NAMESPACE,
objid the root's code, and a waiter is a wait PostgreSQL sees (pg_locks.granted = false, pg_stat_activity
wait_event `advisory`). The holder's connection is named `xuncha lineage <root> (<county>)` (application_name).

xuncha.load.county_night.run takes it before fetching (so two runs of a pulled county never write the same
`.part` folder) and holds it to the end of the night; xuncha.load.pipeline.Ingestor takes it for each group of
exports, so a caller that bypasses county_night is serialised the same way. The lock is re-entrant within a thread
(the Ingestor inside county_night takes nothing more). A second run of the same lineage waits for the first (at most
`WAIT_SECONDS`, then `LineageBusy`), then finds nothing left to fetch or load. While a process holds the lock, no
other process has a batch of the lineage in flight: the reaper (xuncha.warehouse.batch_ledger.recover_stale) runs only
under it, and also checks each batch's recorded backend is gone.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from xuncha.registry import Registry

log = logging.getLogger(__name__)

NAMESPACE = 0x78756E   # "xun": pg_locks.classid of Xuncha's lineage locks
WAIT_SECONDS = 4 * 3600
"""How long a run waits for another run of its lineage (a long night's load) before giving up (`LineageBusy`)."""

_held = threading.local()


class LineageBusy(RuntimeError):
    """Another process held the lineage's lock for longer than the wait allowed; nothing was fetched or loaded."""


def root(registry: Registry, code: str) -> str:
    """The lineage root of county `code`: follow `successor` to the system that has none (410306 → 410308).
    KeyError for a code not in the registry."""
    county, seen = registry.get(code), {code}
    while county.successor and county.successor not in seen:
        seen.add(county.successor)
        county = registry.get(county.successor)
    return county.code


def key(root_code: str) -> tuple[int, int]:
    """The two int4 keys of the lineage's advisory lock: (NAMESPACE, the root's 6-digit code as a number; another
    code: its CRC-32 as a signed int4)."""
    if root_code.isdigit() and int(root_code) < 2 ** 31:
        return NAMESPACE, int(root_code)
    return NAMESPACE, zlib.crc32(root_code.encode()) - 2 ** 31


def _depths() -> dict[str, int]:
    if not hasattr(_held, "depths"):
        _held.depths = {}
    return _held.depths


def holds(registry: Registry, code: str) -> bool:
    """Does this thread hold the lock of `code`'s lineage?"""
    return _depths().get(root(registry, code), 0) > 0


@contextmanager
def held(url: str, registry: Registry, code: str, wait_seconds: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the lock of county `code`'s lineage for the block (re-entrant within the thread).

    Opens its own connection to the warehouse at `url` (the lock lives as long as it; a killed process's lock is
    freed when PostgreSQL sees its connection close). Waits for another holder up to `wait_seconds`, logging
    who holds it; raises LineageBusy after that, psycopg2 errors when the warehouse cannot be reached.
    """
    import psycopg2

    from xuncha.warehouse import db

    r = root(registry, code)
    depths = _depths()
    if depths.get(r):
        depths[r] += 1
        try:
            yield
        finally:
            depths[r] -= 1
        return
    with db.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SET application_name = %s", (f"xuncha lineage {r} ({code})",))
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", key(r))
        if not cur.fetchone()[0]:
            log.warning("%s: lineage %s is held by %s; waiting up to %d s", code, r, holder(cur, r), wait_seconds)
            cur.execute("SET lock_timeout = %s", (f"{max(1, int(wait_seconds * 1000))}ms",))
            try:
                cur.execute("SELECT pg_advisory_lock(%s, %s)", key(r))
            except psycopg2.errors.LockNotAvailable as exc:
                raise LineageBusy(f"county {code}: lineage {r} still held after {wait_seconds:.0f} s by "
                                  f"{holder(cur, r)}; nothing fetched or loaded (the next try waits again)") from exc
            cur.execute("RESET lock_timeout")
        depths[r] = 1
        try:
            yield
        finally:
            depths.pop(r, None)
            try:   # a broken connection has released it already
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", key(r))
            except psycopg2.Error:
                log.warning("%s: the connection holding lineage %s broke; its lock went with it", code, r)


def holder(cur, root_code: str) -> str:
    """Who holds lineage `root_code`'s lock: 'backend <pid> (<application_name>)', or 'nobody'."""
    cur.execute("""SELECT l.pid, a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid)
                    WHERE l.locktype = 'advisory' AND l.classid = %s::oid AND l.objid = %s::oid AND l.objsubid = 2
                      AND l.granted""", (key(root_code)[0], key(root_code)[1] % 2 ** 32))
    row = cur.fetchone()
    return f"backend {row[0]} ({row[1]})" if row else "nobody"
