"""`xuncha metrics` (any mart as of a day) and `xuncha dictionary` (the metric dictionary's generated files)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from xuncha.cli import _date, _print_headline, app, console, err, friendly


@app.command()
@friendly
def metrics(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Day to report (YYYY-MM-DD): the figures as they "
                                                 "stood at the end of it. Default: the newest night loaded.")] = None,
    mart: Annotated[str, typer.Option(help="The mart to print (see --list); default the term headline.")] = "term_headline",
    term: Annotated[Optional[int], typer.Option(help="Only this term (届次); default: every term with figures.")] = None,
    refresh: Annotated[bool, typer.Option(help="Recompute every county for that day first (otherwise only the "
                                                "counties the series lacks for it are computed).")] = True,
    findings: Annotated[bool, typer.Option(help="Also print findings by county and category.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the marts and exit.")] = False,
):
    """Print a mart (default the term headline 巡察工作情况) as of a day, computing that day first.

    A day later than the newest loaded night is not computed: its figures would be stored as if the nights
    after it had nothing to report. The command warns and stores nothing.
    """
    from xuncha.metrics import dictionary as metric_dictionary
    from xuncha.metrics import marts as m
    from xuncha.warehouse import migrate

    if list_:
        t = Table("mart", "中文", "one row is", title="marts (sql/marts/*.yml)")
        for d in metric_dictionary.marts().values():
            t.add_row(d.name, d.title, d.grain)
        console.print(t)
        return
    desc = metric_dictionary.get(mart)
    migrate.migrate()
    newest = m.newest_loaded_night()
    day = _date(as_of) or newest or m.today()
    if newest is None or day > newest:
        err.print(f"[yellow]warning:[/] as-of {day} is later than the newest loaded night "
                  f"({newest or 'none loaded yet'}); nothing was computed or stored. Load the nights up to {day} "
                  f"first, or ask for a day up to {newest or 'the first loaded night'}.")
        return
    if refresh:
        m.refresh(as_of=day)
    else:
        m.ensure(as_of=day)
    if desc.name == metric_dictionary.HEADLINE:
        _print_headline(day, m.headline(as_of=day, term_no=term))
    else:
        print_mart(m.read_mart(name=desc.name, as_of=day), term)
    if findings:
        from xuncha.cli import _print_findings

        _print_findings(m.findings_by_category())


def cell(value, unit: str) -> str:
    """A mart value as printed: shares as %, CNY with two decimals, counts with thousands separators."""
    if value is None:
        return "—"
    if unit == "share":
        return f"{value * 100:.2f}%"
    if unit == "CNY":
        return f"{value:,.2f}"
    if unit == "boolean":
        return "是" if value else "否"
    if unit in ("count", "persons") and isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return str(value)


def print_mart(table, term: int | None = None) -> None:
    """One mart's rows as a terminal table with Chinese and English headers (as_of in the title, not a column)."""
    mart = table.mart
    cols = [c for c in table.columns if c.name != "as_of"]
    idx = [table.columns.index(c) for c in cols]
    day = f" as of {table.as_of} (end of day, Asia/Shanghai)" if mart.dated else " (current state)"
    t = Table(*(f"{c.header}\n{c.name}" for c in cols), title=f"{mart.title} — {mart.title_en}{day}",
              caption=f"mart.{mart.name} · one row = {mart.grain}")
    for c, col in zip(cols, t.columns):
        if c.unit in ("count", "persons", "share", "CNY", "days", "months"):
            col.justify = "right"
    term_at = next((i for i, c in enumerate(table.columns) if c.name == "term_no"), None)
    rows = [r for r in table.rows if term is None or term_at is None or r[term_at] == term]
    for r in rows:
        t.add_row(*(cell(r[i], c.unit) for i, c in zip(idx, cols)))
    if not rows:
        t.add_row(*(["no rows"] + [""] * (len(cols) - 1)))
    console.print(t)


@app.command()
@friendly
def dictionary(write: Annotated[bool, typer.Option(help="Rewrite docs/metrics.md and sql/repeatable/mart_comments.sql.")] = False):
    """Check (or rewrite) the files generated from the mart descriptions sql/marts/*.yml (指标字典)."""
    from xuncha.metrics import dictionary as metric_dictionary

    if write:
        changed = metric_dictionary.write()
        console.print("rewrote " + ", ".join(str(p) for p in changed) if changed else "already in sync")
        return
    stale = metric_dictionary.stale()
    if stale:
        raise ValueError(f"out of date with sql/marts/*.yml: {', '.join(p.name for p in stale)} "
                         "(run `xuncha dictionary --write`)")
    console.print("docs/metrics.md and the marts' COMMENT ON match sql/marts/*.yml")


