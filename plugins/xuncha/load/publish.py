"""Publishing a validated export into core (the "publish" of write-audit-publish), in one transaction.

Every staged file of the export is merged (sql/load/merge.sql; a `full` snapshot also withdraws what it no
longer holds), the loaded rows are reconciled with the manifest, and the batch is marked `loaded`, all in one
transaction: an export is in core entirely or not at all. One writer per county lineage at a time (an advisory
lock); other counties publish in parallel.

`validate_while_publishing` overlaps the two steps for a single export: the merge goes ahead on a second
connection (PostgreSQL runs both at once) and commits only once every expectation has passed; otherwise it
rolls back and nothing of it was ever visible.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from xuncha.warehouse import db
from xuncha.load import guards
from xuncha.warehouse import batch_ledger as ledger
from xuncha.load import merge as loading
from xuncha.load import moves
from xuncha.load.batch import InFlight
from xuncha.registry import County
from xuncha.settings import Settings
from xuncha.spec import load_spec


@dataclass(frozen=True)
class Publishing:
    """How to publish: `settings` (the archive area), `move` (prepare the archive copy before `loaded`),
    `confirm_withdraw` (full snapshots may withdraw more than xuncha.load.guards holds back)."""

    settings: Settings
    move: bool = True
    confirm_withdraw: bool = False


class _Discarded(Exception):
    """Validation failed while the publish transaction ran beside it: roll that transaction back."""


def publish(url: str, w: InFlight, county: County, lineage: tuple[str, ...], how: Publishing,
            approve: Callable[[], bool] | None = None) -> bool | None:
    """Merge every staged file of the export into core in one transaction.

    Returns True when published (`w.result.files` then holds the counts), False if the export id was loaded
    meanwhile (the same export delivered twice, e.g. under two folder names). `approve`, when given, is asked
    just before the commit: False rolls everything back and returns None. Raises RuntimeError when the rows
    loaded differ from the manifest's declared rows (nothing is committed). A full snapshot that would withdraw
    more than xuncha.load.guards allows rolls back with the problem added to `w.problems` (returns None). With
    `how.move`, the archive copy is complete before the batch is recorded as loaded.
    """
    spec = load_spec()
    result, manifest = w.result, w.manifest
    files: list[loading.FileLoad] = []
    try:
        with db.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("xuncha:" + lineage[-1],))
            if ledger.already_loaded(conn, lineage, result.export_id):
                return False
            for name, table in w.staged.tables.items():
                entity = spec.entity(name)
                load = loading.merge(cur, entity, table, county.code, lineage, result.batch_id)
                if manifest.mode == "full":
                    if not how.confirm_withdraw:
                        guards.withdraw_hold(cur, entity, table, lineage, manifest.files, county)
                    withdrawn = loading.withdraw_absent(cur, entity, table, lineage, result.batch_id, manifest.generated_at)
                    load = loading.FileLoad(name, load.staged, load.inserted, load.updated, withdrawn)
                ledger.record_merge(cur, result.batch_id, name, load.inserted, load.updated, load.unchanged, load.withdrawn)
                files.append(load)
            loaded = sum(f.staged for f in files)
            if loaded != manifest.declared_rows:
                raise RuntimeError(f"reconciliation failed: loaded {loaded} rows, manifest declares {manifest.declared_rows}")
            if approve is not None and not approve():
                raise _Discarded
            if how.move:   # the archive copy is complete before the export is recorded as loaded
                w.archive = moves.prepare_archive(w, how.settings)
            ledger.mark_loaded(cur, result.batch_id, loaded)
    except _Discarded:
        moves.discard_archive(w)
        return None
    except guards.WithdrawHeld as held:
        moves.discard_archive(w)
        w.problems.append(held.problem)
        return None
    except BaseException:
        moves.discard_archive(w)
        raise
    result.files.extend(files)
    return True


def validate_while_publishing(url: str, w: InFlight, county: County, lineage: tuple[str, ...], how: Publishing,
                              validate: Callable[[], None]) -> bool | None:
    """Run `validate()` (which sets `w.problems`) while the export's publish transaction merges beside it.

    The transaction commits only if validation found nothing blocking. Returns what `publish` returns, or None
    when the publish was rolled back (also when invalid data broke the merge, e.g. a cast: the problems say
    why). An error in validation rolls the publish back and is raised.
    """
    verdict: dict[str, bool] = {}
    decided = threading.Event()

    def approve() -> bool:
        decided.wait()
        return verdict.get("ok", False)

    with ThreadPoolExecutor(1, thread_name_prefix="xuncha-publish") as pool:
        publishing = pool.submit(publish, url, w, county, lineage, how, approve)
        try:
            validate()
            verdict["ok"] = not w.problems
        finally:
            decided.set()           # on an error in validation too: verdict missing = roll back
        try:
            return publishing.result()
        except Exception:
            if w.problems:
                return None
            raise
