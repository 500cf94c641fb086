"""`xuncha check-export` (a county checks an export before sending it, no warehouse) and `xuncha export-references`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xuncha.cli import app, console, friendly


@app.command("check-export")
@friendly
def check_export(
    path: Annotated[Path, typer.Argument(help="The export folder (with manifest.json).")],
    references: Annotated[Optional[Path], typer.Option(help="The county's reference file from the platform "
                                                           "(`xuncha export-references CODE`): checks references to earlier nights.")] = None,
    county: Annotated[Optional[str], typer.Option(help="County code (default: the manifest's).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show the platform's own log lines (GX, pipeline) on stderr.")] = False,
):
    """Check one export with ingestion's own checks (manifest, checksums, parsing, expectations), no warehouse needed.

    Exit 0: ok; 1: warnings, or a reference to an earlier night that could not be checked offline; 2: critical
    (the platform would quarantine it). Only the report is printed: the platform's log lines (GX, pipeline,
    embedded PostgreSQL) are silenced unless --verbose."""
    import logging
    import warnings

    from xuncha.intake import selfcheck

    if not verbose:
        logging.disable(logging.CRITICAL)   # the county reads its report, not "GX context built …" (county trial)
        warnings.simplefilter("ignore")
    try:
        report = selfcheck.check_export(path, references=references, county_code=county)
    finally:
        logging.disable(logging.NOTSET)
    for line in report.lines():
        console.print(line, markup=False, soft_wrap=True)
    raise typer.Exit(report.exit_code)


@app.command("export-references")
@friendly
def export_references(
    code: Annotated[str, typer.Argument(help="County code.")],
    out: Annotated[Optional[Path], typer.Option(help="File to write (default: references-CODE.json).")] = None,
):
    """Write the county's reference file: the ids the warehouse holds for it, for `xuncha check-export --references`."""
    from xuncha.intake import selfcheck

    target = out or Path(f"references-{code}.json")
    counts = selfcheck.export_references(code, target)
    console.print(f"wrote {target}: " + (", ".join(f"{n:,} {e}" for e, n in counts.items()) or "nothing loaded yet"))
