"""`xuncha report`: the report 巡察工作数据报告 as of a day — one self-contained HTML file (charts, tables, the
lists behind the figures, freshness; opens offline), and with --xlsx the Excel workbook. `xuncha report publish`
records a published edition of a day (immutable, xuncha.metrics.editions); `xuncha report editions` lists them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xuncha.cli import _date, app, console, friendly

report_app = typer.Typer(help="The report 巡察工作数据报告 (HTML, workbook) and its published editions.",
                         invoke_without_command=True)
app.add_typer(report_app, name="report")


@report_app.callback()
@friendly
def report(
    ctx: typer.Context,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Day to report (YYYY-MM-DD), computed first where "
                                                 "missing. Default: the newest night loaded.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Folder to write into (default: XUNCHA_HOME/reports).")] = None,
    xlsx: Annotated[bool, typer.Option("--xlsx", help="Also write the Excel workbook: the headline, each mart and each "
                                                      "list as a sheet (巡察工作数据-<as-of>.xlsx).")] = False,
):
    """Write the report 巡察工作数据报告 as of a day (HTML that opens offline; --xlsx adds the Excel workbook)."""
    if ctx.invoked_subcommand is not None:
        return
    from xuncha.warehouse import migrate
    from xuncha.reports import html

    migrate.migrate()
    path = html.build(as_of=_date(as_of), out=out)
    console.print(f"巡察工作数据报告 written: {path} ({path.stat().st_size / 1e6:.1f} MB, opens offline in any browser)")
    if xlsx:
        from xuncha.reports import workbook

        console.print(f"wrote {workbook.build(as_of=_date(as_of), out=out)}")


PUBLISHER_ENV = "XUNCHA_PUBLISHER"
"""The environment variable naming who publishes editions when `--by` is not given."""


def publisher(by: str | None) -> str:
    """The 发布人 of an edition: `by` (--by), else $XUNCHA_PUBLISHER, else the OS user (getpass.getuser: $LOGNAME,
    $USER, $LNAME, $USERNAME, then the password database). Never the database role."""
    import getpass
    import os

    return by or os.environ.get(PUBLISHER_ENV) or getpass.getuser()


@report_app.command("publish")
@friendly
def publish(as_of: Annotated[Optional[str], typer.Option("--as-of", help="Day to publish (YYYY-MM-DD). Default: the "
                                                         "newest night loaded.")] = None,
            by: Annotated[Optional[str], typer.Option("--by", help="Who publishes (发布人), as readers know them. "
                                                      f"Default: ${PUBLISHER_ENV}, else the OS user.")] = None):
    """Record the edition of a day: its figures and lists as known now, kept unchanged for good (time and checksum
    set by the warehouse), with the name of who published it. Later reports of that day show each figure's
    published and current value."""
    from xuncha.metrics import editions
    from xuncha.warehouse import migrate

    migrate.migrate()
    e = editions.publish(as_of=_date(as_of), by=publisher(by))
    console.print(f"edition {e.edition_id} of {e.as_of} published by {e.publisher} at "
                  f"{e.published_at:%Y-%m-%d %H:%M:%S %Z} from {len(e.known_batches)} loaded exports; sha256 {e.checksum}")


@report_app.command("editions")
@friendly
def editions_list():
    """List the published editions, newest first, each with its checksum verified against its content."""
    from rich.table import Table

    from xuncha.metrics import editions

    rows = editions.listing()
    if not rows:
        console.print("尚无已发布版本 no edition is published yet: publish one with "
                      "`xuncha report publish --as-of YYYY-MM-DD --by 姓名`")
        return
    t = Table("版本", "截至日期", "发布时间", "发布人", "导出批次", "sha256", "校验")
    for eid, as_of, at, by, n, checksum, ok in rows:
        t.add_row(str(eid), str(as_of), f"{at:%Y-%m-%d %H:%M:%S}", by, str(n), checksum[:16] + "…", "✓" if ok else "✗ 不符")
    console.print(t)
