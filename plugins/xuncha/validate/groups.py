"""Validating the staged exports of a county, in groups, bisecting a failing group down to single exports.

A group's staged files are validated together, one Great Expectations run per entity over a view of all of
them (xuncha.validate.validation), so a catch-up of many nights pays GX's fixed cost once. If anything in the group
fails critically, it is bisected, down to single exports, so every problem is pinned on its own export, file and
row: k bad exports among n cost about 2·k·log2(n) GX runs instead of n. A group whose failures are all warnings
(nothing to quarantine) is not bisected: each failing warning rule's SQL is run once per export over the group's
rows, which pins them on their export without another GX run (issue 16). Exports that passed earlier in the group
are visible to `{export.<entity>}` references, as they will be in core when later exports publish.

Results go to the batch ledger (audit.validation_results, per export). A failing expectation becomes one
Problem per sample row, under the rule `row.<kind>:<expectation>` (its kind from the suite's meta.kind);
critical ones go to the export's problems (it will be quarantined), warnings to its result's warnings.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from xuncha.extract import manifest as manifest_mod
from xuncha.normalize import parsing
from xuncha.spec import load_spec
from xuncha.warehouse import batch_ledger as ledger
from xuncha.errors import Problem
from xuncha.spec import ENTITY_ORDER
from xuncha.validate.suites import PERSON_DATA_RULE, load_suite
from xuncha.validate.validation import SAMPLE_ROWS, Outcome, Validation, Validator, resolve

if TYPE_CHECKING:   # annotations only: load/ imports validate/, never the other way at run time
    from xuncha.load.batch import InFlight


def validate_group(validator: Validator, conn, works: list[InFlight], county_code: str,
                   lineage: tuple[str, ...]) -> None:
    """Validate `works` (staged, oldest first); sets each one's problems, warnings and Data Docs link."""
    _validate_span(validator, conn, works, [], county_code, lineage)


def _validate_span(validator: Validator, conn, works: list[InFlight], passed: list[InFlight], county_code: str,
                   lineage: tuple[str, ...]) -> None:
    """Validate `works` as one group; if anything fails, bisect. `passed`: earlier exports of the group that
    passed (extended with those of `works` that pass)."""
    if not works:
        return
    if len(works) > 1:
        with relations(conn, works, passed + works) as (tables, refs):
            validations = [validator.validate(entity, table, refs, lineage) for entity, table in tables.items()]
            outcomes = [o for v in validations for o in v.outcomes]
            clean = all(o.success for o in outcomes)
            per_export = None if clean else attribute_warnings(conn, works, outcomes, tables, refs, lineage)
        if clean or per_export is not None:
            if clean:
                record(conn, works, outcomes)
            docs = validator.publish_docs(f"{county_code}-{works[0].result.export_id}..{works[-1].result.export_id}",
                                          validations, not clean)
            for w in works:
                if not clean:
                    record(conn, [w], per_export[id(w)])
                    _report(w, per_export[id(w)])
                w.result.data_docs = docs if clean or w.result.warnings or validator.docs_mode == "all" else None
            passed.extend(works)
            return
        mid = len(works) // 2
        _validate_span(validator, conn, works[:mid], passed, county_code, lineage)
        _validate_span(validator, conn, works[mid:], passed, county_code, lineage)
        return
    [w] = works
    validations = run_suites(validator, conn, [w], passed + [w], lineage)
    outcomes = [o for v in validations for o in v.outcomes]
    record(conn, [w], outcomes)
    _report(w, outcomes)
    w.result.data_docs = validator.publish_docs(f"{county_code}-{w.result.export_id}", validations,
                                                bool(w.problems or w.result.warnings))
    if not w.problems:
        passed.append(w)


def _report(w: InFlight, outcomes: list[Outcome]) -> None:
    """One export's failed outcomes as its problems (critical) and warnings."""
    files = {f.entity: f.path for f in w.manifest.files}
    for o in outcomes:
        if not o.success:
            (w.problems if o.blocking else w.result.warnings).extend(problems_of(o, files.get(o.entity)))


def attribute_warnings(conn, works: list[InFlight], outcomes: list[Outcome], tables: dict[str, str],
                       refs: dict[str, str], lineage: tuple[str, ...]) -> dict[int, list[Outcome]] | None:
    """A group's outcomes per export, when every failure is a warning from an SQL rule; else None (bisect).

    Returns id(InFlight) → that export's outcomes, as its own GX run would give them: passing expectations as they
    are (element_count None: the export's staged rows), each failing warning rule with the export's own count and
    up to SAMPLE_ROWS rows by file row (ordered by row_no). A failing rule's query (the suite's own SQL, its
    `{export.*}`/`{lineage}` resolved as for the GX run) is run once per export with `{batch}` = that export's rows
    of the group's relation `tables[entity]`. Nothing is quarantined by a warning, so no export's visibility to
    another changes and bisecting (2·n GX runs when every export warns) would only find the same rows again.
    """
    failed = [o for o in outcomes if not o.success]
    if any(o.blocking or o.expectation != "unexpected_rows_expectation" or o.index is None for o in failed):
        return None
    per_export = {id(w): [replace(o, element_count=None) for o in outcomes if o.success] for w in works}
    with conn.cursor() as cur:
        for o in failed:
            query = resolve(load_suite(o.entity)["expectations"][o.index]["kwargs"]["unexpected_rows_query"], refs, lineage)
            for w in works:
                if o.entity not in w.staged.tables:
                    continue
                own = f"(SELECT * FROM {tables[o.entity]} WHERE batch_id = {int(w.result.batch_id)}) AS batch"
                cur.execute(f"SELECT count(*) OVER (), row_no, value FROM ({query.format(batch=own)}) unexpected "
                            f"ORDER BY row_no LIMIT {SAMPLE_ROWS}")
                rows = cur.fetchall()
                sample = [{"row": None if r[1] is None else int(r[1]), "value": None if r[2] is None else str(r[2])}
                          for r in rows]
                per_export[id(w)].append(replace(o, success=not rows, element_count=None,
                                                 unexpected_count=rows[0][0] if rows else 0, sample=sample))
    return per_export


