"""`xuncha nights`: which county loaded which night, as a grid from the warehouse (xuncha.monitor.nights: the same
judgement `xuncha_night` fails on)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from xuncha.cli import _date, app, console, err, friendly

DEFAULT_NIGHTS = 14
"""Nights shown when --from is not given: the fortnight up to --to."""
COLOURS = {"quarantined": "red", "failed": "red", "missing": "red", "late": "yellow", "waiting": "cyan"}


@app.command()
@friendly
def nights(
    from_: Annotated[Optional[str], typer.Option("--from", help="First night (YYYY-MM-DD); default: 13 nights before --to.")] = None,
    to: Annotated[Optional[str], typer.Option(help="Last night (YYYY-MM-DD); default: the newest night loaded in the warehouse.")] = None,
    county: Annotated[Optional[list[str]], typer.Option(help="Only this county code (repeatable).")] = None,
):
    """Each county's state on each night, one row per county, one column per night: loaded, 迟报 late, 隔离
    quarantined, 失败 failed (ours), 漏报 missing, waiting (deadline not yet passed), — before go-live, · no export
    due; blank: not active that night. The same judgement as the xuncha_night DAG (xuncha.monitor.nights)."""
    from xuncha import registry
    from xuncha.monitor import nights as judged

    reg = registry.default()
    for code in county or ():
        reg.get(code)   # an unknown code: a clear error naming it
    last = _date(to) or judged.newest_night() or dt.date.today() - dt.timedelta(days=1)
    first = _date(from_) or last - dt.timedelta(days=DEFAULT_NIGHTS - 1)
    if first > last:
        raise typer.BadParameter(f"--from {first} is after --to {last}")
    by_night = judged.states(first, last, reg=reg, codes=list(county) if county else None)
    days = sorted(by_night)
    rows = judged.grid(by_night, reg)
    if not rows:
        err.print(f"no county active between {first} and {last}")
        return
    t = Table("county", *(f"{d:%m-%d}" for d in days), title=f"nights {first} … {last} — the state of each county's night")
    for label, cells in rows:
        t.add_row(label, *(f"[{COLOURS[s]}]{judged.CELLS[s]}[/]" if s in COLOURS else judged.CELLS[s] for s in cells))
    out = console if console.is_terminal else Console(width=max(150, 24 + 9 * len(days)))
    out.print(t)
    red = [d for d in days if any(v["state"] in judged.RED for v in by_night[d].values())]
    out.print(f"{len(red)} red night(s) of {len(days)}" + (f": {', '.join(map(str, red))}" if red else "")
              + " · legend: 隔离 quarantined, 漏报 missing, 迟报 late, — before go-live, · no export due")
