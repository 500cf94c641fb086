"""Health checks of the platform (the hourly `xuncha_health` DAG), without Airflow.

`refresh_freshness` recomputes mart.freshness (sql/marts/freshness.sql: one row per county system). `findings`
reads it and the marts and returns what an operator must hear about, one `Finding` per county and kind:

- stale: an active county whose newest loaded night is more than `max_age_nights` behind yesterday;
- late or missing: open missed deadlines (audit.deadline_misses without `arrived_at`, 迟报/漏报);
- clues_overdue: open clues past the three-month feedback rule (mart.clue_disposal.open_beyond_rule, newest day);
- rectification_overdue: rectification tasks due and not completed (mart.rectification.tasks_overdue, newest day);
- quarantine_rising: the quarantine rate of the last 30 nights above `rising_floor` and above the 30 before.

Thresholds are arguments (the DAG passes its params). Each finding is raised once per county, kind and day in
audit.alerts (xuncha.monitor.alerts); the DAG sends the new ones through Airflow notifiers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from xuncha.warehouse import db
from xuncha.settings import SQL_DIR

FRESHNESS_SQL = SQL_DIR / "marts" / "freshness.sql"


@dataclass(frozen=True)
class Finding:
    """One thing the daily health check found about one county system; raised as an alert of `kind`.
    `value`: the figure behind it (days, count or share), None when the kind has none."""
    kind: str            # stale | deadline_missed | clues_overdue | rectification_overdue | quarantine_rising
    county_code: str
    county_name: str
    message: str         # one line, English with the Chinese term
    value: float | int | None = None

    def line(self) -> str:
        """`<county name> <code>: <message>`, the alert's message."""
        return f"{self.county_name} {self.county_code}: {self.message}"


def refresh_freshness(url: str | None = None) -> int:
    """Recompute mart.freshness from audit.batches / audit.deadline_misses and the registry; returns its rows."""
    from xuncha import registry
    from xuncha.metrics import marts as metrics

    with db.connect(url) as conn, conn.cursor() as cur:
        metrics.sync_crosswalk(cur, registry.default())
        cur.execute(FRESHNESS_SQL.read_text(encoding="utf-8"))
        cur.execute("SELECT count(*) FROM mart.freshness")
        return cur.fetchone()[0]


def freshness(url: str | None = None) -> list[dict]:
    """mart.freshness as dicts, by county code."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM mart.freshness ORDER BY county_code")
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def findings(url: str | None = None, max_age_nights: int = 1, rising_floor: float = 0.05) -> list[Finding]:
    """Everything wrong right now (see the module doc), from mart.freshness and the newest day of the marts."""
    out: list[Finding] = []
    for f in freshness(url):
        if not f["active"]:
            continue
        name, code = f["county_name"], f["county_code"]
        if f["age_nights"] is None or f["age_nights"] > max_age_nights:
            last = f["last_loaded_night"] or "never"
            out.append(Finding("stale", code, name, f"newest loaded night {last}, {f['age_nights'] if f['age_nights'] is not None else '∞'} "
                                                    f"night(s) behind {f['expected_night']} (数据不新鲜)", f["age_nights"]))
        if f["open_misses"]:
            out.append(Finding("deadline_missed", code, name, f"{f['open_misses']} night(s) past the deadline with no export "
                                                              "(迟报/漏报)", f["open_misses"]))
        rate, prev = f["quarantine_rate_30"], f["quarantine_rate_prev"]
        if rate is not None and rate > rising_floor and (prev is None or rate > prev):
            out.append(Finding("quarantine_rising", code, name,
                               f"quarantine rate {float(rate):.0%} ({f['quarantined_30']}/{f['exports_30']}) in the last 30 nights, "
                               f"was {'—' if prev is None else f'{float(prev):.0%}'} (隔离率上升)", float(rate)))
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT DISTINCT ON (d.county_code) d.county_code, coalesce(cw.report_name, d.county_code),
                              d.open_beyond_rule, d.feedback_months, d.as_of
                         FROM mart.clue_disposal d LEFT JOIN (SELECT DISTINCT report_code, report_name
                                                                FROM mart.county_crosswalk) cw ON cw.report_code = d.county_code
                        ORDER BY d.county_code, d.as_of DESC""")
        for code, name, beyond, months, as_of in cur.fetchall():
            if beyond:
                out.append(Finding("clues_overdue", code, name, f"{beyond} open clue(s) past the {months}-month feedback rule "
                                                                f"as of {as_of} (线索超期未反馈)", beyond))
        cur.execute("""SELECT DISTINCT ON (r.county_code) r.county_code, coalesce(cw.report_name, r.county_code), r.overdue, r.as_of
                         FROM (SELECT as_of, county_code, sum(tasks_overdue) AS overdue FROM mart.rectification
                                GROUP BY 1, 2) r
                         LEFT JOIN (SELECT DISTINCT report_code, report_name FROM mart.county_crosswalk) cw
                                ON cw.report_code = r.county_code
                        ORDER BY r.county_code, r.as_of DESC""")
        for code, name, overdue, as_of in cur.fetchall():
            if overdue:
                out.append(Finding("rectification_overdue", code, name, f"{overdue} rectification task(s) overdue as of {as_of} "
                                                                        "(整改逾期)", int(overdue)))
    return out


def record(url: str | None, found: list[Finding], day: dt.date | None = None) -> list[Finding]:
    """Raise each finding as an alert once per county, kind and day; return the new ones (to notify)."""
    from xuncha.monitor import alerts

    day = day or dt.date.today()
    new = []
    with db.connect(url) as conn, conn.cursor() as cur:
        for f in found:
            cur.execute("""SELECT 1 FROM audit.alerts WHERE kind = %s AND county_code = %s AND raised_at::date = %s
                             AND detail->>'source' = 'health'""", (f.kind, f.county_code, day))
            if cur.fetchone() is None:
                new.append(f)
    for f in new:
        alerts.raise_alert(url or db.warehouse_url(), f.kind, f.county_code, f.line(),
                           detail={"source": "health", "value": f.value})
    return new


def summary(found: list[Finding]) -> str:
    """The notification text: one line per finding, grouped by kind."""
    if not found:
        return "Xuncha health: all counties fresh, nothing overdue (巡察数据健康检查：正常)"
    lines = [f"Xuncha health: {len(found)} finding(s) (巡察数据健康检查)"]
    lines += [f"- [{f.kind}] {f.line()}" for f in sorted(found, key=lambda f: (f.kind, f.county_code))]
    return "\n".join(lines)
