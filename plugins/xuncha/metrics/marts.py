"""Refreshing and reading the marts: every `.sql` file in sql/marts, in one transaction.

One mart table = one file `sql/marts/<name>.sql` and its description `<name>.yml` (xuncha.metrics.dictionary).
The marts are dated series: each row holds the figures as they stood at the end of its `as_of` day, computed
from core (the current versions) and history (the superseded ones) through the as-of functions
(`mart.<entity>_as_of(dates, codes)`, one file each in sql/repeatable).
A refresh replaces the rows of the given days for the given reporting units, and nothing else:

- `counties` are county-system codes (as the load's asset events name them); they map to reporting units
  through `mart.county_crosswalk` (refilled from the registry first), plus the units linked to them by a
  city inspection of a county's organisation (its coverage and satisfaction rows read both sides).
- the days are `dates`/`as_of` when given; otherwise the business dates of the batches loaded since the
  marts last took those counties in (`mart.refresh_watermark`), or the latest loaded night if none is new.
  Those batches may also change days already computed (a late or corrected night, a withdrawal: issue 28): every
  day mart.refresh_log holds from the first day their rows take effect is recomputed too, for the units reading
  the codes they wrote, in the same run (xuncha.metrics.reach; one extra pass per set of days).
- `full=True` recomputes every unit for every day the series holds.

Parameters come from config/metrics.yml (xuncha.metrics.config). Readers see the old or the new figures,
never a mix. Readers (the CLI, the workbook, the report) use `read_mart` and `newest_loaded_night`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from xuncha.warehouse import db
from xuncha.metrics import reach as changes
from xuncha.metrics.parallel import Pass, run_pass
from xuncha.metrics.dictionary import Column, Mart
from xuncha.settings import SQL_DIR

MARTS_DIR = SQL_DIR / "marts"
DAYS_PER_STATEMENT = 31
"""A refresh of many days runs each mart file on this many days at a time (bounded memory per statement)."""
HEADLINE_COLUMNS = ("scope", "county_code", "county_name", "source_codes", "term_no", "rounds", "orgs_inspected", "findings",
                    "clues_transferred", "sanctions", "org_handling", "detentions", "judicial_transfers",
                    "amount_recovered")



def ledger_names() -> set[str]:
    """The marts that are lists (台账, descriptions with `explains`): kept for the days named in `refresh_on`."""
    from xuncha.metrics import dictionary as metric_dictionary

    return {name for name, m in metric_dictionary.marts(MARTS_DIR).items() if m.is_ledger}


def mart_files() -> list:
    """The mart files in refresh order: a mart after the marts its description depends_on (sql/marts/*.yml)."""
    from xuncha.metrics import dictionary as metric_dictionary

    return [m.sql_path for m in metric_dictionary.marts(MARTS_DIR).values()]


def refresh(url: str | None = None, counties: Iterable[str] | None = None, dates: Iterable[dt.date] | None = None,
            as_of: dt.date | None = None, full: bool = False, config=None, parallel: bool = True) -> list[str]:
    """Recompute the marts for `counties` (None = all) on the days asked for (see the module doc), in one
    transaction. `parallel`, for a refresh of every unit (`full` or `counties` None): the marts other than
    term_headline are computed on a second connection at the same time and published in this transaction
    (xuncha.metrics.parallel; the crosswalk is synced and committed first). A refresh of given counties, or
    `parallel=False`, runs every file here, one by one (measured: docs/performance.md, "Issue 26, P4")."""
    codes = None if full or counties is None else sorted(set(counties))
    if codes == []:
        return []
    split = None
    if parallel and codes is None:      # a few counties' delta: the second connection costs more than it saves
        from xuncha import registry
        from xuncha.metrics import parallel as side

        # The worker reads committed rows only: a registry change reaches the crosswalk in a commit of its own first
        with db.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('xuncha:marts'))")
            sync_crosswalk(cur, registry.default())
        split = side.Split(url)
    with db.connect(url) as conn, conn.cursor() as cur:
        return refresh_on(cur, codes, dates, as_of, full, config, split)


def refresh_on(cur, codes: list[str] | None = None, dates: Iterable[dt.date] | None = None,
               as_of: dt.date | None = None, full: bool = False, config=None, split=None) -> list[str]:
    """`refresh` on an open cursor, inside the caller's transaction (committed or rolled back by the caller):
    `codes` are county-system codes (None = all). xuncha.metrics.editions recomputes a day "as known at" an
    edition this way and rolls back. `split` (xuncha.metrics.parallel.Split): hands some files to a second
    connection and publishes their rows here before the watermarks. Returns the marts refreshed, in refresh order."""
    from xuncha import registry
    from xuncha.metrics import config as metrics_config

    cfg = config or metrics_config.load()
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('xuncha:marts'))")
    # The marts join whole as-of sets on (as_of, unit, key); the planner cannot estimate those joins (the sets
    # come from window functions over history) and would pick nested loops that are quadratic in the rows.
    # Hash and merge joins are right for every statement here: measured on the seed, 31 days of every mart
    # take ~5 s this way and many minutes otherwise.
    cur.execute("SET LOCAL enable_nestloop = off")
    crosswalk_changed = sync_crosswalk(cur, registry.default())
    days, marks, pending = _days(cur, codes, dates, as_of, full)
    passes = [(codes, _units(cur, codes), days)]
    # late, corrected, withdrawing nights: the computed days they reach (none while the log holds no other day:
    # the first refresh of a loaded warehouse skips mart.changed_from, 3.9 s at 10 M findings, P4)
    if pending and not full and changes.logged_besides(cur, days):
        reach = changes.changed_from(cur, pending, cfg.params()["term_nos"])
        passes += [(c, _units(cur, c), d) for c, d in changes.late_passes(cur, reach, days)]
    files = [(path.stem, path.read_text(encoding="utf-8")) for path in mart_files()]
    explicit = not full and (dates is not None or as_of is not None)
    lists = frozenset(ledger_names())
    plan = [Pass(cfg.params() | {"counties": p_codes, "units": units, "sources": _sources(cur, units)}, p_days,
                 # The lists (台账) are kept for the newest day of a pass and for days asked for by name (a report,
                 # an edition): a list per unit for every day of the series would cost more than every other mart
                 # together (measured on the demo: 22 s full refresh without the lists, over 10 min with them).
                 # Lists of the pass's other days are deleted, never left stale; `ensure` makes a day's lists when a
                 # report asks for it.
                 list(p_days) if explicit else sorted(p_days)[-1:], n == 0, lists)
            for n, (p_codes, units, p_days) in enumerate(passes)]
    here = files
    if split is not None and not crosswalk_changed:    # the second connection cannot see this one's crosswalk rows
        here = split.start(cur, plan, files)
    try:
        for p in plan:
            run_pass(cur, here, p)
            cur.execute("""INSERT INTO mart.refresh_log (as_of, county_code, lists)
                           SELECT d, u, d = ANY(%(list_days)s::date[]) FROM unnest(%(dates)s::date[]) d,
                                  unnest(coalesce(%(units)s::text[], ARRAY(SELECT DISTINCT report_code FROM mart.county_crosswalk))) u
                           ON CONFLICT (as_of, county_code) DO UPDATE SET refreshed_at = now(), lists = EXCLUDED.lists""",
                        {"dates": p.days, "units": p.params["units"], "list_days": p.list_days})
        if here is not files:
            split.publish(cur)
    finally:
        if split is not None:
            split.close()
    if marks:
        cur.execute("""INSERT INTO mart.refresh_watermark (county_code, last_batch_id)
                       SELECT * FROM unnest(%s::text[], %s::bigint[])
                       ON CONFLICT (county_code) DO UPDATE
                          SET last_batch_id = greatest(mart.refresh_watermark.last_batch_id, EXCLUDED.last_batch_id),
                              updated_at = now()""", (list(marks), list(marks.values())))
    return [stem for stem, _ in files]


def pending_counties(url: str | None = None) -> list[str]:
    """County systems (codes, sorted) with a loaded batch the marts have not taken in: batch_id above the county's
    mart.refresh_watermark, or no watermark yet. The refresh `xuncha_night`'s `night` event triggers covers them
    (one triggered mid-night does not: a county still loading is loaded in part), so a load whose own event reached
    no marts run (an Airflow race, apache/airflow#54659) is in the marts by the night's last refresh."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT DISTINCT b.county_code FROM audit.batches b
                         LEFT JOIN mart.refresh_watermark w ON w.county_code = b.county_code
                        WHERE b.status = 'loaded' AND b.batch_id > coalesce(w.last_batch_id, 0)
                        ORDER BY 1""")
        return [r[0] for r in cur.fetchall()]


def ensure(url: str | None = None, as_of: dt.date | None = None, config=None) -> list[str]:
    """Compute the day `as_of` for every reporting unit the series does not hold yet for it, and again for the
    units whose logged rows of that day a load after them changes that the marts have not taken in yet (a late or
    corrected night: reach.stale_codes); then the day's lists (台账) where a refresh left them out
    (mart.refresh_log.lists, `lists_of`), whether or not a unit was computed. Returns the marts computed (as
    refresh), or the lists alone when only they were made, or [] when the day was complete."""
    from xuncha import registry
    from xuncha.metrics import config as metrics_config

    cfg = config or metrics_config.load()
    with db.connect(url) as conn, conn.cursor() as cur:
        sync_crosswalk(cur, registry.default())
        cur.execute("""SELECT DISTINCT report_code FROM mart.county_crosswalk
                        WHERE report_code NOT IN (SELECT county_code FROM mart.refresh_log WHERE as_of = %s)
                        ORDER BY 1""", (as_of,))
        todo = {r[0] for r in cur.fetchall()}
        todo |= set(changes.stale_codes(cur, as_of, cfg.params()["term_nos"], lambda c: _units(cur, c)))
    done = refresh(url, counties=sorted(todo), dates=[as_of], config=cfg) if todo else []
    # after the refresh: a unit it did not compute may have lost the day's lists to a late night's pass
    lists = lists_of(url, as_of, cfg, if_missing=True)
    return done or lists


def lists_of(url: str | None, day: dt.date, cfg, if_missing: bool = False) -> list[str]:
    """The lists (台账) of `day` for every unit, made again: `refresh_on` keeps them only for the newest day of a
    pass and for days asked for by name, and a late night's pass deletes those of its other days. Marks the day's
    mart.refresh_log rows `lists`. `if_missing`: only when a computed unit of the day lacks them (the flag, read
    under the marts lock); else returns []. Cost: one day of the list files (a few seconds on the demo)."""
    from xuncha import registry

    lists = ledger_names()
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('xuncha:marts'))")
        if if_missing:
            cur.execute("SELECT 1 FROM mart.refresh_log WHERE as_of = %s AND NOT lists LIMIT 1", (day,))
            if cur.fetchone() is None:
                return []
        cur.execute("SET LOCAL enable_nestloop = off")
        sync_crosswalk(cur, registry.default())
        params = cfg.params() | {"counties": None, "units": None, "sources": _sources(cur, None), "dates": [day]}
        for path in mart_files():
            if path.stem in lists:
                cur.execute(path.read_text(encoding="utf-8"), params)
        cur.execute("UPDATE mart.refresh_log SET lists = true WHERE as_of = %s", (day,))
    return sorted(lists)


def sync_crosswalk(cur, reg) -> int:
    """Refill mart.county_crosswalk from the registry: every code with the unit that reports it today. Returns
    the number of rows inserted, changed or deleted (0 when the table already matched the registry)."""
    rows = [(c.code, c.name, c.level, c.active_from, c.active_to, head.code, head.name)
            for c in reg.counties for head in [_report_unit(reg, c.code)]]
    cur.execute("""INSERT INTO mart.county_crosswalk AS x
                   SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::date[], %s::date[], %s::text[], %s::text[])
                   ON CONFLICT (source_code) DO UPDATE SET
                       source_name = EXCLUDED.source_name, level = EXCLUDED.level, active_from = EXCLUDED.active_from,
                       active_to = EXCLUDED.active_to, report_code = EXCLUDED.report_code, report_name = EXCLUDED.report_name
                   WHERE (x.source_name, x.level, x.active_from, x.active_to, x.report_code, x.report_name)
                         IS DISTINCT FROM (EXCLUDED.source_name, EXCLUDED.level, EXCLUDED.active_from,
                                           EXCLUDED.active_to, EXCLUDED.report_code, EXCLUDED.report_name)""",
                [list(col) for col in zip(*rows)])
    changed = cur.rowcount
    cur.execute("DELETE FROM mart.county_crosswalk WHERE source_code <> ALL(%s::text[])", ([r[0] for r in rows],))
    return changed + cur.rowcount


def _report_unit(reg, code: str):
    """The end of `code`'s successor chain: the unit that reports its rows today."""
    county, seen = reg.get(code), {code}
    while county.successor and county.successor not in seen:
        seen.add(county.successor)
        county = reg.get(county.successor)
    return county


def _units(cur, codes: list[str] | None) -> list[str] | None:
    """Reporting units of `codes`, plus the units a city inspection of a county's organisation links them to."""
    if codes is None:
        return None
    cur.execute("""
        WITH given AS (
            SELECT DISTINCT coalesce(cw.report_code, c) AS unit
              FROM unnest(%(codes)s::text[]) c LEFT JOIN mart.county_crosswalk cw ON cw.source_code = c
        ),
        cross_unit AS (
            SELECT DISTINCT coalesce(inspector.report_code, i.county_code) AS inspector,
                   coalesce(owner.report_code, i.org_county_code) AS owner
              FROM (SELECT county_code, org_county_code FROM core.inspections   -- every version: current
                    UNION ALL SELECT county_code, org_county_code FROM history.inspections) i  -- and closed
              LEFT JOIN mart.county_crosswalk inspector ON inspector.source_code = i.county_code
              LEFT JOIN mart.county_crosswalk owner ON owner.source_code = i.org_county_code
             WHERE i.org_county_code IS NOT NULL
        )
        SELECT unit FROM given
        UNION SELECT owner FROM cross_unit WHERE inspector IN (SELECT unit FROM given)
        UNION SELECT inspector FROM cross_unit WHERE owner IN (SELECT unit FROM given)
        ORDER BY 1""", {"codes": codes})
    return [r[0] for r in cur.fetchall()]


def _sources(cur, units: list[str] | None) -> list[str] | None:
    """The county codes whose rows roll up into `units` (None = all): the as-of functions' second argument."""
    if units is None:
        return None
    cur.execute("SELECT mart.source_codes(%s::text[])", (units,))
    return sorted(set(cur.fetchone()[0]))


def _days(cur, codes, dates, as_of, full) -> tuple[list[dt.date], dict[str, int], list[int]]:
    """The days to compute and, when they come from the loaded batches, the watermarks to advance and the pending
    batch ids (loaded above the watermark, at least one row changed: reach.pending_batches)."""
    days = set(dates or ()) | ({as_of} if as_of else set())
    marks: dict[str, int] = {}
    pending: list[int] = []
    if not days:
        cur.execute("""
            SELECT b.county_code, max(b.batch_id),
                   array_agg(DISTINCT b.business_date) FILTER (
                       WHERE b.batch_id > coalesce(w.last_batch_id, 0) AND b.business_date IS NOT NULL
                         AND EXISTS (SELECT 1 FROM audit.batch_files f WHERE f.batch_id = b.batch_id
                                        AND coalesce(f.inserted_rows, 0) + coalesce(f.updated_rows, 0)
                                            + coalesce(f.withdrawn_rows, 0) > 0))
              FROM audit.batches b
              LEFT JOIN mart.refresh_watermark w ON w.county_code = b.county_code
             WHERE b.status = 'loaded' AND (%(codes)s::text[] IS NULL OR b.county_code = ANY(%(codes)s::text[]))
             GROUP BY b.county_code""", {"codes": codes})
        for code, last, nights in cur.fetchall():
            marks[code] = last
            days.update(nights or ())
        pending = changes.pending_batches(cur, codes)
        if not days:
            days.add(latest_business_date(cur=cur, codes=codes) or today())
    if full:
        cur.execute("SELECT DISTINCT as_of FROM mart.refresh_log")
        days.update(r[0] for r in cur.fetchall())
    return sorted(days), marks, pending


def today() -> dt.date:
    """Today's date in Asia/Shanghai (the business calendar's time zone)."""
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def latest_business_date(url: str | None = None, cur=None, codes: list[str] | None = None) -> dt.date | None:
    """The newest business night loaded (for `codes`, None = any county system)."""
    sql = """SELECT max(business_date) FROM audit.batches
              WHERE status = 'loaded' AND (%(codes)s::text[] IS NULL OR county_code = ANY(%(codes)s::text[]))"""
    if cur is not None:
        cur.execute(sql, {"codes": codes})
        return cur.fetchone()[0]
    with db.connect(url) as conn, conn.cursor() as c:
        c.execute(sql, {"codes": codes})
        return c.fetchone()[0]


def headline(url: str | None = None, as_of: dt.date | None = None, term_no: int | None = None) -> list[dict]:
    """mart.term_headline for one day (and term): unit rows by code, then the whole city, per term."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"""SELECT {', '.join(HEADLINE_COLUMNS)} FROM mart.term_headline
                         WHERE as_of = %s AND (%s::int IS NULL OR term_no = %s)
                         ORDER BY term_no, scope = 'city_total', county_code""", (as_of, term_no, term_no))
        return [dict(zip(HEADLINE_COLUMNS, r)) for r in cur.fetchall()]


def findings_by_category(url: str | None = None) -> list[tuple]:
    """mart.findings_by_category (not a dated series) as (county_code, category, findings, first_found,
    last_found) tuples, by county and category."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT county_code, category, findings, first_found, last_found
                         FROM mart.findings_by_category ORDER BY county_code, category""")
        return cur.fetchall()


# -- reading -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MartTable:
    """The rows of one mart for one day, with the mart's description.

    `columns` are the description's columns (name, Chinese label, unit, meaning) in table order; each row is a
    tuple in that order (dates as datetime.date, rates as Decimal shares 0–1, amounts as Decimal CNY).
    `as_of` is the day read (None for a mart that is not dated, findings_by_category).
    """
    mart: Mart
    as_of: dt.date | None
    rows: list[tuple]

    @property
    def columns(self) -> tuple[Column, ...]:
        """The described columns, in table order (the order of each row's values)."""
        return self.mart.columns

    def records(self) -> list[dict]:
        """The rows as dicts keyed by column name."""
        names = [c.name for c in self.columns]
        return [dict(zip(names, r)) for r in self.rows]


def read_mart(url: str | None = None, name: str = "term_headline", as_of: dt.date | None = None) -> MartTable:
    """The rows of mart.`name` for day `as_of`, ordered by the mart's key; nothing is computed here.

    `as_of` None = the newest loaded night (newest_loaded_night). A day that was not computed reads as no rows:
    call `ensure(url, as_of)` first to compute it (the CLI and the report do). Unknown names raise
    xuncha.metrics.dictionary.DictionaryError listing the marts.
    """
    from xuncha.metrics import dictionary as metric_dictionary

    mart = metric_dictionary.get(name)
    cols = ", ".join(c.name for c in mart.columns)
    order = ", ".join(k for k in mart.key if k != "as_of")
    with db.connect(url) as conn, conn.cursor() as cur:
        if mart.dated:
            day = as_of or latest_business_date(cur=cur)
            cur.execute(f"SELECT {cols} FROM {mart.table} WHERE as_of = %s ORDER BY {order}", (day,))
        else:
            day = None
            cur.execute(f"SELECT {cols} FROM {mart.table} ORDER BY {order}")
        return MartTable(mart, day, [tuple(r) for r in cur.fetchall()])


def read_freshness(url: str | None = None, as_of: dt.date | None = None, cur=None) -> MartTable:
    """数据新鲜度 as of night `as_of` (default: the newest loaded night), one row per county system, with mart.freshness's
    columns (its dictionary entry), from mart.freshness_at(as_of) — the one definition the mart (as of yesterday),
    the report's strip and the workbook's sheet all use, so they agree (age_nights = as_of - last loaded night)."""
    from xuncha.metrics import dictionary as metric_dictionary

    mart = metric_dictionary.get("freshness")
    cols = ", ".join(c.name for c in mart.columns)
    if cur is None:
        with db.connect(url) as conn, conn.cursor() as c:
            return read_freshness(url, as_of, c)
    day = as_of or latest_business_date(cur=cur)
    cur.execute(f"SELECT {cols} FROM mart.freshness_at(%s) ORDER BY county_code", (day,))
    return MartTable(mart, day, [tuple(r) for r in cur.fetchall()])


def newest_loaded_night(url: str | None = None) -> dt.date | None:
    """The newest business night loaded from any county system (None before the first load)."""
    return latest_business_date(url)
