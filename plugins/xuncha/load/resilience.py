"""One export's trouble stays that export's (export spec §4.4, §10; issue "input truth", kinds 5 and 9).

- Re-delivery: an `export_id` already loaded comes again. Same files (entity, path, SHA-256) = a re-send,
  a no-op (`duplicate`); anything else is quarantined as `export.reused` — the county must send the night
  under a new export_id (§4.5) — never dropped in silence.
- Poison exports: any error while one export is handled ends that export, not the county's night: an error
  the county's bytes caused (a value that breaks a cast, a parser or a database data error) quarantines it
  with the reason; an error of ours marks it `failed`, with a report (the caller, xuncha.load.county_night, alerts
  it). Its staging is dropped and the county's other exports carry on.
- Stale batches: a batch left `received` by a killed process is found when its lineage is next ingested
  (under the lineage's lock, xuncha.load.lineage_lock, and only once its backend is gone), marked `failed`, and
  its staging dropped; so is the staging of a batch killed after its commit (ledger.recover_stale).
The audit writes are the batch ledger's (xuncha.warehouse.batch_ledger); this module decides.
"""

from __future__ import annotations

import csv
import zipfile

from xuncha.errors import Problem
from xuncha.text import excerpt


def reused_problem(export_id: str, loaded: frozenset, now: frozenset) -> Problem:
    """The `export.reused` problem: which files differ from the loaded export of the same id."""
    differ = sorted({p for _, p, _ in loaded ^ now})
    return Problem("export.reused", f"export_id {export_id} was already loaded with other content (files that differ: "
                   f"{', '.join(differ) or 'the file list'}): a re-send must be byte-identical; send this night as a "
                   "new export_id (§4.4, §4.5)", file="manifest.json", column="export_id", value=export_id)


def classify(exc: BaseException, stage: str) -> tuple[str, Problem]:
    """('quarantined', problem) when the county's data caused `exc`, else ('failed', problem): the error is ours."""
    import psycopg2

    text = f"{type(exc).__name__}: {excerpt(str(exc).strip().splitlines()[0] if str(exc).strip() else '', 300)}"
    if isinstance(exc, (psycopg2.DataError, psycopg2.IntegrityError)):
        # A value validation let through broke a cast or a constraint while it was {stage}: still the county's value.
        detail = getattr(getattr(exc, "diag", None), "message_primary", None) or text
        return "quarantined", Problem("row.invalid", f"a value could not be stored while {stage}: {excerpt(detail, 300)}")
    if isinstance(exc, (UnicodeError, csv.Error, zipfile.BadZipFile, ValueError, OverflowError, RecursionError)):
        return "quarantined", Problem("file.format", f"the file could not be read while {stage}: {text}")
    return "failed", Problem("export.failed", f"the platform failed while {stage} (not the county's fault; "
                             f"operators are alerted and the export is retried once fixed): {text}")


def report_failed(conn, w, county, settings, problem: Problem) -> None:
    """An export the platform failed on (an error of ours): status `failed`, its report written to
    `<quarantine>/<county>/_failed/<folder>/` (`_report.json`, `_report.md`) and the export left in its folder for
    the next run. The alert is the caller's (xuncha.load.county_night.run → xuncha.monitor.alerts.export_failed)."""
    from xuncha.warehouse import batch_ledger as ledger
    from xuncha.load import quarantine

    result = w.result
    result.problems, result.status = [problem], "failed"
    dest = settings.quarantine / county.code / "_failed" / w.arrival.path.name
    dest.mkdir(parents=True, exist_ok=True)
    result.report = quarantine.write_report(dest, county.code, county.name, result.export_id, result.batch_id,
                                            result.problems, status="failed")
    ledger.mark_failed_with_report(conn, result.batch_id, str(problem), str(result.report))
