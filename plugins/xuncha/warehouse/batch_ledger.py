"""The batch ledger: every write to audit.batches, audit.batch_files and audit.validation_results.

One row of audit.batches per attempt to take in an export (migration 0001/0004), with its status:
`received` (open) → `loaded` | `duplicate` | `quarantined` | `failed`. One row of audit.batch_files per file the
manifest lists (declared vs actual SHA-256 and row counts, then staged and merged counts), and the outcome of
every expectation per export in audit.validation_results. Every function takes an open psycopg2 connection
or cursor; the caller owns the transaction (the `loaded` status is written inside the publish transaction, so
it commits with the rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # annotations only: the warehouse imports no stage at run time
    from xuncha.extract.manifest import ExportFile, Manifest

def open_batch(conn, county_code: str, source: str, manifest: Manifest | None, export_id: str) -> int:
    """Record an attempt at an export (status `received`); returns its batch_id.

    `manifest` is None when it could not be read (the batch is then quarantined with the reason);
    `source` is where the export was taken from (its folder). The batch records its backend (holder_pid,
    holder_started; migration 0130), so the reaper can tell a live batch from an abandoned one.
    """
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO audit.batches (export_id, county_code, business_date, mode, source, manifest, declared_rows,
                                          holder_pid, holder_started)
               VALUES (%s, %s, %s, %s, %s, %s, %s, pg_backend_pid(),
                       (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())) RETURNING batch_id""",
            (export_id, county_code, manifest.business_date if manifest else None, manifest.mode if manifest else None,
             source, json.dumps(manifest.raw, ensure_ascii=False) if manifest else None,
             manifest.declared_rows if manifest else None),
        )
        return cur.fetchone()[0]


def already_loaded(conn, lineage: tuple[str, ...], export_id: str) -> bool:
    """Has `export_id` been loaded for this county or a system it continues (its lineage)?"""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM audit.batches WHERE county_code = ANY(%s) AND export_id = %s AND status = 'loaded'",
                    (list(lineage), export_id))
        return cur.fetchone() is not None


