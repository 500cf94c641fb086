"""The marts on both cores: a refresh's mart files run here or on a second connection, published in one transaction.

A refresh (xuncha.metrics.marts.refresh_on) runs every file of sql/marts once per pass (`run_pass`). Its files are
`DELETE` + `INSERT … SELECT`, which PostgreSQL never plans in parallel, so one connection uses one core. `Split`
gives the files other than `MAIN` (term_headline, the longest, and the long lists) to a second connection that runs at
the same time on the refresh's own snapshot:

1. the refresh connection (holding the marts lock, crosswalk synced) exports its snapshot (`pg_export_snapshot`);
2. the worker starts a REPEATABLE READ transaction on it (`SET TRANSACTION SNAPSHOT`, as `pg_dump -j` does), runs
   its files for every pass exactly as the refresh connection would, copies out the rows its transaction wrote
   (`xmin` = its transaction id; COPY TO STDOUT into memory: a few thousand rows a day, as the marts are) and
   rolls back — nothing it did is ever seen by anyone;
3. the refresh transaction, after its own files, deletes the same scopes (`scope_delete`) and inserts the rows
   (COPY into a temporary table, then INSERT … SELECT: COPY FROM is refused under row-level security), then
   commits with the refresh log and the watermarks.

So readers see the old or the new figures of every mart, never a mix (one commit), and the figures are those of the
serial refresh (tests/test_marts_parallel.py). The worker's snapshot is the refresh connection's at step 1, which
does not hold that connection's own writes: marts.refresh syncs the crosswalk in a commit of its own first, and a
refresh whose crosswalk sync still changed rows runs serially. The only marts a worker file reads, satisfaction_by_org
(for satisfaction and ledger_satisfaction, sql/marts/*.yml `depends_on`), run on the worker before their readers.
The MAIN lists read the as-of functions only. Measured gains: docs/performance.md, "Issue 26, P4".
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from xuncha.warehouse import db

MAIN = ("term_headline", "freshness", "ledger_clues", "ledger_uninspected")
"""Files the refresh connection runs itself: term_headline (the longest statement; it also writes
mart.state_horizon and reads mart.refresh_log, which the refresh writes between passes), freshness (a TRUNCATE,
whose ACCESS EXCLUSIVE lock a worker must not hold) and the two lists with a row per clue or organisation (台账:
at 1 M findings 49,000 and 48,000 rows a day, which cost more to copy across, 1.7-2.0 s, than to compute here,
0.5 s each; they read the as-of functions only, no mart the worker writes)."""

DELETE_DATED = ("DELETE FROM mart.{} WHERE as_of = ANY(%(dates)s::date[])"
                " AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]))")
DELETE_UNDATED = "DELETE FROM mart.{} WHERE %(counties)s::text[] IS NULL OR county_code = ANY(%(counties)s::text[])"


@dataclass(frozen=True)
class Pass:
    """One pass of a refresh: the mart files' `params` (config/metrics.yml's, `counties`, `units`, `sources`), the
    `days` computed, the days whose lists (台账) are kept (`list_days`), whether it is the `first` pass (the marts
    that are not dated series run in it alone) and the names of the list marts (`lists`)."""
    params: dict
    days: list
    list_days: list
    first: bool
    lists: frozenset


def run_pass(cur, files: list[tuple[str, str]], p: Pass) -> list[tuple[str, dict]]:
    """Run the mart `files` ((stem, SQL) in refresh order) for one pass on `cur`. Returns the scopes replaced, as
    (stem, params of `scope_delete`): a list's days outside `list_days` are deleted; other dated files run on
    the days in statements of marts.DAYS_PER_STATEMENT days."""
    from xuncha.metrics.marts import DAYS_PER_STATEMENT

    scopes = []
    for stem, sql in files:
        if "%(dates)s" in sql:
            run_days = p.days
            if stem in p.lists:
                run_days = p.list_days
                if dropped := sorted(set(p.days) - set(p.list_days)):
                    scope = {"dates": dropped, "units": p.params["units"]}
                    cur.execute(*scope_delete(stem, scope))
                    scopes.append((stem, scope))
            for i in range(0, len(run_days), DAYS_PER_STATEMENT):
                chunk = run_days[i:i + DAYS_PER_STATEMENT]
                cur.execute(sql, p.params | {"dates": chunk})
                scopes.append((stem, {"dates": chunk, "units": p.params["units"]}))
        elif p.first:                       # not a dated series (findings_by_category, freshness): once
            cur.execute(sql, p.params)
            scopes.append((stem, {"counties": p.params["counties"]}))
    return scopes


def scope_delete(stem: str, scope: dict) -> tuple[str, dict]:
    """The DELETE (SQL, params) of one scope `run_pass` returned: the rows of mart `stem` its file replaces (the
    first statement of every file in sql/marts: dated marts by day and unit, findings_by_category by county)."""
    return (DELETE_DATED if "dates" in scope else DELETE_UNDATED).format(stem), scope


class Split:
    """One refresh's second connection (to warehouse `url`): `start` hands it files, `publish` takes their rows
    into the refresh transaction, `close` ends it (cancelling a worker still running when the refresh failed)."""

    def __init__(self, url: str | None):
        self.url = url
        self.scopes: list[tuple[str, dict]] = []
        self.rows: dict[str, io.BytesIO] = {}
        self._error: BaseException | None = None
        self._conn = None
        self._thread: threading.Thread | None = None

    def start(self, cur, plan: list[Pass], files: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Export the snapshot of the refresh connection `cur` and start the worker on the files not in MAIN, for
        every pass of `plan`. Returns the files left to the refresh connection (all of them when none is left
        for the worker)."""
        there = [f for f in files if f[0] not in MAIN]
        if not there:
            return files
        cur.execute("SELECT pg_export_snapshot()")
        snapshot = cur.fetchone()[0]
        self._thread = threading.Thread(target=self._work, args=(snapshot, plan, there), name="xuncha-marts-worker",
                                        daemon=True)
        self._thread.start()
        return [f for f in files if f[0] in MAIN]

    def _work(self, snapshot: str, plan: list[Pass], files: list[tuple[str, str]]) -> None:
        """The worker thread: run `files` on the imported `snapshot`, keep the rows written, roll back."""
        try:
            with db.connect(self.url) as conn:
                self._conn = conn
                conn.commit()           # a session setting made on connecting stays; the transaction starts here
                with conn.cursor() as cur:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    cur.execute("SET TRANSACTION SNAPSHOT %s", (snapshot,))
                    cur.execute("SET LOCAL enable_nestloop = off")   # as the refresh connection (marts.refresh_on)
                    for p in plan:
                        self.scopes += run_pass(cur, files, p)
                    cur.execute("SELECT pg_current_xact_id_if_assigned()::text")
                    xid = cur.fetchone()[0]     # xid8 (with its epoch); a row's xmin is the low 32 bits
                    for stem in dict.fromkeys(s for s, _ in self.scopes):
                        buf = io.BytesIO()
                        if xid is not None:
                            sql = f"COPY (SELECT * FROM mart.{stem} WHERE xmin = %s::xid) TO STDOUT"
                            cur.copy_expert(cur.mogrify(sql, (str(int(xid) % 2**32),)).decode(), buf)
                        buf.seek(0)
                        self.rows[stem] = buf
                conn.rollback()
        except BaseException as exc:    # handed to the refresh thread by publish()
            self._error = exc

    def publish(self, cur) -> None:
        """Wait for the worker, then in the refresh transaction (`cur`) delete every scope it replaced and copy its
        rows in. Raises the worker's error, if any (the refresh then rolls back)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        for stem, scope in self.scopes:
            cur.execute(*scope_delete(stem, scope))
        for stem, buf in self.rows.items():     # COPY into a mart is refused under row-level security (migration
            # 0040's county readers run the CLI's refreshes): COPY into a temporary copy, then INSERT as the file does
            cur.execute(f"CREATE TEMP TABLE published_{stem} (LIKE mart.{stem}) ON COMMIT DROP")
            cur.copy_expert(f"COPY published_{stem} FROM STDIN", buf)
            cur.execute(f"INSERT INTO mart.{stem} SELECT * FROM published_{stem}; DROP TABLE published_{stem}")

    def close(self) -> None:
        """Cancel a worker still running (the refresh failed before publishing) and wait for it."""
        if self._thread is not None and self._thread.is_alive():
            if self._conn is not None:
                self._conn.cancel()
            self._thread.join()
