"""The benchmark's result rows: one list shared by every part of bench/run.py (P1 … P4), printed as they come.

A row is name, measured, baseline, ratio, target and met ("met", "NOT met", or "info" for a row that only
informs and has no target of its own). Parts import this module (`import bench_rows`), never `run`, which runs
as __main__: a fresh `import run` would hold a second, empty list.
"""

from __future__ import annotations

ROWS: list[dict] = []


def row(name: str, measured: str, baseline: str, ratio: str, target: str, met: bool | None, unit: str = "") -> dict:
    """Record and print one row; `met` None marks an informative row (printed "info"). Returns the row."""
    r = {"name": name, "measured": measured, "baseline": baseline, "ratio": ratio, "target": target,
         "met": "info" if met is None else ("met" if met else "NOT met"), "unit": unit}
    ROWS.append(r)
    print(f"  {name:<44} {measured:>16} {baseline:>16} {ratio:>8} {target:>22} {r['met']}", flush=True)
    return r


def fmt(x: float, unit: str = "") -> str:
    """A figure for the table: thousands separators from 100 on, else two decimals."""
    return f"{x:,.0f}{unit}" if abs(x) >= 100 else f"{x:,.2f}{unit}"
