"""Where a handled export goes: the archive (loaded or re-delivered) or the quarantine (rejected, with its report).

Archive: `<archive>/<county>/<business date>/<folder>`; quarantine: `<quarantine>/<county>/<folder>` with
`_report.json` and `_report.md` (xuncha.load.quarantine). A name already taken gets a suffix (`.2`, `.3`, …), so a
re-delivery never overwrites an earlier one. Every move is all or nothing (xuncha.load.quarantine.Move): a loaded
export's archive copy is prepared inside its publish transaction and committed after. With `move=False`
(backfills, `xuncha ingest` without --move) the source folder stays where it is and the quarantine folder holds
the report only.
"""

from __future__ import annotations

from pathlib import Path

from xuncha.load import quarantine
from xuncha.load.batch import BatchResult, InFlight
from xuncha.registry import County
from xuncha.settings import Settings


def archive_dir(result: BatchResult, settings: Settings) -> Path:
    """`<archive>/<county>/<business date or "unknown">`."""
    day = result.business_date.isoformat() if result.business_date else "unknown"
    return settings.archive / result.county_code / day


def prepare_archive(w: InFlight, settings: Settings):
    """Copy the export into the archive (not yet committed): a xuncha.load.quarantine.Move."""
    return quarantine.Move(w.arrival.path, archive_dir(w.result, settings), w.arrival.path.name).prepare()


def discard_archive(w: InFlight) -> None:
    """Drop a prepared archive copy (the publish rolled back)."""
    if w.archive is not None:
        w.archive.discard()
        w.archive = None


def archive(w: InFlight, settings: Settings, move: bool) -> Path | None:
    """Move a loaded or duplicate export to the archive (if `move`), committing a prepared copy; where it went."""
    if not move:
        return None
    prepared = w.archive or prepare_archive(w, settings)
    w.archive = None
    return prepared.commit()


def to_quarantine(export_dir: Path, result: BatchResult, county: County, settings: Settings, move: bool) -> tuple[Path, Path]:
    """Move a rejected export with its reports to the county's quarantine area, all or nothing (if `move`; else
    only the reports are written there). Returns (the quarantine folder, the report `_report.md`)."""
    report = (county.code, county.name, result.export_id, result.batch_id, result.problems, result.warnings,
              result.data_docs)
    if move:
        dest = quarantine.move_unique(export_dir, settings.quarantine / county.code, export_dir.name,
                                      quarantine.render_report(*report))
        return dest, dest / "_report.md"
    dest = settings.quarantine / county.code / export_dir.name
    dest.mkdir(parents=True, exist_ok=True)
    return dest, quarantine.write_report(dest, *report, status="rejected_in_place")
