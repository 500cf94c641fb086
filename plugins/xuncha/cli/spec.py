"""`xuncha spec …`: the county export specification and its validation suites."""

from __future__ import annotations

from typing import Annotated

import typer

from xuncha.cli import console, friendly, spec_app


@spec_app.command("suites")
@friendly
def spec_suites(write: Annotated[bool, typer.Option(help="Rewrite the spec-derived part of expectations/*.json.")] = False):
    """Check (or rewrite) that the expectation suites cover the spec's column rules."""
    from xuncha.validate import suites

    if write:
        for p in suites.write_suites():
            console.print(f"wrote {p}")
        return
    stale = suites.stale_suites()
    if stale:
        raise ValueError(f"suites out of date with the spec: {', '.join(stale)} (run `xuncha spec suites --write`)")
    console.print("suites match the spec")
