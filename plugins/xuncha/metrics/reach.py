"""What loaded batches can change in the marts: the days a late, corrected or withdrawing night reaches (issue 28).

A dated mart row (as_of D, unit U) reads the versions of U's county codes in force at the end of D. A batch that
writes a version with valid_from on local day F changes the rows of days >= F and no earlier one
(sql/repeatable/mart.changed_from.sql says why). An in-order night reaches only its own, not yet computed day; a
night that arrives after later days were computed, a corrected re-export of an old night, a late older version and
a full snapshot's withdrawal reach computed days too. So the refresh that takes a county's batches in (advancing
its mart.refresh_watermark) also recomputes, for the reporting units reading the codes those batches wrote, every
day mart.refresh_log holds from F on: `late_passes`. It does so in the same transaction that advances the
watermark, so a logged (day, unit) pair can be stale only while a batch that reaches it is still pending (loaded,
above the watermark) and was loaded after the pair was computed: `stale_codes` names the codes `marts.ensure` must
recompute a day for.

The queries are set-based: one call of mart.changed_from over the pending batches (BRIN on batch_id), one read of
the logged days. Units are mapped by the caller (`marts._units`: crosswalk, successors, city inspections of county
organisations), and the city totals follow every recomputed day (sql/marts/term_headline.sql).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable


def pending_batches(cur, codes: list[str] | None = None, loaded_since: dt.datetime | None = None) -> list[int]:
    """Batch ids loaded for county systems `codes` (None = all) above their mart.refresh_watermark, that changed
    at least one row (a re-sent export, a no-op, changes nothing), and loaded at or after `loaded_since` if given
    (audit.batches.finished_at); sorted."""
    cur.execute("""
        SELECT b.batch_id FROM audit.batches b
          LEFT JOIN mart.refresh_watermark w ON w.county_code = b.county_code
         WHERE b.status = 'loaded' AND b.batch_id > coalesce(w.last_batch_id, 0)
           AND (%(codes)s::text[] IS NULL OR b.county_code = ANY(%(codes)s::text[]))
           AND (%(since)s::timestamptz IS NULL OR b.finished_at >= %(since)s::timestamptz)
           AND EXISTS (SELECT 1 FROM audit.batch_files f WHERE f.batch_id = b.batch_id
                          AND coalesce(f.inserted_rows, 0) + coalesce(f.updated_rows, 0) + coalesce(f.withdrawn_rows, 0) > 0)
         ORDER BY 1""", {"codes": codes, "since": loaded_since})
    return [r[0] for r in cur.fetchall()]


def changed_from(cur, batch_ids: list[int], term_nos: list[int]) -> dict[str, dt.date]:
    """{county code of the rows written: the first day (Asia/Shanghai) they can change} for `batch_ids`
    (mart.changed_from; `term_nos` are the configured terms, config/metrics.yml). Empty for no batch."""
    if not batch_ids:
        return {}
    cur.execute("""SELECT county_code, min(from_day) FROM mart.changed_from(%s::bigint[], %s::int[])
                    WHERE from_day IS NOT NULL GROUP BY 1""", (list(batch_ids), list(term_nos)))
    return dict(cur.fetchall())


def logged_besides(cur, planned: list[dt.date]) -> bool:
    """Whether mart.refresh_log holds a computed day outside `planned`: only such a day can be reached by a late
    pass (late_passes), so without one a refresh need not ask mart.changed_from."""
    cur.execute("SELECT EXISTS (SELECT 1 FROM mart.refresh_log WHERE as_of <> ALL(%s::date[]))", (list(planned),))
    return cur.fetchone()[0]


def late_passes(cur, reach: dict[str, dt.date], planned: list[dt.date]) -> list[tuple[list[str], list[dt.date]]]:
    """The extra (codes, days) a refresh computes besides its `planned` days: for each code of `reach`, every day
    mart.refresh_log holds on or after the code's first changed day, less the planned ones. Codes reaching the
    same days share one pass; passes in order of their first day. Empty when nothing reaches a computed day."""
    if not reach:
        return []
    cur.execute("SELECT DISTINCT as_of FROM mart.refresh_log WHERE as_of >= %s ORDER BY 1", (min(reach.values()),))
    logged = [r[0] for r in cur.fetchall()]
    skip = set(planned)
    groups: dict[tuple[dt.date, ...], list[str]] = defaultdict(list)
    for code, first in sorted(reach.items()):
        days = tuple(d for d in logged if d >= first and d not in skip)
        if days:
            groups[days].append(code)
    return [(codes, list(days)) for days, codes in sorted(groups.items())]


def stale_codes(cur, as_of: dt.date, term_nos: list[int], units_of: Callable[[list[str]], list[str]]) -> list[str]:
    """County codes whose logged mart rows of day `as_of` a pending batch changes: the batch (any county system's,
    loaded above its watermark) writes rows of the code taking effect on or before `as_of`, and it was loaded
    (audit.batches.finished_at) at or after the mart.refresh_log time of a (as_of, unit) pair of a unit reading the
    code (`units_of`, marts._units). Sorted. A pair computed after the load saw it: not stale. (finished_at is
    taken in the load's transaction just before its commit, so a refresh starting in that instant may be judged
    fresh without having seen the load; the refresh that takes the batch in recomputes the day all the same.)"""
    cur.execute("SELECT min(refreshed_at) FROM mart.refresh_log WHERE as_of = %s", (as_of,))
    oldest = cur.fetchone()[0]
    # a batch loaded before every logged pair of the day was computed is in all of them: only later ones can matter
    batches = pending_batches(cur, loaded_since=oldest) if oldest else []
    if not batches:
        return []
    cur.execute("""SELECT c.county_code, max(b.finished_at)
                     FROM mart.changed_from(%s::bigint[], %s::int[]) c JOIN audit.batches b USING (batch_id)
                    WHERE c.from_day <= %s GROUP BY 1 ORDER BY 1""", (batches, list(term_nos), as_of))
    stale = []
    for code, loaded_at in cur.fetchall():
        cur.execute("""SELECT 1 FROM mart.refresh_log WHERE as_of = %s AND county_code = ANY(%s::text[])
                          AND refreshed_at <= %s LIMIT 1""", (as_of, units_of([code]), loaded_at))
        if cur.fetchone():
            stale.append(code)
    return stale
