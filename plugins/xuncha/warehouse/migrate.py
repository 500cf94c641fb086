"""Warehouse migrations: numbered plain-SQL files in sql/migrations, applied in order, each once; then the
repeatable objects of sql/repeatable, each re-applied whenever its checksum changes.

Versioned (sql/migrations/NNNN_name.sql): `audit.schema_migrations` records what is applied (version, file
name, checksum, when). Editing a file that is already applied is an error: add a new migration instead.

Repeatable (sql/repeatable/<name>.sql, as Flyway's `R__` files): objects that are redefined over time — the
as-of functions, the marts' `COMMENT ON` — live in one file each and are written to be run again (CREATE OR
REPLACE, or DROP IF EXISTS + CREATE). After the versioned migrations, every repeatable file whose checksum is
not the one recorded in `audit.repeatable_migrations` runs (in name order), so editing the file is how the object
changes. Each file runs in its own transaction; an advisory lock serialises concurrent runners (two DAG runs,
a CLI and a test).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from xuncha.settings import SQL_DIR

log = logging.getLogger(__name__)
MIGRATIONS_DIR = SQL_DIR / "migrations"
REPEATABLE_DIR = SQL_DIR / "repeatable"
_LOCK_ID = 0x58554E43  # "XUNC"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_REPEATABLE_NAME = re.compile(r"^[a-z][a-z0-9_.]*\.sql$")


class _SqlFile:
    """A SQL file of the repository (`path`), read as text and checksummed."""
    path: Path

    @property
    def sql(self) -> str:
        """The file's text."""
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        """SHA-256 (hex) of the file's bytes, as audit.schema_migrations records it; for a repeatable file a change
        re-applies it."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Migration(_SqlFile):
    """A versioned migration file, sql/migrations/NNNN_name.sql (`version` = NNNN), applied once and never edited."""
    version: int
    path: Path


@dataclass(frozen=True)
class Repeatable(_SqlFile):
    """A repeatable object's file (sql/repeatable/<name>.sql), applied again whenever its checksum changes."""
    path: Path

    @property
    def name(self) -> str:
        """The file name, e.g. `mart.clues_as_of.sql` (the key of its applied checksum)."""
        return self.path.name


class MigrationError(RuntimeError):
    """A migration file is misnamed, was edited after it was applied, or failed (the message names the file)."""


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of `directory`, by version. Raises MigrationError for a misnamed file or two files of
    one version."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_snake.sql")
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"two migrations with version {version}: {found[version].path.name}, {path.name}")
        found[version] = Migration(version, path)
    return [found[v] for v in sorted(found)]


