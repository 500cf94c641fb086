"""Publishing a validated batch into core (the "publish" of write-audit-publish).

The SQL is in sql/load/*.sql, rendered per entity from the spec's columns. The caller runs every file
of an export inside one transaction, so an export is in core entirely or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from xuncha.normalize import typed
from xuncha.settings import SQL_DIR
from xuncha.spec import Entity


@dataclass(frozen=True)
class FileLoad:
    """What merging one staged file did: rows staged, inserted, updated (newer `updated_at`), withdrawn (full snapshots)."""
    entity: str
    staged: int
    inserted: int
    updated: int
    withdrawn: int = 0
    late: int = 0  # older versions than core's, written to history at their own time (late.sql)

    @property
    def unchanged(self) -> int:
        """Staged rows that changed nothing (already in core with the same or a newer `updated_at`)."""
        return self.staged - self.inserted - self.updated


COUNTED_FROM = {"rounds": "start_date", "inspections": "onsite_start", "findings": "found_date",
                "clues": "transfer_date", "case_outcomes": "decision_date"}
"""The entities the term headline counts and the day each row counts from (sql/marts/term_headline.sql): merge.sql
and withdraw.sql record what a batch's versions of them reach (audit.batch_reach, migration 0161), as
audit.batch_reach_of computes it from the stored rows."""


@cache
def _template(name: str):
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string((SQL_DIR / "load" / name).read_text(encoding="utf-8"))


def render(name: str, entity: Entity, staging: str, lineage_size: int = 1) -> str:
    """The SQL of `sql/load/<name>` for an entity, over a staging table xuncha.normalize.typed made (Jinja: each column's
    `cast` is its typed copy or its trimmed text, typed.merge_value: the values were cast once, after staging)."""
    columns = [{"name": c.name, "cast": typed.merge_value(c)} for c in entity.columns]
    return _template(name).render(
        entity=entity.name, table=entity.name, key=entity.key, staging=staging, columns=columns,
        names=", ".join(entity.column_names), lineage_size=lineage_size,
        counted_from=COUNTED_FROM.get(entity.name),
    )


def merge(cur, entity: Entity, staging: str, county: str, lineage: tuple[str, ...], batch_id: int) -> FileLoad:
    """Merge one staged file into core (merge.sql); versions older than core's go to history (late.sql).

    Each row is written once (issue 16, migration 0090): core gets the inserted and changed rows, history only
    the versions they supersede (and the late ones). Returns the counts: staged rows, inserted, updated, and
    `late` (older versions recorded in history). Export spec §4.3 (newest updated_at wins; every version is
    kept: the current in core, the closed ones in history) and §4.7 (late nights)."""
    params = {"county": county, "lineage": list(lineage), "batch_id": batch_id}
    cur.execute(render("merge.sql", entity, staging, len(lineage)), params)
    staged, inserted, updated, older = cur.fetchone()
    late = 0
    if older:   # rare (a late night, a replay): only then is history read
        cur.execute(render("late.sql", entity, staging, len(lineage)), params)
        late = cur.fetchone()[0]
    return FileLoad(entity.name, staged, inserted, updated, late=late)


def withdraw_absent(cur, entity: Entity, staging: str, lineage: tuple[str, ...], batch_id: int,
                    generated_at: dt.datetime) -> int:
    """Withdraw the county's core rows a full snapshot no longer holds (sql/load/withdraw.sql); returns how many."""
    cur.execute(render("withdraw.sql", entity, staging),
                {"lineage": list(lineage), "batch_id": batch_id, "generated_at": generated_at})
    return cur.fetchone()[0]
