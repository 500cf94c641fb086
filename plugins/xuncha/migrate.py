"""Warehouse migrations: numbered plain-SQL files in sql/migrations, applied in order, each once.

`audit.schema_migrations` records what is applied (version, file name, checksum, when). Each file runs
in its own transaction; an advisory lock serialises concurrent runners (two DAG runs, a CLI and a test).
Editing a file that is already applied is an error: add a new migration instead.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from xuncha.settings import SQL_DIR

MIGRATIONS_DIR = SQL_DIR / "migrations"
_LOCK_ID = 0x58554E43  # "XUNC"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


class MigrationError(RuntimeError):
    pass


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
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


def _ensure_table(cur) -> None:
    cur.execute("CREATE SCHEMA IF NOT EXISTS audit")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS audit.schema_migrations (
               version    integer PRIMARY KEY,
               name       text NOT NULL,
               checksum   text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def applied(conn) -> dict[int, tuple[str, str]]:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('audit.schema_migrations') IS NOT NULL")
        if not cur.fetchone()[0]:
            return {}
        cur.execute("SELECT version, name, checksum FROM audit.schema_migrations")
        return {v: (n, c) for v, n, c in cur.fetchall()}


def applied_versions(url: str | None = None) -> set[int]:
    from xuncha import db

    with db.connect(url or db.owner_url()) as conn:
        return set(applied(conn))


def migrate(url: str | None = None, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply every pending migration as the owner (`url`, default db.owner_url()); then make the registry's county
    reader roles and re-apply grants and row-level security (xuncha.roles.sync). Returns the migrations applied
    (empty when up to date)."""
    from xuncha import db, roles

    pending_done: list[Migration] = []
    with db.connect(url or db.owner_url(), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            _ensure_table(cur)
            done = applied(conn)
            for mig in discover(directory):
                if mig.version in done:
                    name, checksum = done[mig.version]
                    if checksum != mig.checksum:
                        raise MigrationError(
                            f"migration {mig.path.name} was changed after it was applied (as {name}); "
                            "never edit an applied migration, add a new one"
                        )
                    continue
                cur.execute("BEGIN")
                try:
                    cur.execute(mig.sql)
                    cur.execute(
                        "INSERT INTO audit.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (mig.version, mig.path.name, mig.checksum),
                    )
                    cur.execute("COMMIT")
                except Exception as exc:
                    cur.execute("ROLLBACK")
                    raise MigrationError(f"migration {mig.path.name} failed: {exc}".strip()) from exc
                pending_done.append(mig)
            roles.sync(conn)
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return pending_done
