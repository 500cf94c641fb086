"""The volume monitor (数据量异常): a county whose exports arrive but carry nothing, or far less than it usually sends.

A heartbeat export (`"files": []`, export spec §1) loads and keeps a county fresh; a county system that broke so
that it only sends heartbeats looks perfectly fresh. This monitor reads the rows each loaded night carried
(audit.batches.loaded_rows, else declared_rows; the nights of the county's whole lineage, so a successor is judged
with its predecessors' history) and finds, for the night `night` and the nights before it:

- **heartbeats only**: the newest `empty_nights` loaded nights (or more) carried no rows, while the median rows of
  the `history_nights` loaded nights before them is at least `min_median_rows`;
- **far below the median**: the newest loaded night carried some rows, but fewer than `drop_ratio` × the median of
  the `history_nights` loaded nights before it (at least 3 of them), that median being at least `min_median_rows`.

Thresholds come from the county's `volume` entry in config/counties.yml (schema-checked), else DEFAULTS.
"""

from __future__ import annotations

import datetime as dt
import statistics

from xuncha.warehouse import db

DEFAULTS = {"empty_nights": 7, "drop_ratio": 0.1, "history_nights": 28, "min_median_rows": 10}
"""Default thresholds: 7 heartbeat-only nights; a night below 10% of the median; the 28 loaded nights before as the
history; a history median under 10 rows means the county does not usually send rows (never alerted)."""


def thresholds(county) -> dict:
    """The county's thresholds: DEFAULTS overlaid with its registry `volume` entry (a registry.County)."""
    return {**DEFAULTS, **(getattr(county, "volume", None) or {})}


def nightly_rows(url: str | None, codes: list[str], night: dt.date, limit: int = 400) -> list[tuple[dt.date, int]]:
    """[(business night, rows loaded)] of the loaded nights of `codes` up to `night`, newest first (at most `limit`).
    Rows: loaded_rows of each loaded export (declared_rows when not recorded), summed per night."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT business_date, sum(coalesce(loaded_rows, declared_rows, 0))::bigint
                         FROM audit.batches
                        WHERE county_code = ANY(%s) AND status = 'loaded' AND business_date <= %s
                        GROUP BY 1 ORDER BY 1 DESC LIMIT %s""", (codes, night, limit))
        return [(d, int(n)) for d, n in cur.fetchall()]


def judge(nights: list[tuple[dt.date, int]], limits: dict) -> dict | None:
    """The volume problem in `nights` (newest first, from `nightly_rows`) under `limits` (`thresholds`), or None.
    Returns {"rule": "heartbeats_only" | "below_median", "nights", "since", "rows", "median", ...}."""
    run = 0
    while run < len(nights) and nights[run][1] == 0:
        run += 1
    if run >= limits["empty_nights"]:
        history = [n for _, n in nights[run:run + limits["history_nights"]]]
        median = statistics.median(history) if history else 0
        if median >= limits["min_median_rows"]:
            return {"rule": "heartbeats_only", "nights": run, "since": str(nights[run - 1][0]), "rows": 0,
                    "median": float(median), "history_nights": len(history)}
        return None
    if run == 0 and nights:
        history = [n for _, n in nights[1:1 + limits["history_nights"]]]
        if len(history) >= 3:
            median = statistics.median(history)
            rows = nights[0][1]
            if median >= limits["min_median_rows"] and rows < limits["drop_ratio"] * median:
                return {"rule": "below_median", "nights": 1, "since": str(nights[0][0]), "rows": rows,
                        "median": float(median), "history_nights": len(history), "drop_ratio": limits["drop_ratio"]}
    return None


def findings(url: str | None, registry, night: dt.date) -> list:
    """A `volume` xuncha.monitor.findings.Finding per county active on `night` whose nights break a rule (module doc)."""
    from xuncha.monitor.findings import Finding

    out = []
    for county in registry.counties:
        if not county.active_on(night):
            continue
        limits = thresholds(county)
        got = judge(nightly_rows(url, list(registry.lineage(county.code)), night), limits)
        if got is None:
            continue
        if got["rule"] == "heartbeats_only":
            text = (f"the last {got['nights']} loaded night(s) since {got['since']} carried no rows (heartbeats only), "
                    f"median {got['median']:g} rows a night before (数据量异常：连续空报)")
        else:
            text = (f"night {got['since']} carried {got['rows']} rows, below {limits['drop_ratio']:.0%} of the median "
                    f"{got['median']:g} of the {got['history_nights']} nights before (数据量异常：骤降)")
        out.append(Finding("volume", county.code, county.name, text, got))
    return out
