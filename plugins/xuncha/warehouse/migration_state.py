"""The fingerprint of a completed `migrate` run, so that a process with nothing to apply skips the run (issue 26, P5).

`xuncha.warehouse.migrate.migrate` takes the migration lock, checks every versioned file's checksum, reads the
repeatable files' checksums and re-applies roles, grants and row-level security (`roles.sync`) on every call:
about 0.1-0.3 s of a small export's `xuncha ingest`. Its outcome depends only on its inputs: the versioned and
repeatable files, the county registry (config/counties.yml: one reader role per code) and the code of
`xuncha.warehouse.roles`. A full run records a SHA-256 over all of them in `audit.migration_state` (one row);
a caller that allows it (`migrate(skip_if_current=True)`) compares that row with its own fingerprint in one query
and, when equal, skips the run. Role passwords come from the environment and are never part of the fingerprint
(nor stored): when any is set, the skipped run still sets them (`roles.set_passwords`).

What the fingerprint cannot see: a change made by hand in the database (a dropped role or grant). `xuncha db
migrate` and `xuncha setup` always do the full run, which repairs such drift.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

TABLE_DDL = """CREATE TABLE IF NOT EXISTS audit.migration_state (
                   only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                   fingerprint text NOT NULL,
                   recorded_at timestamptz NOT NULL DEFAULT now())"""
"""The one-row table of the last full run's fingerprint (made by migrate's own bookkeeping, as
audit.schema_migrations is)."""


def fingerprint(migrations: list, repeatables: list, registry_file: Path | None = None) -> str:
    """SHA-256 (hex) of a full run's inputs: each versioned and repeatable file's name and checksum (`migrations`,
    `repeatables`: migrate.Migration / migrate.Repeatable), the registry file's bytes (default: counties.yml of
    the config folder, XUNCHA_CONFIG; absent counts as empty) and the source of xuncha.warehouse.roles."""
    from xuncha.settings import get_settings
    from xuncha.warehouse import roles

    h = hashlib.sha256()
    for f in [*migrations, *repeatables]:
        h.update(f"{f.path.name}\0{f.checksum}\n".encode())
    path = registry_file or get_settings().config_dir / "counties.yml"
    h.update(b"registry\0" + (path.read_bytes() if path.exists() else b"") + b"\n")
    h.update(b"roles\0" + Path(roles.__file__).read_bytes())
    return h.hexdigest()


def recorded(cur) -> str | None:
    """The fingerprint of the last full run (one query), or None before any was recorded. `cur`: a cursor of an
    autocommit connection (a missing table must not abort a transaction)."""
    import psycopg2.errors

    try:
        cur.execute("SELECT fingerprint FROM audit.migration_state")
    except (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName):
        return None
    row = cur.fetchone()
    return row[0] if row else None


def record(cur, value: str) -> None:
    """Store `value` as the last full run's fingerprint (the table made if needed)."""
    cur.execute(TABLE_DDL)
    cur.execute("""INSERT INTO audit.migration_state (fingerprint) VALUES (%s)
                   ON CONFLICT (only_row) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, recorded_at = now()""",
                (value,))
