"""`xuncha report`: the reports of the marts as of a day (the Excel workbook with --xlsx)."""

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
    xlsx: Annotated[bool, typer.Option("--xlsx", help="Write the Excel workbook: the headline and each mart as a "
                                                      "sheet (巡察工作数据-<as-of>.xlsx).")] = False,
):
    """Write the reports of the marts (巡察工作数据报告) as of a day."""
    from xuncha import migrate

    if not xlsx:
        raise typer.BadParameter("say which report to write: --xlsx (the Excel workbook)")
    migrate.migrate()
    from xuncha.reports import workbook

    path = workbook.build(as_of=_date(as_of), out=out)
    console.print(f"wrote {path}")
