"""`xuncha generate` (synthetic county exports, from the sim package) and `xuncha ingest` (exports by path)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from xuncha.cli import _date, app, console, err, friendly


@app.command()
@friendly
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write exports into (one sub-folder per county).")],
    profile: Annotated[str, typer.Option(help="seed (Luoyang, 11th term) or tiny.")] = "seed",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same bytes.")] = 0,
    faults: Annotated[Optional[list[str]], typer.Option("--faults", help="Fault kinds to inject, or 'all'.")] = None,
    from_: Annotated[Optional[str], typer.Option("--from", help="First business night to write (YYYY-MM-DD).")] = None,
    to: Annotated[Optional[str], typer.Option(help="Last business night to write (YYYY-MM-DD).")] = None,
):
    """Write synthetic county exports (and truth.json) calibrated to the seed figures."""
    from xuncha_sim.generator import generate as run

    truth = run(out, profile=profile, seed=seed, faults=faults or (), start=_date(from_), end=_date(to),
                progress=sys.stderr.isatty())
    console.print(f"wrote {truth.get('exports', '?')} exports to {out}")


@app.command()
@friendly
def ingest(
    path: Annotated[Path, typer.Argument(help="An export folder (with manifest.json) or a tree of them.")],
    county: Annotated[Optional[str], typer.Option(help="County code the exports belong to (default: from the folder).")] = None,
    move: Annotated[bool, typer.Option(help="Move handled exports to the archive/quarantine areas, as the DAG does.")] = False,
    confirm_withdraw: Annotated[bool, typer.Option("--confirm-withdraw", help="Let full snapshots withdraw more than "
                                                   "XUNCHA_WITHDRAW_HOLD_SHARE of a county's rows (held otherwise).")] = False,
):
    """Run the nightly pipeline outside Airflow on one export or a tree of exports, oldest night first. A quarantined
    export opens (or updates) its county's quarantine incident and notifies at once, as the county DAG's ingest task
    does (xuncha.orchestration.health.quarantined), not at the next hourly health run.

    Exit 0 when everything loaded (or was a duplicate), 2 when something was quarantined (the county's fault),
    3 when the platform failed on an export (`export.failed`, retried on the next run; issue 27)."""
    from rich.progress import Progress
    from rich.markup import escape

    from xuncha import registry
    from xuncha.load import county_night
    from xuncha.extract import inbox
    from xuncha.warehouse import migrate
    from xuncha.load import pipeline

    reg = registry.load()
    exports = inbox.find(path)
    if not exports:
        raise ValueError(f"no export folder (with manifest.json) under {path}")
    logging.getLogger("xuncha").setLevel(logging.WARNING)
    migrate.migrate(skip_if_current=True)
    ingestor = pipeline.Ingestor(reg, move=move, confirm_withdraw=confirm_withdraw)
    by_county: dict[str, list[inbox.Arrival]] = {}
    for a in exports:
        by_county.setdefault(county or inbox.county_of(a, reg), []).append(a)
    counts: dict[str, int] = {}
    with Progress(console=err, transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("ingesting", total=len(exports))
        # Predecessors first (2021 code changes), as a successor's nightly run takes them.
        for code in sorted(by_county, key=lambda c: (len(reg.lineage(c)), c)):
            arrivals = by_county[code]
            for i in range(0, len(arrivals), 50):
                night = county_night.run(reg, code, None, url=ingestor.url, exports=arrivals[i:i + 50], ingestor=ingestor,
                                         on_quarantine=lambda c: _incident(ingestor.url, reg, c))
                for r in night.exports:
                    counts[r.status] = counts.get(r.status, 0) + 1
                    if r.status == "quarantined":
                        more = f" (and {len(r.problems) - 1} more problem(s))" if len(r.problems) > 1 else ""
                        where = f"; report: {r.report}" if r.report else ""
                        # escape: a problem starts with its label in brackets (`[row.invalid, date format 日期格式]`),
                        # which rich would take for markup and drop
                        err.print(f"[yellow]{code} {r.export_id} quarantined:[/] {escape(str(r.problems[0]))}{more}"
                                  f"{escape(where)}", highlight=False)
                    elif r.status == "failed":
                        err.print(f"[red]{code} {r.export_id} failed:[/] {escape(str(r.problems[0])) if r.problems else ''}",
                                  highlight=False)
                bar.advance(task, len(arrivals[i:i + 50]))
    console.print(", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    if counts.get("failed"):
        raise typer.Exit(3)
    if counts.get("quarantined"):
        raise typer.Exit(2)


def _incident(url: str, reg, code: str) -> None:
    """`county_night.run`'s on_quarantine for `xuncha ingest`: the county DAG's own (quarantine incident opened and
    notified now, through the notifiers and connections Airflow's environment defines); says what was sent."""
    from xuncha.orchestration import env as airflow_env

    airflow_env.apply()
    from xuncha.orchestration import health

    sent = health.quarantined(url, reg, code)
    if sent:
        err.print(f"{code}: quarantine incident opened; {sum(s['ok'] for s in sent)} notification(s) sent"
                  + "".join(f"\n[red]failed[/] {s['channel']} {s['target']}: {s['error']}" for s in sent if not s["ok"]))
