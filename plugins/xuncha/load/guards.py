"""Guards on what one export may do to the warehouse.

A full snapshot withdraws every live row of the county it no longer holds (export spec §3). An empty file or a
truncated extract would so withdraw most of a county's history in one night. `withdraw_hold` counts, before the
withdrawal, how many live rows it would withdraw; above XUNCHA_WITHDRAW_HOLD_SHARE of the county's live rows of
that entity (default 0.5; rows counted only when at least XUNCHA_WITHDRAW_HOLD_MIN_ROWS, default 20, would go)
it raises `WithdrawHeld`: the export's transaction rolls back, it is quarantined with rule `withdraw.held` and
alerted. An operator who confirms it runs `xuncha ingest <the quarantined folder> --confirm-withdraw`.
"""

from __future__ import annotations

from xuncha.errors import Problem
from xuncha.registry import County
from xuncha.settings import Settings, get_settings
from xuncha.spec import Entity

RULE = "withdraw.held"


class WithdrawHeld(Exception):
    """A full snapshot would withdraw more than the configured share: held for confirmation."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def hold_share(settings: Settings | None = None) -> float:
    """XUNCHA_WITHDRAW_HOLD_SHARE, a fraction in (0, 1]; ValueError for anything else."""
    raw = (settings or get_settings()).withdraw_hold_share
    share = float(raw)
    if not 0 < share <= 1:
        raise ValueError(f"XUNCHA_WITHDRAW_HOLD_SHARE must be in (0, 1], not {raw!r}")
    return share


def withdraw_hold(cur, entity: Entity, staging: str, lineage: tuple[str, ...], files, county: County,
                  settings: Settings | None = None) -> None:
    """Raise WithdrawHeld if the full snapshot in `staging` would withdraw too large a share of `entity`'s live
    rows of `lineage` (counted as sql/load/withdraw.sql selects them, keys trimmed)."""
    cur.execute(f"""SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {staging} s WHERE btrim(s.{entity.key}) = t.{entity.key})),
                           count(*)
                      FROM core.{entity.name} t
                     WHERE t.county_code = ANY(%s) AND t.withdrawn_at IS NULL""", (list(lineage),))
    gone, live = cur.fetchone()
    settings = settings or get_settings()
    minimum = int(settings.withdraw_hold_min_rows)
    share = hold_share(settings)
    if live and gone >= minimum and gone / live > share:
        path = next((f.path for f in files if f.entity == entity.name), None)
        raise WithdrawHeld(Problem(
            RULE,
            f"this full snapshot would withdraw {gone} of {county.label}'s {live} live {entity.name} rows "
            f"({gone / live:.0%}, more than {share:.0%}): held for confirmation, nothing withdrawn. If the county "
            "really withdrew them, run `xuncha ingest <this folder> --county "
            f"{county.code} --confirm-withdraw`; otherwise ask for a complete snapshot",
            file=path, value=str(gone)))
