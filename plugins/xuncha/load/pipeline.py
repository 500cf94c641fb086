"""Taking in a county's exports: receive → stage → validate → publish, or quarantine; returns what happened.

Each step has its own module: the inbox reads an export's manifest (xuncha.extract.inbox), staging checks and stages its
files (xuncha.normalize.staging), group validation runs the suites and bisects (xuncha.validate.groups), publish merges
it into core in one transaction (xuncha.load.publish), and moves take it to the archive or quarantine (xuncha.load.moves);
the batch ledger records every step in audit.* (xuncha.warehouse.batch_ledger). This module only orders them and returns what
happened (one xuncha.load.batch.BatchResult per export); it raises no alert. The caller alerts: xuncha.load.county_night.run,
the one entry point, alerts each quarantined or failed export once (xuncha.monitor.alerts.for_exports), also those a
group finished before an error stopped it (`handled_before`).

Guarantees:
- all-or-nothing: every file of an export is published in one transaction, or none is;
- idempotent: an export id loads once per county lineage (a re-delivery is recorded as `duplicate`), and rows
  only ever move forward in `updated_at`, so a retry or an older night changes nothing;
- nothing of a rejected export reaches core: it is moved to quarantine with a report naming file, row,
  column, rule and value, and every attempt is in audit.batches;
- one export's trouble is that export's (xuncha.load.resilience): an error while receiving, validating or publishing
  it quarantines it (the county's data) or marks it `failed` with a report and an alert (ours), drops its
  staging, and the county's other exports carry on; a batch left `received` by a stopped process is marked
  `failed`, and the staging of any stopped batch (also one killed between its commit and its move) is dropped,
  when the lineage is next ingested (under its lock, xuncha.load.lineage_lock; a batch whose backend is alive is
  never touched); the same export_id twice in one run is told apart as a re-send (`duplicate`) or `export.reused`.

When a group holds one export (the usual night, or one large file), its validation and its publish
transaction run side by side (xuncha.load.publish.validate_while_publishing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from xuncha.warehouse import db
from xuncha.extract import inbox
from xuncha.warehouse import batch_ledger as ledger
from xuncha.extract import manifest as manifest_mod
from xuncha.load import lineage_lock
from xuncha.load import moves
from xuncha.load import publish
from xuncha.load import resilience
from xuncha.normalize import staging
from xuncha.load.batch import BatchResult, InFlight
from xuncha.validate.groups import validate_group
from xuncha.registry import County, Registry
from xuncha.settings import Settings, get_settings

log = logging.getLogger(__name__)

FINISHED = ("loaded", "duplicate", "quarantined", "failed")
"""The statuses an export ends with (BatchResult.status); `received` means still on its way."""

GROUP_SIZE = 200
"""Exports validated together at most (one GX run per entity for the whole group)."""


def handled_before(exc: BaseException) -> list[BatchResult]:
    """The exports an `Ingestor.ingest_many` call had finished (loaded, duplicate, quarantined, failed) when `exc`
    stopped it, in order; [] for an exception that did not come out of ingest_many."""
    return list(getattr(exc, "xuncha_handled", []))


class Ingestor:
    """Takes in exports of one county at a time; what is costly to build (the GX context) is built once per process.

    `registry`: the county registry (lineages); `url`: the warehouse (default: settings); `move`: take exports
    out of their folder once handled (to the archive or quarantine area), as the county DAGs do with the
    landing area; False leaves the source folders as they are (backfills, `xuncha ingest` without --move).
    `confirm_withdraw`: an operator confirmed that these full snapshots may withdraw more than the share
    xuncha.load.guards holds back (`xuncha ingest --confirm-withdraw`).
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
        """The Great Expectations runner, built on first use and shared by the process's Ingestors
        (xuncha.validate.validation.shared_validator: one GX context per process)."""
        if self._validator is None:
            from xuncha.validate.validation import shared_validator

            self._validator = shared_validator(self.url)
        return self._validator

    def ingest(self, export: inbox.Arrival | Path, county: County) -> BatchResult:
        """Take in one export (an Arrival from the inbox, or an export folder); returns its result."""
        return self.ingest_many([export], county)[0]

    def ingest_many(self, exports: Sequence[inbox.Arrival | Path], county: County,
                    group_size: int = GROUP_SIZE) -> list[BatchResult]:
        """Take in a county's exports in the order given (oldest night first), validating them in groups.

        Each export is still published in its own transaction, in order. Returns one result per export, in
        order. An error while handling one export ends that export only (quarantined or `failed`); raises only
        when the group itself cannot go on (e.g. its database connection broke: its open batches are marked `failed`);
        the exports finished before are then `handled_before(the exception)`, for the caller to alert.
        """
        arrivals = [e if isinstance(e, inbox.Arrival) else inbox.receive(e) for e in exports]
        results: list[BatchResult] = []
        works: list[InFlight] = []
        try:
            for i in range(0, len(arrivals), group_size):
                works = []
                self._ingest_group(arrivals[i:i + group_size], county, works)
                results += [w.result for w in works]
        except Exception as exc:   # also one raised while cleaning up: what the group finished is told all the same
            exc.xuncha_handled = results + [w.result for w in works if w.result.status in FINISHED]
            raise
        return results

    def _ingest_group(self, arrivals: list[inbox.Arrival], county: County, works: list[InFlight]) -> None:
        """Take in one group of exports, appending one InFlight per export to `works` as it is received."""
        lineage = self.registry.lineage(county.code)
        self._opened: list[int] = []   # every batch this group opened, also one whose _receive failed half-way
        # One ingest of a lineage at a time (xuncha.load.lineage_lock; already held when county_night.run called us).
        with lineage_lock.held(self.url, self.registry, county.code), db.connect(self.url, autocommit=True) as conn:
            try:
                stale, dropped = ledger.recover_stale(conn, lineage)
                if stale:
                    log.warning("%s: batches %s were left received by a stopped process: marked failed", county.code, stale)
                if dropped:
                    log.warning("%s: staging of stopped batches dropped: %s", county.code, ", ".join(dropped))
                self._ensure_partitions(conn, lineage)
                for arrival in arrivals:
                    works.append(self._guarded(conn, county, "receiving", self._receive, conn, arrival, county, lineage))
                self._validate_and_publish(conn, works, county, lineage)
            except Exception as exc:
                ledger.mark_failed(conn, self._opened, f"{type(exc).__name__}: {exc}")
                raise
            finally:
                for w in works:
                    staging.drop(conn, w.staged)

    def _validate_and_publish(self, conn, works: list[InFlight], county: County, lineage: tuple[str, ...]) -> None:
        """Validate the group's valid exports, then publish, quarantine or recognise each in order; an error while
        handling one export ends that export only (xuncha.load.resilience)."""
        valid = [w for w in works if w.pending and not w.problems]
        published = self._published = {}
        if len(valid) == 1:
            [w] = valid
            self._guarded(conn, county, "validating and publishing", lambda: published.__setitem__(
                id(w), publish.validate_while_publishing(
                    self.url, w, county, lineage, self._publishing,
                    lambda: validate_group(self.validator, conn, [w], county.code, lineage))), w=w)
        elif valid:
            try:
                validate_group(self.validator, conn, valid, county.code, lineage)
            except Exception:   # one export broke the group's run: validate each on its own, so it ends only itself
                log.exception("%s: group validation failed; validating its exports one by one", county.code)
                for w in valid:
                    self._guarded(conn, county, "validating", validate_group, self.validator, conn, [w], county.code,
                                  lineage, w=w)
        for w in works:
            if not w.pending:
                continue
            if not w.problems and id(w) not in published:
                self._guarded(conn, county, "publishing", self._publish_one, conn, w, county, lineage, w=w)
                if not w.pending:
                    continue
            outcome = published.get(id(w))
            if w.problems:   # a hold (guards.withdraw_hold) sets w.problems in publish
                self._quarantine(conn, w, county)
            elif outcome:
                self._finish(conn, w, "loaded")
            else:
                self._finish(conn, w, "duplicate")
            staging.drop(conn, w.staged)

    def _publish_one(self, conn, w: InFlight, county: County, lineage: tuple[str, ...]) -> None:
        """Publish one export of a group; the same export_id already loaded (earlier in this run too) is a re-send
        (`duplicate`) if its files are the same, else `export.reused`."""
        if self._redelivered(conn, w, lineage):
            return
        self._published[id(w)] = publish.publish(self.url, w, county, lineage, self._publishing)

    def _guarded(self, conn, county: County, stage: str, step, *args, w: InFlight | None = None):
        """Run `step(*args)`; an error ends export `w` only: quarantined (the county's data) or failed (ours).
        Returns what `step` returns (None after an error)."""
        try:
            return step(*args)
        except Exception as exc:
            if w is None:   # while receiving: the InFlight is the one _receive made before the error
                w = self._current
            if w is None:
                raise
            status, problem = resilience.classify(exc, stage)
            log.warning("%s %s: %s while %s", county.code, w.result.export_id, status, stage, exc_info=True)
            staging.drop(conn, w.staged)
            if status == "quarantined":
                w.problems = [problem]
                self._quarantine(conn, w, county)
            else:
                resilience.report_failed(conn, w, county, self.settings, problem)
            return w if stage == "receiving" else None

    def _ensure_partitions(self, conn, lineage: tuple[str, ...]) -> None:
        """The county's own partitions of core and history (migration 0014), made once per process."""
        if not self._partitioned.issuperset(lineage):
            with conn.cursor() as cur:
                cur.execute("SELECT core.add_county(c) FROM unnest(%s::text[]) c", (list(lineage),))
            self._partitioned.update(lineage)

    def _receive(self, conn, arrival: inbox.Arrival, county: County, lineage: tuple[str, ...]) -> InFlight:
        """Open the batch; recognise a re-delivery; else check the files and stage them."""
        self._current = None   # the export _guarded ends if this raises (None: before its batch was opened)
        result = BatchResult(county.code, arrival.export_id, "received", business_date=arrival.business_date,
                             generated_at=arrival.generated_at)
        w = InFlight(arrival, result, problems=list(arrival.problems))
        result.batch_id = ledger.open_batch(conn, county.code, str(arrival.path), arrival.manifest, arrival.export_id)
        self._opened.append(result.batch_id)
        self._current = w
        if arrival.manifest and not w.problems and not self._redelivered(conn, w, lineage):
            w.problems = staging.stage_export(conn, result.batch_id, arrival.manifest, arrival.path, county, w.staged)
        return w

    def _redelivered(self, conn, w: InFlight, lineage: tuple[str, ...]) -> bool:
        """Is w's export_id already loaded? The same files: `duplicate` (a re-send, export spec §4.4); other
        files: the `export.reused` problem (never dropped silently). False when the id is new."""
        loaded = ledger.loaded_content(conn, lineage, w.result.export_id)
        if loaded is None:
            return False
        now = manifest_mod.content(w.manifest)
        if loaded == now:
            self._finish(conn, w, "duplicate")
        else:
            w.problems = [resilience.reused_problem(w.result.export_id, loaded, now)]
        return True

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
        """A rejected export: to quarantine with its report, and the ledger says why (the caller alerts)."""
        result = w.result
        result.problems = w.problems
        result.moved_to, result.report = moves.to_quarantine(w.arrival.path, result, county, self.settings, self.move)
        result.status = "quarantined"
        ledger.mark_quarantined(conn, result.batch_id, "; ".join(str(p) for p in result.problems[:10]), str(result.report))
        log.info("%s %s: quarantined", result.county_code, result.export_id)
