"""Taking in a county's exports: receive → stage → validate → publish, or quarantine; returns what happened.

Each step has its own module: the inbox reads an export's manifest (xuncha.inbox), staging checks and stages its
files (xuncha.staging), group validation runs the suites and bisects (xuncha.group_validation), publish merges
it into core in one transaction (xuncha.publish), and moves take it to the archive or quarantine (xuncha.moves);
the batch ledger records every step in audit.* (xuncha.ledger). This module only orders them. It raises no
alerts: callers (xuncha.night) decide what to tell operators from the results.

Guarantees:
- all-or-nothing: every file of an export is published in one transaction, or none is;
- idempotent: an export id loads once per county lineage (a re-delivery is recorded as `duplicate`), and rows
  only ever move forward in `updated_at`, so a retry or an older night changes nothing;
- nothing of a rejected export reaches core: it is moved to quarantine with a report naming file, row,
  column, rule and value, and every attempt is in audit.batches.

When a group holds one export (the usual night, or one large file), its validation and its publish
transaction run side by side (xuncha.publish.validate_while_publishing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from xuncha import db, inbox, ledger, manifest as manifest_mod, moves, publish, resilience, staging
from xuncha.batch import BatchResult, InFlight
from xuncha.group_validation import validate_group
from xuncha.registry import County, Registry
from xuncha.settings import Settings, get_settings

log = logging.getLogger(__name__)

GROUP_SIZE = 200
"""Exports validated together at most (one GX run per entity for the whole group)."""


class Ingestor:
    """Takes in exports of one county at a time; holds what is costly to build (the GX context) across calls.

    `registry`: the county registry (lineages); `url`: the warehouse (default: settings); `move`: take exports
    out of their folder once handled (to the archive or quarantine area), as the nightly DAG does with the
    landing area; False leaves the source folders as they are (backfills, `xuncha ingest` without --move).
    `confirm_withdraw`: an operator confirmed that these full snapshots may withdraw more than the share
    xuncha.guards holds back (`xuncha ingest --confirm-withdraw`).
    """

    def __init__(self, registry: Registry, url: str | None = None, settings: Settings | None = None, move: bool = True,
                 confirm_withdraw: bool = False):
        self.registry = registry
        self.move = move
        self.confirm_withdraw = confirm_withdraw
        self.url = url or db.warehouse_url()
        self.settings = settings or get_settings()
        self._validator = None
        self._partitioned: set[str] = set()

    @property
    def validator(self):
        """The Great Expectations runner (xuncha.validation.Validator), built on first use."""
        if self._validator is None:
            from xuncha.validation import Validator

            self._validator = Validator(self.url)
        return self._validator

    def ingest(self, export: inbox.Arrival | Path, county: County) -> BatchResult:
        """Take in one export (an Arrival from the inbox, or an export folder); returns its result."""
        return self.ingest_many([export], county)[0]

    def ingest_many(self, exports: Sequence[inbox.Arrival | Path], county: County,
                    group_size: int = GROUP_SIZE) -> list[BatchResult]:
        """Take in a county's exports in the order given (oldest night first), validating them in groups.

        Each export is still published in its own transaction, in order. Returns one result per export, in
        order. Raises on an infrastructure error (the group's open batches are marked `failed`).
        """
        arrivals = [e if isinstance(e, inbox.Arrival) else inbox.receive(e) for e in exports]
        results: list[BatchResult] = []
        for i in range(0, len(arrivals), group_size):
            results += self._ingest_group(arrivals[i:i + group_size], county)
        return results

    def _ingest_group(self, arrivals: list[inbox.Arrival], county: County) -> list[BatchResult]:
        lineage = self.registry.lineage(county.code)
        works: list[InFlight] = []
        self._opened: list[int] = []   # every batch this group opened, also one whose _receive failed half-way
        with db.connect(self.url, autocommit=True) as conn:
            self._ensure_partitions(conn, lineage)
            try:
                for arrival in arrivals:
                    works.append(self._receive(conn, arrival, county, lineage))
                valid = [w for w in works if w.pending and not w.problems]
                published = {}
                if len(valid) == 1:
                    [w] = valid
                    published[id(w)] = publish.validate_while_publishing(
                        self.url, w, county, lineage, self._publishing,
                        lambda: validate_group(self.validator, conn, [w], county.code, lineage))
                else:
                    validate_group(self.validator, conn, valid, county.code, lineage)
                for w in works:
                    if not w.pending:
                        continue
                    outcome = None
                    if not w.problems:   # a hold (guards.withdraw_hold) sets w.problems in publish
                        outcome = published[id(w)] if id(w) in published else publish.publish(
                            self.url, w, county, lineage, self._publishing)
                    if w.problems:
                        self._quarantine(conn, w, county)
                    elif outcome:
                        self._finish(conn, w, "loaded")
                    else:
                        self._finish(conn, w, "duplicate")
            except Exception as exc:
                ledger.mark_failed(conn, self._opened, f"{type(exc).__name__}: {exc}")
                raise
            finally:
                for w in works:
                    staging.drop(conn, w.staged)
        return [w.result for w in works]

    def _ensure_partitions(self, conn, lineage: tuple[str, ...]) -> None:
        """The county's own partitions of core and history (migration 0014), made once per process."""
        if not self._partitioned.issuperset(lineage):
            with conn.cursor() as cur:
                cur.execute("SELECT core.add_county(c) FROM unnest(%s::text[]) c", (list(lineage),))
            self._partitioned.update(lineage)

    def _receive(self, conn, arrival: inbox.Arrival, county: County, lineage: tuple[str, ...]) -> InFlight:
        """Open the batch; recognise a re-delivery; else check the files and stage them."""
        result = BatchResult(county.code, arrival.export_id, "received", business_date=arrival.business_date,
                             generated_at=arrival.generated_at)
        w = InFlight(arrival, result, problems=list(arrival.problems))
        result.batch_id = ledger.open_batch(conn, county.code, str(arrival.path), arrival.manifest, arrival.export_id)
        self._opened.append(result.batch_id)
        loaded = ledger.loaded_content(conn, lineage, arrival.export_id) if arrival.manifest and not w.problems else None
        if loaded is not None and loaded == manifest_mod.content(arrival.manifest):
            self._finish(conn, w, "duplicate")            # a re-send: the same files (export spec §4.4)
        elif loaded is not None:                          # the same export_id with other content: never dropped silently
            w.problems = [resilience.reused_problem(arrival.export_id, loaded, manifest_mod.content(arrival.manifest))]
        elif arrival.manifest and not w.problems:
            w.problems = staging.stage_export(conn, result.batch_id, arrival.manifest, arrival.path, county, w.staged)
        return w

    @property
    def _publishing(self) -> publish.Publishing:
        return publish.Publishing(self.settings, self.move, self.confirm_withdraw)

    def _finish(self, conn, w: InFlight, status: str) -> None:
        """A loaded or duplicate export: to the archive first (a full archive disk leaves it in the landing area,
        recorded as failed), then the ledger status (`loaded` was written by publish)."""
        w.result.moved_to = moves.archive(w, self.settings, self.move)
        w.result.status = status
        if status == "duplicate":
            ledger.mark_duplicate(conn, w.result.batch_id)
        log.info("%s %s: %s", w.result.county_code, w.result.export_id, status)

    def _quarantine(self, conn, w: InFlight, county: County) -> None:
        """A rejected export: to quarantine with its report, and the ledger says why."""
        result = w.result
        result.problems = w.problems
        result.moved_to, result.report = moves.to_quarantine(w.arrival.path, result, county, self.settings, self.move)
        result.status = "quarantined"
        ledger.mark_quarantined(conn, result.batch_id, "; ".join(str(p) for p in result.problems[:10]), str(result.report))
        log.info("%s %s: quarantined", result.county_code, result.export_id)
