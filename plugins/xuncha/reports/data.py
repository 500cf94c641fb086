"""What the report 巡察工作数据报告 shows, read from the marts for one as-of day (no rendering here).

`load(url, as_of)` returns a `ReportData`: whole mart rows (dicts keyed by column name) of that day, read through
xuncha.metrics.marts.read_mart (the one reader of the marts: the described columns, ordered by the mart's key), plus the
county names of `mart.county_crosswalk` and a freshness row per county system. Every figure keeps the
numerator and denominator its mart stores (docs/metrics.md), so the page can show both beside each rate.

Freshness (数据新鲜度): per county system of the registry active on the day, from mart.freshness_at(as_of) (the one
definition, xuncha.metrics.marts.read_freshness; the workbook's sheet and mart.freshness use it too): the newest
business night loaded up to the day, nights behind the day (age_nights), deadline misses, exports and quarantines
of the 30 nights up to it; and the state of its newest delivery: `current` (it has the day's night), `behind`
(older), `quarantined` (its newest delivery was quarantined or failed) or `none` (nothing loaded yet).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from xuncha.warehouse import db

MARTS = ("term_headline", "coverage", "rounds_per_year", "rectification", "rectification_overdue", "satisfaction",
         "satisfaction_by_org", "clue_disposal", "clue_ageing", "outcomes")
"""The mart tables the report reads, each as `mart.<name>` rows of the as-of day."""
LEDGERS = ("ledger_uninspected", "ledger_rectification", "ledger_clues", "ledger_satisfaction", "ledger_outcomes")
"""The lists (台账) behind the figures, opened by a click (xuncha.reports.drill), rows of the as-of day."""


@dataclass
class ReportData:
    """The report's input: `marts[name]` = rows of `mart.<name>` on `as_of` (term_no filtered to `term_no`
    where the mart has terms); `lists[name]` the same for the ledgers; `names` = reporting-unit code → name;
    `freshness` = one row per county system; `latest` = the newest business night loaded by anyone (None when
    nothing is loaded); `edition` = the newest published edition of the day (None) and `changes` its figures that
    differ today (xuncha.metrics.editions.Change)."""

    as_of: dt.date
    term_no: int | None
    latest: dt.date | None
    generated_at: dt.datetime
    names: dict[str, str] = field(default_factory=dict)
    marts: dict[str, list[dict]] = field(default_factory=dict)
    freshness: list[dict] = field(default_factory=list)
    lists: dict[str, list[dict]] = field(default_factory=dict)
    edition: object = None
    changes: list = field(default_factory=list)

    def name(self, code: str) -> str:
        """`410325` → `嵩县` (the reporting unit's name today; the code itself when unknown)."""
        return "全市" if code == "city_total" else self.names.get(code, code)


def load(url: str | None = None, as_of: dt.date | None = None, compute: bool = True) -> ReportData:
    """The marts of `as_of` (default: the newest night loaded). With `compute`, units the series lacks for
    that day are computed first (`metrics.ensure`), so a report can be built for any past day.

    Raises `ValueError` for a day after the newest night loaded: its figures would silently equal the
    newest night's and look current when they are not."""
    from xuncha.metrics import marts as metrics

    latest = metrics.latest_business_date(url)
    day = as_of or latest or metrics.today()
    if latest is not None and day > latest:
        raise ValueError(f"as-of {day} is later than the newest loaded night ({latest}): no figures for it")
    if compute and latest is not None:
        metrics.ensure(url, as_of=day)
    data = ReportData(as_of=day, term_no=None, latest=latest, generated_at=dt.datetime.now(dt.timezone.utc))
    data.marts = {mart: metrics.read_mart(url, mart, day).records() for mart in MARTS}
    data.lists = {name: metrics.read_mart(url, name, day).records() for name in LEDGERS}
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT report_code, report_name FROM mart.county_crosswalk")
        data.names = dict(cur.fetchall())
        data.term_no = _term(data.marts["term_headline"], day)
        if data.term_no is not None:
            for mart, rows in data.marts.items():
                if rows and "term_no" in rows[0]:
                    data.marts[mart] = [r for r in rows if r["term_no"] == data.term_no]
            for name, rows in data.lists.items():
                if rows and "term_no" in rows[0]:
                    data.lists[name] = [r for r in rows if r["term_no"] == data.term_no]
        data.freshness = freshness(cur, day)
    from xuncha.metrics import editions

    data.edition, data.changes = editions.compare(url, day)
    return data


def freshness(cur, day: dt.date) -> list[dict]:
    """One row per county system active on `day`: code, name, last_loaded (date|None), last_status, state,
    days_behind (mart.freshness_at(day).age_nights: `day` − its newest loaded night; None without a load),
    open_misses, exports_30 and quarantined_30. Figures from xuncha.metrics.marts.read_freshness, the definition the
    workbook's sheet and mart.freshness share; the state also reads the newest delivery (see the module doc)."""
    from xuncha import registry
    from xuncha.metrics import marts as metrics

    fresh = {r["county_code"]: r for r in metrics.read_freshness(as_of=day, cur=cur).records()}
    cur.execute("""
        SELECT DISTINCT ON (county_code) county_code, status, business_date, finished_at
          FROM audit.batches WHERE business_date <= %(day)s AND status <> 'duplicate'
         ORDER BY county_code, business_date DESC, batch_id DESC""", {"day": day})
    newest = {r[0]: r[1:] for r in cur.fetchall()}
    out = []
    for c in registry.default().active(day):
        f = fresh.get(c.code, {})
        status, night, finished = newest.get(c.code, (None, None, None))
        last_loaded, age = f.get("last_loaded_night"), f.get("age_nights")
        if status in ("quarantined", "failed"):
            state = "quarantined"
        elif last_loaded is None:
            state = "none"
        else:
            state = "current" if age == 0 else "behind"
        out.append({"county_code": c.code, "county_name": c.name, "level": c.level, "last_loaded": last_loaded,
                    "last_status": status, "last_night": night, "finished_at": finished, "state": state,
                    "days_behind": age, "open_misses": f.get("open_misses"), "exports_30": f.get("exports_30"),
                    "quarantined_30": f.get("quarantined_30")})
    return out


def _term(headline: list[dict], day: dt.date) -> int | None:
    """The term the report is about: the configured term containing `day`, else the newest term with figures."""
    from xuncha.metrics import config as metrics_config

    terms = {r["term_no"] for r in headline if r["term_no"]}
    for t in metrics_config.load().terms:
        if t.start <= day and (t.end is None or day <= t.end) and (not terms or t.term_no in terms):
            return t.term_no
    return max(terms) if terms else None