def _named(why: str | None, value: str | None) -> str | None:
    """`why`, and for an id that is not ASCII as issued the characters that are not, by code point, Unicode name and
    position from 1 ("U+0430 CYRILLIC SMALL LETTER A at position 11"): a look-alike cannot be seen (county trial)."""
    if not why or not value or "ASCII as issued" not in why:
        return why
    import unicodedata

    odd = [f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')} at position {i}"
           for i, ch in enumerate(value, 1) if not ch.isascii()][:3]
    return f"{why}: {', '.join(odd)}" if odd else why


def problems_of(o: Outcome, file: str | None) -> list[Problem]:
    """A failed expectation as problems: one per sample row, or one for the file when GX gave no rows."""
    message = f"{o.description} ({o.unexpected_count} row(s) fail)"
    found = [Problem(o.rule, _named(s.get("why"), s["value"]) or message, file=file, row=s["row"],
                     column=s.get("column") or o.column, value=s["value"], severity=o.severity, check=o.check)
             for s in o.sample] or [Problem(o.rule, message, file=file, column=o.column, severity=o.severity,
                                            check=o.check)]
    if o.description.endswith(PERSON_DATA_RULE):   # values arrive masked (migration 0041)
        found = [Problem("person.clear", f"{o.column} holds a national ID number, mobile or bank card number "
                         f"({o.unexpected_count} row(s)); person data never enters the warehouse", p.file,
                         p.row, p.column, p.value, p.severity) for p in found]
    return found


def run_suites(validator: Validator, conn, works: list[InFlight], visible: list[InFlight],
               lineage: tuple[str, ...]) -> list[Validation]:
    """Run every staged entity's suite over `works`' staged rows (xuncha.validate.groups.relations); `visible` is
    what `{export.<entity>}` references may see. Returns one Validation per staged entity."""
    with relations(conn, works, visible) as (tables, refs):
        return [validator.validate(entity, table, refs, lineage) for entity, table in tables.items()]


@contextmanager
def relations(conn, works: list[InFlight], visible: list[InFlight]):
    """Yields (entity → view of `works`' validated rows, entity → view of `visible`'s rows), dropped on exit.

    Both are views: the staged tables already hold trimmed text (xuncha.normalize.typed.cast_once, issue 16), so a scan
    through a view costs what a scan of a copy would (issue 11 had copied the rows once per validation run, as
    every scan of the view trimmed every value again). Named `b<first batch>_v<n>[r]_<entity>`; one a killed process
    left goes with the batch's staging (ledger.recover_stale drops with CASCADE)."""
    tag = f"b{works[0].result.batch_id}_v{len(works)}"
    tables, refs = {}, {}
    with conn.cursor() as cur:
        try:
            for entity in ENTITY_ORDER:
                for kind, group, target in (("", works, tables), ("r", visible, refs)):
                    # Suites see trimmed text (staging.trimmed, 0020) and the latest updated_at the export allows.
                    parts = [parsing.validated_relation(w.result.batch_id, w.staged.tables[entity],
                                                        load_spec().entity(entity),
                                                        manifest_mod.updated_at_bound(w.arrival.manifest))
                             for w in group if entity in w.staged.tables]
                    if not parts:
                        continue
                    name = f"staging.{tag}{kind}_{entity}"
                    cur.execute(f"CREATE OR REPLACE VIEW {name} AS " + " UNION ALL ".join(parts))
                    target[entity] = name
            yield tables, refs
        finally:
            for name in refs.values():
                cur.execute(f"DROP VIEW IF EXISTS {name}")
            for name in tables.values():
                cur.execute(f"DROP VIEW IF EXISTS {name}")


def record(conn, works: list[InFlight], outcomes: list[Outcome]) -> None:
    """audit.validation_results, per export (a clean group's counts are each export's own rows)."""
    rows = []
    single = len(works) == 1
    for w in works:
        for o in outcomes:
            if o.entity not in w.staged.tables:
                continue
            rows.append((w.result.batch_id, o.entity, f"{o.expectation}: {o.description}", o.column, o.severity,
                         o.success,
                         o.element_count if single and o.element_count is not None else w.staged.rows.get(o.entity),
                         o.unexpected_count if single else 0, json.dumps(o.sample if single else [], ensure_ascii=False)))
    ledger.record_validation(conn, rows)