def record_files(conn, batch_id: int, files: Iterable[ExportFile], actual_sha256: dict[str, str]) -> None:
    """One audit.batch_files row per file the manifest lists, with the SHA-256 found on disk (None if absent)."""
    with conn.cursor() as cur:
        for f in files:
            cur.execute(
                """INSERT INTO audit.batch_files (batch_id, entity, path, format, encoding, declared_sha256, actual_sha256,
                                                  declared_rows)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                (batch_id, f.entity, f.path, f.format, f.encoding, f.sha256, actual_sha256.get(f.path), f.rows),
            )


def record_staged(conn, batch_id: int, entity: str, rows: int) -> None:
    """The data rows staged from the entity's file."""
    with conn.cursor() as cur:
        cur.execute("UPDATE audit.batch_files SET staged_rows = %s WHERE batch_id = %s AND entity = %s",
                    (rows, batch_id, entity))


def record_validation(conn, rows: list[tuple]) -> None:
    """audit.validation_results rows: (batch_id, entity, expectation, column_name, severity, success,
    element_count, unexpected_count, sample as JSON text)."""
    from psycopg2.extras import execute_values

    with conn.cursor() as cur:
        execute_values(cur, """INSERT INTO audit.validation_results (batch_id, entity, expectation, column_name, severity,
                                                                     success, element_count, unexpected_count, sample)
                               VALUES %s""", rows, page_size=1000)


def record_merge(cur, batch_id: int, entity: str, inserted: int, updated: int, unchanged: int, withdrawn: int) -> None:
    """What the merge into core did with one file (inside the publish transaction)."""
    cur.execute(
        """UPDATE audit.batch_files SET inserted_rows = %s, updated_rows = %s, unchanged_rows = %s, withdrawn_rows = %s
           WHERE batch_id = %s AND entity = %s""",
        (inserted, updated, unchanged, withdrawn, batch_id, entity),
    )


def mark_loaded(cur, batch_id: int, loaded_rows: int) -> None:
    """Status `loaded`, inside the publish transaction; finished_at is the commit, not its start (now())."""
    cur.execute("UPDATE audit.batches SET status = 'loaded', loaded_rows = %s, finished_at = clock_timestamp() "
                "WHERE batch_id = %s", (loaded_rows, batch_id))


def mark_duplicate(conn, batch_id: int) -> None:
    """Status `duplicate`: the export id was already loaded (a re-delivery); nothing of it was merged."""
    with conn.cursor() as cur:
        cur.execute("UPDATE audit.batches SET status = 'duplicate', finished_at = now() WHERE batch_id = %s", (batch_id,))


def mark_quarantined(conn, batch_id: int, error: str, report_path: str) -> None:
    """Status `quarantined`, with the first problems (at most 4,000 characters) and the report's path."""
    with conn.cursor() as cur:
        cur.execute("UPDATE audit.batches SET status = 'quarantined', error = %s, report_path = %s, finished_at = now() "
                    "WHERE batch_id = %s", (error[:4000], report_path, batch_id))


def mark_failed(conn, batch_ids: list[int], error: str) -> None:
    """Status `failed` for the batches of `batch_ids` still open (an error stopped their group)."""
    with conn.cursor() as cur:
        cur.execute("UPDATE audit.batches SET status = 'failed', error = %s, finished_at = now() "
                    "WHERE batch_id = ANY(%s) AND status = 'received'", (error[:4000], batch_ids))


def mark_failed_with_report(conn, batch_id: int, error: str, report_path: str) -> None:
    """Status `failed` for one export the platform could not handle (an error of ours), with its report's path."""
    with conn.cursor() as cur:
        cur.execute("UPDATE audit.batches SET status = 'failed', error = %s, report_path = %s, finished_at = now() "
                    "WHERE batch_id = %s", (error[:4000], report_path, batch_id))


def loaded_content(conn, lineage: tuple[str, ...], export_id: str) -> frozenset[tuple[str, str, str]] | None:
    """(entity, path, declared sha256) of the files of the loaded export with this id in the lineage; None if no
    export of that id is loaded (export spec §4.4: a re-send is the same files)."""
    with conn.cursor() as cur:
        cur.execute("SELECT batch_id FROM audit.batches WHERE county_code = ANY(%s) AND export_id = %s "
                    "AND status = 'loaded' ORDER BY batch_id LIMIT 1", (list(lineage), export_id))
        row = cur.fetchone()
        if row is None:
            return None
        cur.execute("SELECT entity, path, declared_sha256 FROM audit.batch_files WHERE batch_id = %s", (row[0],))
        return frozenset(cur.fetchall())


LIVE_HOLDER = """EXISTS (SELECT FROM pg_stat_activity a WHERE a.pid = b.holder_pid
                                 AND (a.backend_start IS NULL OR a.backend_start = b.holder_started))"""
"""SQL: batch `b`'s backend (recorded by open_batch, migration 0130) is still connected. A pid PostgreSQL reused
for a new session counts as alive when its start is hidden from us: a stale batch then waits one more night,
a live one is never reaped."""


def recover_stale(conn, lineage: tuple[str, ...]) -> tuple[list[int], list[str]]:
    """Clean up after processes that stopped: mark the lineage's `received` batches `failed` ("abandoned") and
    drop the staging tables (`staging.b<batch>_*`) of every batch of the lineage that is not in flight, also
    those of a batch killed after its commit but before its move (status `loaded`).

    Call only while holding the lineage's lock (xuncha.load.lineage_lock: nothing else of the lineage runs);
    a batch whose backend is still connected (LIVE_HOLDER) is left alone all the same. Returns (the ids marked
    failed, the staging tables dropped)."""
    with conn.cursor() as cur:
        cur.execute(f"""UPDATE audit.batches b SET status = 'failed', finished_at = now(),
                               error = 'abandoned: the process handling it stopped before it finished; staging dropped'
                         WHERE county_code = ANY(%s) AND status = 'received' AND NOT {LIVE_HOLDER}
                        RETURNING batch_id""", (list(lineage),))
        stale = sorted(r[0] for r in cur.fetchall())
        cur.execute(f"""SELECT format('%%I.%%I', t.schemaname, t.tablename)
                          FROM pg_tables t
                          JOIN audit.batches b ON b.batch_id = substring(t.tablename FROM '^b([0-9]+)_')::bigint
                         WHERE t.schemaname = 'staging' AND b.county_code = ANY(%s)
                           AND b.status <> 'received' AND NOT {LIVE_HOLDER}
                         ORDER BY 1""", (list(lineage),))
        dropped = [table for (table,) in cur.fetchall()]
        for table in dropped:
            cur.execute(f"DROP TABLE IF EXISTS {table} CASCADE")   # with a validation view left on it
    return stale, dropped
