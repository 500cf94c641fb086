"""One export, end to end: manifest → files → staging → validation → publish, or quarantine.

This is the single code path used by the Airflow DAGs and by `xuncha ingest`. Guarantees:
- all-or-nothing: every file of an export is published in one transaction, or none is;
- idempotent: an export id loads once per county (a re-delivery is recorded as `duplicate`), and rows only
  ever move forward in `updated_at`, so a retry or an older night changes nothing;
- nothing of a rejected export reaches core: it is moved to quarantine with a report naming file, row,
  column, rule and value, and every attempt is in audit.batches.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from xuncha import db, loading, manifest as manifest_mod, parsing, quarantine
from xuncha.errors import Problem
from xuncha.registry import County, Registry
from xuncha.settings import Settings, get_settings
from xuncha.spec import ENTITY_ORDER, load_spec

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    county_code: str
    export_id: str
    status: str  # loaded | duplicate | quarantined
    batch_id: int | None = None
    business_date: dt.date | None = None
    generated_at: dt.datetime | None = None
    files: list[loading.FileLoad] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    moved_to: Path | None = None
    data_docs: str | None = None

    @property
    def entities(self) -> list[str]:
        return [f.entity for f in self.files if f.inserted or f.updated or f.withdrawn]

    def summary(self) -> dict:
        return {
            "county_code": self.county_code, "export_id": self.export_id, "status": self.status,
            "batch_id": self.batch_id, "business_date": self.business_date.isoformat() if self.business_date else None,
            "inserted": sum(f.inserted for f in self.files), "updated": sum(f.updated for f in self.files),
            "unchanged": sum(f.unchanged for f in self.files), "withdrawn": sum(f.withdrawn for f in self.files),
            "changed_entities": self.entities, "problems": [str(p) for p in self.problems[:20]],
            "warnings": len(self.warnings),
        }


def _night_key(d: Path) -> tuple[str, str, str]:
    """Sort key of an export folder: business date, generation time, name (unreadable manifests sort first)."""
    try:
        raw = json.loads((d / "manifest.json").read_text(encoding="utf-8-sig"))
        return str(raw.get("business_date", "")), str(raw.get("generated_at", "")), d.name
    except (OSError, ValueError, AttributeError):
        return "", "", d.name  # quarantined with a clear reason when ingested


def night_of(d: Path) -> str:
    """Business date (ISO) an export folder declares, or "" if its manifest cannot be read."""
    return _night_key(d)[0]


def pending_exports(county: County, settings: Settings | None = None, up_to: dt.date | None = None) -> list[Path]:
    """Export folders waiting in the county's landing area for nights up to `up_to`, oldest night first."""
    root = county.landing_dir((settings or get_settings()).landing)
    if not root.is_dir():
        return []
    keyed = [(_night_key(d), d) for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "_"))]
    return [d for key, d in sorted(keyed) if up_to is None or key[0] == "" or key[0] <= up_to.isoformat()]


def find_exports(path: Path) -> list[Path]:
    """`path` itself if it is an export folder, else every export folder below it; oldest night first."""
    if (path / "manifest.json").is_file():
        return [path]
    return sorted((m.parent for m in path.rglob("manifest.json")), key=_night_key)


