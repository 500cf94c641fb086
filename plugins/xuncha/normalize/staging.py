"""Staging one export (the "write" of write-audit-publish): check its files, then stream each into staging.

The manifest's county code, file presence and SHA-256 are checked first (xuncha.extract.manifest); only a complete,
intact export is staged, one table per file (`staging.b<batch>_<entity>`, xuncha.normalize.parsing), in ENTITY_ORDER, and each
table is then trimmed and typed once (xuncha.normalize.typed).
Person references are replaced by their keyed hash while staging (xuncha.normalize.privacy). Every count goes into the
batch ledger. Problems come back as a list; nothing here raises for bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xuncha.warehouse import batch_ledger as ledger
from xuncha.extract import manifest as manifest_mod
from xuncha.normalize import parsing
from xuncha.normalize import typed
from xuncha.errors import Problem
from xuncha.registry import County
from xuncha.spec import ENTITY_ORDER, load_spec


@dataclass
class Staged:
    """An export's staged files: entity → staging table (schema.name) and entity → data rows staged."""

    tables: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def stage_export(conn, batch_id: int, manifest: manifest_mod.Manifest, export_dir: Path, county: County,
                 staged: Staged) -> list[Problem]:
    """Check the export's files and stage them into `staged`; returns the problems found (empty = staged whole).

    A staging table is named in `staged.tables` as soon as it is created, so the caller can drop it whatever
    happens. Rules: manifest.county, file.missing, file.sha256 (then nothing is staged), file.* from parsing,
    and file.rows when a file's data rows differ from the manifest's count.
    """
    actual_sha, problems = manifest_mod.check_files(manifest, export_dir, county.code)
    ledger.record_files(conn, batch_id, manifest.files, actual_sha)
    if problems:
        return problems
    spec = load_spec()
    hasher = None
    by_entity = {f.entity: f for f in manifest.files}
    for name in ENTITY_ORDER:
        f = by_entity.get(name)
        if f is None:
            continue
        entity = spec.entity(name)
        if any(c.type == "person" for c in entity.columns) and hasher is None:
            from xuncha.normalize.privacy import PersonHasher, person_key

            hasher = PersonHasher(person_key(), county.code)
        staged.tables[name] = parsing.staging_table(batch_id, name).as_string(conn)
        try:
            rows = parsing.stage_file(conn, batch_id, entity, export_dir / f.path, f.format, f.encoding, hasher)
            staged.rows[name] = rows
            with conn.cursor() as cur:   # trimmed and typed once, for validation and the merge (xuncha.normalize.typed)
                typed.cast_once(cur, staged.tables[name], entity)
        except parsing.StagingFailed as exc:
            problems.extend(exc.problems)
            continue
        ledger.record_staged(conn, batch_id, name, rows)
        if rows != f.rows:
            problems.append(Problem("file.rows", f"file has {rows} data rows, manifest declares {f.rows}",
                                    file=f.path, value=str(rows)))
    return problems


def drop(conn, staged: Staged) -> None:
    """Drop the export's staging tables (once it is published, quarantined or failed)."""
    with conn.cursor() as cur:
        for table in staged.tables.values():
            cur.execute(f"DROP TABLE IF EXISTS {table}")
