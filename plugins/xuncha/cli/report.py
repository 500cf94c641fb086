"""`xuncha report`: the report 巡察工作数据报告 as of a day — one self-contained HTML file (charts, tables,
freshness; opens offline), and with --xlsx the Excel workbook of the headline and every mart."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xuncha.cli import _date, app, console, friendly


@app.command()
@friendly
def report(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Day to report (YYYY-MM-DD), computed first where "
                                                 "missing. Default: the newest night loaded.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Folder to write into (default: XUNCHA_HOME/reports).")] = None,
    xlsx: Annotated[bool, typer.Option("--xlsx", help="Also write the Excel workbook: the headline and each mart as a "
                                                      "sheet (巡察工作数据-<as-of>.xlsx).")] = False,
):
    """Write the report 巡察工作数据报告 as of a day (HTML that opens offline; --xlsx adds the Excel workbook)."""
    from xuncha.warehouse import migrate
    from xuncha.reports import html

    migrate.migrate()
    path = html.build(as_of=_date(as_of), out=out)
    console.print(f"巡察工作数据报告 written: {path} ({path.stat().st_size / 1e6:.1f} MB, opens offline in any browser)")
    if xlsx:
        from xuncha.reports import workbook

        console.print(f"wrote {workbook.build(as_of=_date(as_of), out=out)}")