def county_of(export_dir: Path, registry: Registry) -> str:
    """The county an export folder belongs to: its parent folder's name if that is a registry code, else its manifest's."""
    codes = {c.code for c in registry.counties}
    if export_dir.parent.name in codes:
        return export_dir.parent.name
    try:
        code = json.loads((export_dir / "manifest.json").read_text(encoding="utf-8-sig"))["county_code"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{export_dir}: cannot tell its county (name it with --county)") from None
    if code not in codes:
        raise ValueError(f"{export_dir}: county {code} is not in the registry")
    return code


class Ingestor:
    """Holds what is costly to build (the GX context, the person key) across the exports of one task."""

    def __init__(self, registry: Registry, url: str | None = None, settings: Settings | None = None, move: bool = True):
        """`move`: take exports out of their folder once handled (to the archive or quarantine area), as the
        nightly DAG does with the landing area; False leaves the source folders as they are (backfills)."""
        self.registry = registry
        self.move = move
        self.url = url or db.warehouse_url()
        self.settings = settings or get_settings()
        self._validator = None

    @property
    def validator(self):
        if self._validator is None:
            from xuncha.validation import Validator

            self._validator = Validator(self.url)
        return self._validator

    def ingest(self, export_dir: Path, county: County) -> BatchResult:
        lineage = self.registry.lineage(county.code)
        manifest, problems = manifest_mod.read(export_dir)
        export_id = manifest.export_id if manifest else export_dir.name
        result = BatchResult(county.code, export_id, "received", business_date=manifest.business_date if manifest else None,
                             generated_at=manifest.generated_at if manifest else None)
        staged: dict[str, str] = {}
        with db.connect(self.url, autocommit=True) as conn:
            result.batch_id = self._open_batch(conn, county, export_dir, manifest, export_id)
            try:
                if manifest and not problems and self._already_loaded(conn, lineage, export_id):
                    return self._finish(conn, result, "duplicate", export_dir)
                if manifest and not problems:
                    problems = self._check_and_stage(conn, result, manifest, export_dir, county, staged)
                if manifest and not problems:
                    problems = self._validate(conn, result, manifest, staged, lineage)
                if problems:
                    result.problems = problems
                    return self._quarantine(conn, result, county, export_dir)
                self._publish(result, manifest, county, lineage, staged)
                return self._finish(conn, result, "loaded", export_dir)
            except Exception as exc:
                with conn.cursor() as cur:
                    cur.execute("UPDATE audit.batches SET status = 'failed', error = %s, finished_at = now() WHERE batch_id = %s",
                                (f"{type(exc).__name__}: {exc}"[:4000], result.batch_id))
                raise
            finally:
                with conn.cursor() as cur:
                    for table in staged.values():
                        cur.execute(f"DROP TABLE IF EXISTS {table}")

    # -- steps -----------------------------------------------------------------------------------------

    def _open_batch(self, conn, county: County, export_dir: Path, manifest, export_id: str) -> int:
        with conn.cursor() as cur:
            cur.execute(
                """INSERT INTO audit.batches (export_id, county_code, business_date, mode, source, manifest, declared_rows)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING batch_id""",
                (export_id, county.code, manifest.business_date if manifest else None, manifest.mode if manifest else None,
                 str(export_dir), json.dumps(manifest.raw, ensure_ascii=False) if manifest else None,
                 manifest.declared_rows if manifest else None),
            )
            return cur.fetchone()[0]

    @staticmethod
    def _already_loaded(conn, lineage: tuple[str, ...], export_id: str) -> bool:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM audit.batches WHERE county_code = ANY(%s) AND export_id = %s AND status = 'loaded'",
                        (list(lineage), export_id))
            return cur.fetchone() is not None

    def _check_and_stage(self, conn, result: BatchResult, manifest, export_dir: Path, county: County,
                         staged: dict[str, str]) -> list[Problem]:
        actual_sha, problems = manifest_mod.check_files(manifest, export_dir, county.code)
        with conn.cursor() as cur:
            for f in manifest.files:
                cur.execute(
                    """INSERT INTO audit.batch_files (batch_id, entity, path, format, encoding, declared_sha256, actual_sha256, declared_rows)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                    (result.batch_id, f.entity, f.path, f.format, f.encoding, f.sha256, actual_sha.get(f.path), f.rows),
                )
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
                from xuncha.privacy import PersonHasher, person_key

                hasher = PersonHasher(person_key(), county.code)
            staged[name] = parsing.staging_table(result.batch_id, name).as_string(conn)
            try:
                rows = parsing.stage_file(conn, result.batch_id, entity, export_dir / f.path, f.format, f.encoding, hasher)
            except parsing.StagingFailed as exc:
                problems.extend(exc.problems)
                continue
            with conn.cursor() as cur:
                cur.execute("UPDATE audit.batch_files SET staged_rows = %s WHERE batch_id = %s AND entity = %s",
                            (rows, result.batch_id, name))
            if rows != f.rows:
                problems.append(Problem("file.rows", f"file has {rows} data rows, manifest declares {f.rows}",
                                        file=f.path, value=str(rows)))
        return problems

    def _validate(self, conn, result: BatchResult, manifest, staged: dict[str, str], lineage: tuple[str, ...]) -> list[Problem]:
        problems: list[Problem] = []
        files = {f.entity: f.path for f in manifest.files}
        with conn.cursor() as cur:
            for entity, table in staged.items():
                for o in self.validator.validate(entity, table, staged, lineage):
                    cur.execute(
                        """INSERT INTO audit.validation_results (batch_id, entity, expectation, column_name, severity, success,
                                                                 element_count, unexpected_count, sample)
                           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                        (result.batch_id, entity, f"{o.expectation}: {o.description}", o.column, o.severity, o.success,
                         o.element_count, o.unexpected_count, json.dumps(o.sample, ensure_ascii=False)),
                    )
                    if o.success:
                        continue
                    found = [
                        Problem(f"row.invalid:{o.expectation}", f"{o.description} ({o.unexpected_count} row(s) fail)",
                                file=files.get(entity), row=s["row"], column=o.column, value=s["value"], severity=o.severity)
                        for s in o.sample
                    ] or [Problem(f"row.invalid:{o.expectation}", f"{o.description} ({o.unexpected_count} row(s) fail)",
                                  file=files.get(entity), column=o.column, severity=o.severity)]
                    if "refers to" in o.description:
                        found = [Problem("row.reference" + p.rule[len("row.invalid"):], p.message, p.file, p.row, p.column,
                                         p.value, p.severity) for p in found]
                    (problems if o.blocking else result.warnings).extend(found)
        result.data_docs = self.validator.publish_docs(f"{result.county_code}-{result.export_id}", bool(problems or result.warnings))
        return problems

    def _publish(self, result: BatchResult, manifest, county: County, lineage: tuple[str, ...], staged: dict[str, str]) -> None:
        spec = load_spec()
        with db.connect(self.url) as conn, conn.cursor() as cur:
            # One writer per county lineage at a time; other counties publish in parallel.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("xuncha:" + lineage[-1],))
            if self._already_loaded(conn, lineage, result.export_id):
                raise RuntimeError(f"export {result.export_id} was loaded concurrently")
            for name, table in staged.items():
                entity = spec.entity(name)
                load = loading.merge(cur, entity, table, county.code, lineage, result.batch_id)
                if manifest.mode == "full":
                    withdrawn = loading.withdraw_absent(cur, entity, table, lineage, result.batch_id, manifest.generated_at)
                    load = loading.FileLoad(name, load.staged, load.inserted, load.updated, withdrawn)
                cur.execute(
                    """UPDATE audit.batch_files SET inserted_rows = %s, updated_rows = %s, unchanged_rows = %s, withdrawn_rows = %s
                       WHERE batch_id = %s AND entity = %s""",
                    (load.inserted, load.updated, load.unchanged, load.withdrawn, result.batch_id, name),
                )
                result.files.append(load)
            loaded = sum(f.staged for f in result.files)
            if loaded != manifest.declared_rows:
                raise RuntimeError(f"reconciliation failed: loaded {loaded} rows, manifest declares {manifest.declared_rows}")
            cur.execute(
                "UPDATE audit.batches SET status = 'loaded', loaded_rows = %s, finished_at = now() WHERE batch_id = %s",
                (loaded, result.batch_id),
            )

    def _finish(self, conn, result: BatchResult, status: str, export_dir: Path) -> BatchResult:
        result.status = status
        if status == "duplicate":
            with conn.cursor() as cur:
                cur.execute("UPDATE audit.batches SET status = 'duplicate', finished_at = now() WHERE batch_id = %s",
                            (result.batch_id,))
        day = result.business_date.isoformat() if result.business_date else "unknown"
        if self.move:
            result.moved_to = quarantine.move_unique(export_dir, self.settings.archive / result.county_code / day, export_dir.name)
        log.info("%s %s: %s", result.county_code, result.export_id, status)
        return result

    def _quarantine(self, conn, result: BatchResult, county: County, export_dir: Path) -> BatchResult:
        result.status = "quarantined"
        if self.move:
            dest = quarantine.move_unique(export_dir, self.settings.quarantine / county.code, export_dir.name)
        else:
            dest = self.settings.quarantine / county.code / export_dir.name
            dest.mkdir(parents=True, exist_ok=True)
        report = quarantine.write_report(dest, county.code, county.name, result.export_id, result.batch_id,
                                         result.problems, result.warnings, result.data_docs)
        with conn.cursor() as cur:
            cur.execute(
                "UPDATE audit.batches SET status = 'quarantined', error = %s, report_path = %s, finished_at = now() WHERE batch_id = %s",
                ("; ".join(str(p) for p in result.problems[:10])[:4000], str(report), result.batch_id),
            )
        result.moved_to = dest
        from xuncha import alerts

        alerts.raise_alert(self.url, "quarantined", county.code,
                           f"{county.label}: export {result.export_id} quarantined: {result.problems[0]}",
                           business_date=result.business_date,
                           detail={"export_id": result.export_id, "report": str(report), "problems": len(result.problems)})
        return result
