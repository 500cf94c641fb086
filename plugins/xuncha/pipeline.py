"""One export, end to end: manifest → files → staging → validation → publish, or quarantine.

This is the single code path used by the Airflow DAGs and by `xuncha ingest`. Guarantees:
- all-or-nothing: every file of an export is published in one transaction, or none is;
- idempotent: an export id loads once per county (a re-delivery is recorded as `duplicate`), and rows only
  ever move forward in `updated_at`, so a retry or an older night changes nothing;
- nothing of a rejected export reaches core: it is moved to quarantine with a report naming file, row,
  column, rule and value, and every attempt is in audit.batches.

When a group holds one export (the usual night, or one large file), its validation and its publish
transaction run side by side: the merge goes ahead on a second connection and commits only once every
expectation has passed; otherwise it rolls back and nothing of it was ever visible.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from xuncha import db, guards, landing, ledger, loading, manifest as manifest_mod, parsing, quarantine, suites
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

    def __init__(self, registry: Registry, url: str | None = None, settings: Settings | None = None, move: bool = True,
                 confirm_withdraw: bool = False):
        """`move`: take exports out of their folder once handled (to the archive or quarantine area), as the
        nightly DAG does with the landing area; False leaves the source folders as they are (backfills).
        `confirm_withdraw`: an operator confirmed that these full snapshots may withdraw more than the share
        xuncha.guards holds back (`xuncha ingest --confirm-withdraw`)."""
        self.registry = registry
        self.move = move
        self.confirm_withdraw = confirm_withdraw
        self.url = url or db.warehouse_url()
        self.settings = settings or get_settings()
        self._validator = None
        self._partitioned: set[str] = set()

    @property
    def validator(self):
        if self._validator is None:
            from xuncha.validation import Validator

            self._validator = Validator(self.url)
        return self._validator

    def ingest(self, export_dir: Path, county: County) -> BatchResult:
        return self.ingest_many([export_dir], county)[0]

    def ingest_many(self, export_dirs: list[Path], county: County, group_size: int = 200) -> list[BatchResult]:
        """Ingest a county's exports in the order given (oldest night first), validating them in groups.

        A group's staged files are validated together, one Great Expectations run per entity over a view of
        all of them, so a catch-up of many nights pays GX's fixed cost once. If anything in the group fails,
        it is bisected down to single exports, so every problem is pinned on its own export, file and row.
        Each export is still published in its own transaction, in order.
        """
        results: list[BatchResult] = []
        for i in range(0, len(export_dirs), group_size):
            results += self._ingest_group(export_dirs[i:i + group_size], county)
        return results

    def _ingest_group(self, export_dirs: list[Path], county: County) -> list[BatchResult]:
        lineage = self.registry.lineage(county.code)
        works: list[_Work] = []
        self._opened: list[int] = []   # every batch this group opened, also one whose _receive failed half-way
        with db.connect(self.url, autocommit=True) as conn:
            if not self._partitioned.issuperset(lineage):
                with conn.cursor() as cur:   # the county's own partitions of core and history (migration 0014)
                    cur.execute("SELECT core.add_county(c) FROM unnest(%s::text[]) c", (list(lineage),))
                self._partitioned.update(lineage)
            try:
                for export_dir in export_dirs:
                    works.append(self._receive(conn, export_dir, county, lineage))
                valid = [w for w in works if w.pending and not w.problems]
                published = {}
                if len(valid) == 1:
                    published[id(valid[0])] = self._validate_and_publish(conn, valid[0], county, lineage)
                else:
                    self._validate_group(conn, valid, county, lineage)
                for w in works:
                    if not w.pending:
                        continue
                    outcome = None
                    if not w.problems:   # a hold (guards.withdraw_hold) sets w.problems in _publish
                        outcome = published[id(w)] if id(w) in published else self._publish(w, county, lineage)
                    if w.problems:
                        w.result.problems = w.problems
                        self._quarantine(conn, w, county)
                    elif outcome:
                        self._finish(conn, w, "loaded")
                    else:
                        self._finish(conn, w, "duplicate")
            except Exception as exc:
                ledger.mark_failed(conn, self._opened, f"{type(exc).__name__}: {exc}")
                raise
            finally:
                with conn.cursor() as cur:
                    for w in works:
                        for table in w.staged.values():
                            cur.execute(f"DROP TABLE IF EXISTS {table}")
        return [w.result for w in works]

    def _receive(self, conn, export_dir: Path, county: County, lineage: tuple[str, ...]) -> "_Work":
        """Open the batch, read the manifest, check the files and stage them; recognise re-deliveries."""
        problems = landing.check_tree(export_dir)   # links, devices, FIFOs, sockets: refused before any open
        manifest, read_problems = (None, []) if any(p.file in (export_dir.name, "manifest.json") for p in problems) \
            else manifest_mod.read(export_dir)
        problems += read_problems
        export_id = manifest.export_id if manifest else export_dir.name
        result = BatchResult(county.code, export_id, "received", business_date=manifest.business_date if manifest else None,
                             generated_at=manifest.generated_at if manifest else None)
        w = _Work(export_dir, manifest, result, {}, problems)
        result.batch_id = ledger.open_batch(conn, county.code, str(export_dir), manifest, export_id)
        self._opened.append(result.batch_id)
        if manifest and not problems and ledger.already_loaded(conn, lineage, export_id):
            self._finish(conn, w, "duplicate")
        elif manifest and not problems:
            w.problems = self._check_and_stage(conn, result, manifest, export_dir, county, w.staged, w.staged_rows)
        return w

    # -- steps -----------------------------------------------------------------------------------------

    def _check_and_stage(self, conn, result: BatchResult, manifest, export_dir: Path, county: County,
                         staged: dict[str, str], staged_rows: dict[str, int]) -> list[Problem]:
        actual_sha, problems = manifest_mod.check_files(manifest, export_dir, county.code)
        ledger.record_files(conn, result.batch_id, manifest.files, actual_sha)
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
                staged_rows[name] = rows
            except parsing.StagingFailed as exc:
                problems.extend(exc.problems)
                continue
            ledger.record_staged(conn, result.batch_id, name, rows)
            if rows != f.rows:
                problems.append(Problem("file.rows", f"file has {rows} data rows, manifest declares {f.rows}",
                                        file=f.path, value=str(rows)))
        return problems

    def _validate_group(self, conn, works: list["_Work"], county: County, lineage: tuple[str, ...]) -> None:
        self._validate_span(conn, works, [], county, lineage)

    def _validate_span(self, conn, works: list["_Work"], passed: list["_Work"], county: County,
                       lineage: tuple[str, ...]) -> None:
        """Validate `works` as one group; if anything fails, bisect, down to single exports.

        `passed` are the earlier exports of the group that passed: their files are visible to references,
        as they will be in core by the time these exports publish. k bad exports among n cost about
        2·k·log2(n) GX runs instead of n.
        """
        if not works:
            return
        if len(works) > 1:
            validations = self._run_suites(conn, works, passed + works, lineage)
            outcomes = [o for v in validations for o in v.outcomes]
            if all(o.success for o in outcomes):
                self._record(conn, works, outcomes)
                docs = self.validator.publish_docs(f"{county.code}-{works[0].result.export_id}..{works[-1].result.export_id}",
                                                   validations, False)
                for w in works:
                    w.result.data_docs = docs
                passed.extend(works)
                return
            mid = len(works) // 2
            self._validate_span(conn, works[:mid], passed, county, lineage)
            self._validate_span(conn, works[mid:], passed, county, lineage)
            return
        [w] = works
        validations = self._run_suites(conn, [w], passed + [w], lineage)
        outcomes = [o for v in validations for o in v.outcomes]
        self._record(conn, [w], outcomes)
        files = {f.entity: f.path for f in w.manifest.files}
        for o in outcomes:
            if o.success:
                continue
            found = [
                Problem(o.rule, f"{o.description} ({o.unexpected_count} row(s) fail)",
                        file=files.get(o.entity), row=s["row"], column=o.column, value=s["value"], severity=o.severity)
                for s in o.sample
            ] or [Problem(o.rule, f"{o.description} ({o.unexpected_count} row(s) fail)",
                          file=files.get(o.entity), column=o.column, severity=o.severity)]
            if o.description.endswith(suites.PERSON_DATA_RULE):   # values arrive masked (migration 0041)
                found = [Problem("person.clear", f"{o.column} holds a national ID number, mobile or bank card number "
                                 f"({o.unexpected_count} row(s)); person data never enters the warehouse", p.file,
                                 p.row, p.column, p.value, p.severity) for p in found]
            (w.problems if o.blocking else w.result.warnings).extend(found)
        w.result.data_docs = self.validator.publish_docs(f"{county.code}-{w.result.export_id}", validations,
                                                         bool(w.problems or w.result.warnings))
        if not w.problems:
            passed.append(w)

    def _run_suites(self, conn, works: list["_Work"], visible: list["_Work"], lineage: tuple[str, ...]) -> list:
        """Run every staged entity's suite over a view of `works`' staging tables; `visible` is what
        `{export.<entity>}` references may see."""
        tag = f"v{works[0].result.batch_id}_{len(works)}"
        views, refs = {}, {}
        with conn.cursor() as cur:
            for entity in ENTITY_ORDER:
                for kind, group, target in (("", works, views), ("r", visible, refs)):
                    parts = [f"SELECT {w.result.batch_id}::bigint AS batch_id, t.* FROM {w.staged[entity]} t"
                             for w in group if entity in w.staged]
                    if parts:
                        name = f"staging.{tag}{kind}_{entity}"
                        cur.execute(f"CREATE OR REPLACE VIEW {name} AS " + " UNION ALL ".join(parts))
                        target[entity] = name
            try:
                return [self.validator.validate(entity, view, refs, lineage) for entity, view in views.items()]
            finally:
                for name in [*views.values(), *refs.values()]:
                    cur.execute(f"DROP VIEW IF EXISTS {name}")

    @staticmethod
    def _record(conn, works: list["_Work"], outcomes: list) -> None:
        """audit.validation_results, per export (a clean group's counts are each export's own rows)."""
        rows = []
        for w in works:
            for o in outcomes:
                if o.entity not in w.staged:
                    continue
                single = len(works) == 1
                rows.append((w.result.batch_id, o.entity, f"{o.expectation}: {o.description}", o.column, o.severity,
                             o.success, o.element_count if single and o.element_count is not None else w.staged_rows.get(o.entity),
                             o.unexpected_count if single else 0, json.dumps(o.sample if single else [], ensure_ascii=False)))
        ledger.record_validation(conn, rows)

    def _validate_and_publish(self, conn, w: "_Work", county: County, lineage: tuple[str, ...]) -> bool | None:
        """Validate one export while its publish transaction merges on another connection (PostgreSQL runs
        both at once). The transaction commits only if validation found nothing blocking; else it rolls back.
        Returns what _publish returns, or None when the publish was rolled back."""
        verdict: dict[str, bool] = {}
        decided = threading.Event()

        def approve() -> bool:
            decided.wait()
            return verdict.get("ok", False)

        with ThreadPoolExecutor(1, thread_name_prefix="xuncha-publish") as pool:
            publishing = pool.submit(self._publish, w, county, lineage, approve)
            try:
                self._validate_group(conn, [w], county, lineage)
                verdict["ok"] = not w.problems
            finally:
                decided.set()           # on an error in validation too: verdict missing = roll back
            try:
                return publishing.result()
            except Exception:
                if w.problems:          # invalid data broke the merge (a cast, say): the quarantine report says why
                    return None
                raise

    def _publish(self, w: "_Work", county: County, lineage: tuple[str, ...], approve=None) -> bool | None:
        """Merge every staged file of the export into core in one transaction; False if it was loaded meanwhile.
        `approve`, when given, is asked just before the commit: False rolls everything back (returns None)."""
        spec = load_spec()
        result, manifest = w.result, w.manifest
        files: list[loading.FileLoad] = []
        try:
            with db.connect(self.url) as conn, conn.cursor() as cur:
                # One writer per county lineage at a time; other counties publish in parallel.
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("xuncha:" + lineage[-1],))
                if ledger.already_loaded(conn, lineage, result.export_id):
                    return False  # the same export delivered twice (e.g. under two folder names)
                for name, table in w.staged.items():
                    entity = spec.entity(name)
                    load = loading.merge(cur, entity, table, county.code, lineage, result.batch_id)
                    if manifest.mode == "full":
                        if not self.confirm_withdraw:
                            guards.withdraw_hold(cur, entity, table, lineage, w.manifest.files, county)
                        withdrawn = loading.withdraw_absent(cur, entity, table, lineage, result.batch_id, manifest.generated_at)
                        load = loading.FileLoad(name, load.staged, load.inserted, load.updated, withdrawn)
                    ledger.record_merge(cur, result.batch_id, name, load.inserted, load.updated, load.unchanged, load.withdrawn)
                    files.append(load)
                loaded = sum(f.staged for f in files)
                if loaded != manifest.declared_rows:
                    raise RuntimeError(f"reconciliation failed: loaded {loaded} rows, manifest declares {manifest.declared_rows}")
                if approve is not None and not approve():
                    raise _Discarded
                if self.move:   # the archive copy is complete before the export is recorded as loaded
                    w.archive = quarantine.Move(w.export_dir, self._archive_dir(result), w.export_dir.name).prepare()
                ledger.mark_loaded(cur, result.batch_id, loaded)
        except _Discarded:
            self._discard_archive(w)
            return None
        except guards.WithdrawHeld as held:
            self._discard_archive(w)
            w.problems.append(held.problem)
            return None
        except BaseException:
            self._discard_archive(w)
            raise
        result.files.extend(files)
        return True

    def _archive_dir(self, result: BatchResult) -> Path:
        day = result.business_date.isoformat() if result.business_date else "unknown"
        return self.settings.archive / result.county_code / day

    @staticmethod
    def _discard_archive(w: "_Work") -> None:
        if w.archive is not None:
            w.archive.discard()
            w.archive = None

    def _finish(self, conn, w: "_Work", status: str) -> BatchResult:
        result, export_dir = w.result, w.export_dir
        if self.move:   # moved first: a full archive disk leaves it in the landing area, recorded as failed
            move = w.archive or quarantine.Move(export_dir, self._archive_dir(result), export_dir.name).prepare()
            w.archive = None
            result.moved_to = move.commit()
        result.status = status
        if status == "duplicate":
            ledger.mark_duplicate(conn, result.batch_id)
        log.info("%s %s: %s", result.county_code, result.export_id, status)
        return result

    def _quarantine(self, conn, w: "_Work", county: County) -> BatchResult:
        result, export_dir = w.result, w.export_dir
        reports = quarantine.render_report(county.code, county.name, result.export_id, result.batch_id,
                                           result.problems, result.warnings, result.data_docs)
        if self.move:   # the export and its reports, all or nothing (a full quarantine disk: recorded as failed)
            dest = quarantine.move_unique(export_dir, self.settings.quarantine / county.code, export_dir.name, reports)
        else:
            dest = self.settings.quarantine / county.code / export_dir.name
            dest.mkdir(parents=True, exist_ok=True)
            for fname, text in reports.items():
                (dest / fname).write_text(text, encoding="utf-8")
        result.status = "quarantined"
        report = dest / "_report.md"
        ledger.mark_quarantined(conn, result.batch_id, "; ".join(str(p) for p in result.problems[:10]), str(report))
        result.moved_to = dest
        from xuncha import alerts

        alerts.raise_alert(self.url, "quarantined", county.code,
                           f"{county.label}: export {result.export_id} quarantined: {result.problems[0]}",
                           business_date=result.business_date,
                           detail={"export_id": result.export_id, "report": str(report), "problems": len(result.problems)})
        return result


class _Discarded(Exception):
    """Validation failed while the publish transaction ran beside it: roll that transaction back."""


@dataclass
class _Work:
    """One export in flight through a group."""

    export_dir: Path
    manifest: manifest_mod.Manifest | None
    result: BatchResult
    staged: dict[str, str]
    problems: list[Problem]
    staged_rows: dict[str, int] = field(default_factory=dict)
    archive: "quarantine.Move | None" = None

    @property
    def pending(self) -> bool:
        return self.result.status == "received"
