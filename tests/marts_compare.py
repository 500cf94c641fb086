"""Incremental marts against a full recompute (issue 28): `differences(url)` names every mart whose rows differ from
what `refresh(full=True)` makes for the same days. Used by tests/test_marts_late*.py and the soak (tests/soak.py)."""

from __future__ import annotations

from conftest import query

from xuncha.metrics import dictionary as metric_dictionary
from xuncha.metrics import marts as metrics

MARTS = metric_dictionary.marts()
DATED = tuple(name for name, m in MARTS.items() if m.dated)
OTHER = tuple(name for name, m in MARTS.items() if not m.dated)
LISTS = metrics.ledger_names()   # kept for chosen days only (marts.refresh_on), checked against a fresh list


def snapshot(url) -> dict[str, list[tuple]]:
    """Every mart table's rows (the columns of its description, as_of and county_code first), sorted;
    `refresh_log` its (as_of, unit) pairs."""
    out = {}
    for name, m in MARTS.items():
        cols = [c.name for c in m.columns]
        if m.dated:
            cols = ["as_of", "county_code"] + [c for c in cols if c not in ("as_of", "county_code")]
        out[name] = sorted(query(url, f"SELECT {', '.join(cols)} FROM {m.table}"), key=repr)
    out["refresh_log"] = sorted(query(url, "SELECT as_of, county_code FROM mart.refresh_log"))
    return out


def logged_part(table: str, rows: list[tuple], logged: set) -> list[tuple]:
    """The rows of a dated mart on the (as_of, unit) pairs of `logged`, and the whole city on every logged day."""
    days = {d for d, _ in logged}
    scope = ["as_of", "county_code"] + [c.name for c in MARTS[table].columns if c.name not in ("as_of", "county_code")]
    city = scope.index("scope") if "scope" in scope else None
    return [r for r in rows if (r[0], r[1]) in logged or (city is not None and r[city] == "city_total" and r[0] in days)]


def differences(url) -> list[str]:
    """The marts (names, "table: why") where the incremental series is not what a full recompute of the same days
    gives: a (day, unit) the series holds, a whole-city row, an undated mart, a row outside the logged pairs, or a
    list (台账) kept for a (day, unit) that differs from the list made afresh. Leaves the warehouse fully recomputed."""
    from xuncha.metrics import config as metrics_config

    incremental = snapshot(url)
    metrics.refresh(url, full=True)
    full = snapshot(url)
    logged = set(incremental["refresh_log"])
    out = []
    for table in DATED:
        if table in LISTS:
            continue
        if logged_part(table, incremental[table], logged) != incremental[table]:
            out.append(f"{table}: rows outside the logged (day, unit) pairs")
        elif incremental[table] != logged_part(table, full[table], logged):
            out.append(f"{table}: differs from the full recompute")
    out += [f"{t}: differs from the full recompute" for t in OTHER if incremental[t] != full[t]]
    for day in sorted({r[0] for table in LISTS for r in incremental[table]}):
        metrics.lists_of(url, day, metrics_config.load())
    fresh = snapshot(url)
    for table in LISTS:
        pairs = {(r[0], r[1]) for r in incremental[table]}
        if incremental[table] != [r for r in fresh[table] if (r[0], r[1]) in pairs]:
            out.append(f"{table}: a kept list differs from the list made afresh")
    return out