def discover_repeatable(directory: Path = REPEATABLE_DIR) -> list[Repeatable]:
    """The repeatable files of `directory`, in name order (none when it does not exist)."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        if not _REPEATABLE_NAME.match(path.name):
            raise MigrationError(f"{path.name}: repeatable files are named lower_snake (dots allowed).sql")
        found.append(Repeatable(path))
    return found


def _ensure_table(cur) -> None:
    cur.execute("CREATE SCHEMA IF NOT EXISTS audit")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS audit.schema_migrations (
               version    integer PRIMARY KEY,
               name       text NOT NULL,
               checksum   text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    cur.execute(
        """CREATE TABLE IF NOT EXISTS audit.repeatable_migrations (
               name       text PRIMARY KEY,
               checksum   text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def applied(conn) -> dict[int, tuple[str, str]]:
    """Applied migrations, version → (file name, checksum); {} before audit.schema_migrations exists."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('audit.schema_migrations') IS NOT NULL")
        if not cur.fetchone()[0]:
            return {}
        cur.execute("SELECT version, name, checksum FROM audit.schema_migrations")
        return {v: (n, c) for v, n, c in cur.fetchall()}


def applied_versions(url: str | None = None) -> set[int]:
    """The versions applied on the warehouse at `url` (default: the owner's URL)."""
    from xuncha.warehouse import db

    with db.connect(url or db.owner_url()) as conn:
        return set(applied(conn))


def applied_repeatable(url: str | None = None) -> dict[str, str]:
    """Repeatable file name → checksum last applied."""
    from xuncha.warehouse import db

    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('audit.repeatable_migrations') IS NOT NULL")
        if not cur.fetchone()[0]:
            return {}
        cur.execute("SELECT name, checksum FROM audit.repeatable_migrations")
        return dict(cur.fetchall())


def _run(cur, path: Path, sql: str, record: str, args: tuple) -> None:
    cur.execute("BEGIN")
    try:
        cur.execute(sql)
        cur.execute(record, args)
        cur.execute("COMMIT")
    except Exception as exc:
        cur.execute("ROLLBACK")
        raise MigrationError(f"migration {path.name} failed: {exc}".strip()) from exc


def migrate(url: str | None = None, directory: Path = MIGRATIONS_DIR,
            repeatable_dir: Path | None = REPEATABLE_DIR, say=None, skip_if_current: bool = False) -> list[Migration]:
    """Apply every pending versioned migration as the owner (`url`, default db.owner_url()), then every new or
    changed repeatable file of `repeatable_dir` (None = none); then make the registry's county reader roles and
    re-apply grants and row-level security (xuncha.warehouse.roles.sync). Returns the versioned migrations applied (empty
    when up to date); the repeatable files applied are in `audit.repeatable_migrations` (applied_at). Raises
    MigrationError naming the file. While another process holds the migration lock, or a table a statement must lock,
    it says so through `say(line)` (default: a log warning) naming the holder, and Ctrl-C stops the wait
    (KeyboardInterrupt; xuncha.warehouse.lock_wait).

    `skip_if_current`: when the last full run recorded the same inputs (xuncha.warehouse.migration_state: the
    files, the registry, the roles code), skip it after one query, only setting role passwords from the environment;
    for commands that merely need a current schema (`xuncha ingest`), not for `xuncha db migrate` or `setup`."""
    import psycopg2

    from xuncha.warehouse import db, lock_wait, migration_state
    from xuncha.warehouse import roles

    say = say or log.warning
    url = url or db.owner_url()
    pending_done: list[Migration] = []
    migrations = discover(directory)
    repeatables = discover_repeatable(repeatable_dir) if repeatable_dir is not None else []
    inputs = migration_state.fingerprint(migrations, repeatables)
    if skip_if_current:
        with db.connect(url, autocommit=True) as conn, conn.cursor() as cur:
            if migration_state.recorded(cur) == inputs:
                roles.set_passwords(conn)
                return pending_done
    with db.connect(url, autocommit=True) as conn, conn.cursor() as cur, \
            lock_wait.watched(conn, url, "warehouse migration", say):
        cur.execute("SET application_name = %s", (lock_wait.application_name("migrate"),))
        lock_wait.advisory(cur, _LOCK_ID, "the warehouse migration lock", say)
        try:
            _ensure_table(cur)
            done = applied(conn)
            for mig in migrations:
                if mig.version in done:
                    name, checksum = done[mig.version]
                    if checksum != mig.checksum:
                        raise MigrationError(
                            f"migration {mig.path.name} was changed after it was applied (as {name}); "
                            "never edit an applied migration, add a new one"
                        )
                    continue
                _run(cur, mig.path, mig.sql,
                     "INSERT INTO audit.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                     (mig.version, mig.path.name, mig.checksum))
                pending_done.append(mig)
            if repeatable_dir is not None:
                cur.execute("SELECT name, checksum FROM audit.repeatable_migrations")
                recorded = dict(cur.fetchall())
                for rep in repeatables:
                    if recorded.get(rep.name) != rep.checksum:
                        _run(cur, rep.path, rep.sql,
                             """INSERT INTO audit.repeatable_migrations (name, checksum) VALUES (%s, %s)
                                ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()""",
                             (rep.name, rep.checksum))
            roles.sync(conn)
            migration_state.record(cur, inputs)
        finally:
            try:   # after Ctrl-C the connection may be unusable: closing it releases the lock too
                cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
            except (psycopg2.Error, KeyboardInterrupt):
                pass
    return pending_done
