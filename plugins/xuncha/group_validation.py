"""Validating the staged exports of a county, in groups, bisecting a failing group down to single exports.

A group's staged files are validated together, one Great Expectations run per entity over a view of all of
them (xuncha.validation), so a catch-up of many nights pays GX's fixed cost once. If anything in the group
fails, it is bisected, down to single exports, so every problem is pinned on its own export, file and row:
k bad exports among n cost about 2·k·log2(n) GX runs instead of n. Exports that passed earlier in the group
are visible to `{export.<entity>}` references, as they will be in core when later exports publish.

Results go to the batch ledger (audit.validation_results, per export). A failing expectation becomes one
Problem per sample row, under the rule `row.<kind>:<expectation>` (its kind from the suite's meta.kind);
critical ones go to the export's problems (it will be quarantined), warnings to its result's warnings.
"""

from __future__ import annotations

import json

from xuncha import manifest as manifest_mod, parsing
from xuncha.spec import load_spec
from xuncha import ledger
from xuncha.batch import InFlight
from xuncha.errors import Problem
from xuncha.spec import ENTITY_ORDER
from xuncha.suites import PERSON_DATA_RULE
from xuncha.validation import Outcome, Validation, Validator


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
        validations = run_suites(validator, conn, works, passed + works, lineage)
        outcomes = [o for v in validations for o in v.outcomes]
        if all(o.success for o in outcomes):
            record(conn, works, outcomes)
            docs = validator.publish_docs(f"{county_code}-{works[0].result.export_id}..{works[-1].result.export_id}",
                                          validations, False)
            for w in works:
                w.result.data_docs = docs
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
    files = {f.entity: f.path for f in w.manifest.files}
    for o in outcomes:
        if not o.success:
            (w.problems if o.blocking else w.result.warnings).extend(problems_of(o, files.get(o.entity)))
    w.result.data_docs = validator.publish_docs(f"{county_code}-{w.result.export_id}", validations,
                                                bool(w.problems or w.result.warnings))
    if not w.problems:
        passed.append(w)


def problems_of(o: Outcome, file: str | None) -> list[Problem]:
    """A failed expectation as problems: one per sample row, or one for the file when GX gave no rows."""
    message = f"{o.description} ({o.unexpected_count} row(s) fail)"
    found = [Problem(o.rule, message, file=file, row=s["row"], column=o.column, value=s["value"], severity=o.severity)
             for s in o.sample] or [Problem(o.rule, message, file=file, column=o.column, severity=o.severity)]
    if o.description.endswith(PERSON_DATA_RULE):   # values arrive masked (migration 0041)
        found = [Problem("person.clear", f"{o.column} holds a national ID number, mobile or bank card number "
                         f"({o.unexpected_count} row(s)); person data never enters the warehouse", p.file,
                         p.row, p.column, p.value, p.severity) for p in found]
    return found


def run_suites(validator: Validator, conn, works: list[InFlight], visible: list[InFlight],
               lineage: tuple[str, ...]) -> list[Validation]:
    """Run every staged entity's suite over a view of `works`' staging tables; `visible` is what
    `{export.<entity>}` references may see. The relations are dropped afterwards.

    The validated rows are written once into an UNLOGGED table per entity: a suite scans them a dozen times, and
    over a view every scan trimmed every value again (staging.trimmed: P1 GX validate about 20% slower than before
    issue 11). Named `b<first batch>_v<n>_<entity>`, so ledger.recover_stale drops one a killed process left with
    the batch's staging. What references may see stays a view (one lookup column, read once)."""
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
                    if kind:
                        cur.execute(f"CREATE OR REPLACE VIEW {name} AS " + " UNION ALL ".join(parts))
                    else:
                        cur.execute(f"DROP TABLE IF EXISTS {name}")
                        cur.execute(f"CREATE UNLOGGED TABLE {name} AS " + " UNION ALL ".join(parts))
                        cur.execute(f"ANALYZE {name}")
                    target[entity] = name
            return [validator.validate(entity, table, refs, lineage) for entity, table in tables.items()]
        finally:
            for name in refs.values():
                cur.execute(f"DROP VIEW IF EXISTS {name}")
            for name in tables.values():
                cur.execute(f"DROP TABLE IF EXISTS {name}")


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
