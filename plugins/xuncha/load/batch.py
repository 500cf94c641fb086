"""What happens to one export: `BatchResult` (returned to callers) and `InFlight` (the pipeline's working state).

A batch is one attempt at taking in one export (one row of audit.batches, xuncha.warehouse.batch_ledger). Its status ends as
`loaded` (published into core), `duplicate` (the export id was already loaded: a re-delivery), or `quarantined`
(nothing of it reached core; `problems` say why); `received` while it is in flight.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from xuncha.load import merge as loading
from xuncha.errors import Problem
from xuncha.extract.inbox import Arrival
from xuncha.normalize.staging import Staged


@dataclass
class BatchResult:
    """The outcome of one export: status, counts per file (`files`), problems and warnings, where it went."""

    county_code: str
    export_id: str
    status: str  # received (in flight) | loaded | duplicate | quarantined | failed (an error of ours)
    batch_id: int | None = None
    business_date: dt.date | None = None
    generated_at: dt.datetime | None = None
    files: list[loading.FileLoad] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    moved_to: Path | None = None
    data_docs: str | None = None
    """The export's Data Docs page, relative to the site ($XUNCHA_HOME/data_docs; the UI serves it at
    /xuncha/data-docs/<path>); None without a page. Never a platform path: the report goes to the county."""
    report: Path | None = None
    """The quarantine report (_report.md) of a quarantined export."""

    @property
    def entities(self) -> list[str]:
        """Entities whose rows in core this export changed (inserted, updated or withdrawn)."""
        return [f.entity for f in self.files if f.inserted or f.updated or f.withdrawn]

    def summary(self) -> dict:
        """JSON-ready summary (counts summed over files, at most 20 problems as text)."""
        return {
            "county_code": self.county_code, "export_id": self.export_id, "status": self.status,
            "batch_id": self.batch_id, "business_date": self.business_date.isoformat() if self.business_date else None,
            "inserted": sum(f.inserted for f in self.files), "updated": sum(f.updated for f in self.files),
            "unchanged": sum(f.unchanged for f in self.files), "withdrawn": sum(f.withdrawn for f in self.files),
            "changed_entities": self.entities, "problems": [str(p) for p in self.problems[:20]],
            "warnings": len(self.warnings),
        }


@dataclass
class InFlight:
    """One export on its way through a group: as received, as staged, and the problems found so far."""

    arrival: Arrival
    result: BatchResult
    staged: Staged = field(default_factory=Staged)
    problems: list[Problem] = field(default_factory=list)
    archive: object | None = None
    """The archive move prepared inside the publish transaction (a xuncha.load.quarantine.Move), committed by the
    pipeline once the export is recorded as loaded."""

    @property
    def pending(self) -> bool:
        """Still to be validated and published or quarantined (not yet recognised as a duplicate)."""
        return self.result.status == "received"

    @property
    def manifest(self):
        """The export's manifest (None if it could not be read)."""
        return self.arrival.manifest
