"""generate(): simulate a profile's county systems over the term and write their nightly exports.

OUT/<county_code>/<export_id>/manifest.json + entity files, and OUT/truth.json. The simulation always
covers the whole term; `start`/`end` only choose which business nights are written, so a window is
exactly the matching subset of a full run (faults, when asked for, are placed inside the window).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path

from xuncha.spec import ENTITY_ORDER, SPEC_VERSION

from . import faults as faultmod
from .calibrate import CalibrationError
from .casework import build_casework
from .ledger import Ledger
from .plan import SnapshotState, build_plan, export_id, generated_at, is_full_night, systems
from .profiles import Profile, get_profile
from .truth import calibration, headline, replay
from .world import build_world
from .writers import Table, write_dir

D = dt.timedelta


def generate(out: Path, profile: str = "seed", seed: int = 0, faults: Sequence[str] | str = (),
             start: dt.date | None = None, end: dt.date | None = None, progress: bool = True) -> dict:
    """Write the exports of `profile` (and OUT/truth.json); returns the truth dict.

    `seed` makes a different but equally calibrated world; the output is byte-identical for the same
    arguments (write into an empty directory: folders of an earlier run with other faults are not removed).
    `faults`: kind names from FAULT_KINDS, or "all". `start`/`end`: the business nights to write
    (inclusive; default the whole term). Raises CalibrationError if the profile's figures are not met.
    """
    t_start = time.perf_counter()
    prof = get_profile(profile)
    out = Path(out)
    lo = max(start or prof.term_start, prof.term_start)
    hi = min(end or prof.term_end, prof.term_end)
    if lo > hi:
        raise ValueError(f"empty window {lo}..{hi} (the term is {prof.term_start}..{prof.term_end})")
    ledger = Ledger(prof, seed)
    world = build_world(ledger, prof, seed)
    build_casework(ledger, prof, seed, world)
    plan = build_plan(ledger)
    syss = systems(prof)
    codes = [s.code for s in syss]
    nights = [prof.term_start + D(days=i) for i in range((prof.term_end - prof.term_start).days + 1)]
    window = [n for n in nights if lo <= n <= hi]
    instances = faultmod.expand(faults)
    chosen, unplaced = faultmod.choose(instances, plan.nights, syss, window, is_full_night, seed, prof.name) \
        if instances else ({}, [])
    fault_rng = random.Random(f"{seed}|{prof.name}|inject")
    columns = {e: Table.of(e, []) for e in ENTITY_ORDER}
    states = {s.code: SnapshotState(plan.key_index) for s in syss if s.full_snapshots}
    full_stream, win_stream, records = [], [], []
    late: list[tuple[dt.date, str, faultmod.Output]] = []
    written = {"exports": 0, "folders": 0, "heartbeats": 0, "files": 0, "bytes": 0}

    def emit(code: str, o: faultmod.Output) -> None:
        written["bytes"] += write_dir(out / code / o.folder, o.manifest, o.blobs)
        written["folders"] += 1
        written["files"] += len(o.blobs) + 1

    bar = _progress(progress, len(nights), prof.name)
    try:
        for night in nights:
            for s in syss:
                if not s.active(night):
                    continue
                tables = plan.nights.get(night, {}).get(s.code, {})
                if s.code in states:
                    states[s.code].apply(tables, plan.deletions.get((s.code, night), []))
                full = is_full_night(s, night)
                content = states[s.code].snapshot(tables) if full else tables
                mode = "full" if full else "delta"
                gen = generated_at(s, night)
                item = (s.code, mode, gen, export_id(s.code, night, 1), content)
                full_stream.append(item)
                if not lo <= night <= hi:
                    continue
                win_stream.append(item)
                tabs = [Table(e, columns[e].header, columns[e].types, content[e]) for e in ENTITY_ORDER if content.get(e)]
                ex = faultmod.Export(s, night, 1, gen, mode, tabs)
                written["exports"] += 1
                written["heartbeats"] += not tabs
                if (night, s.code) in chosen:
                    kind, variant = chosen[(night, s.code)]
                    outputs, rec = faultmod.inject(kind, variant, ex, fault_rng, codes)
                    records.append(rec)
                else:
                    outputs = [ex.render()]
                for o in outputs:
                    if o.late:
                        late.append((night, s.code, o))
                    else:
                        emit(s.code, o)
            for item in [x for x in late if x[0] < night]:
                emit(item[1], item[2])
                late.remove(item)
            if bar:
                bar[0].advance(bar[1])
        for _, code, o in late:
            emit(code, o)
    finally:
        if bar:
            bar[0].stop()
    truth = _truth(prof, seed, syss, full_stream, win_stream, (lo, hi), records, written, instances)
    truth["faults_unplaced"] = unplaced
    _check(prof, truth)
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if progress:
        from rich.console import Console

        console = Console(stderr=True)
        console.print(
            f"[green]generated[/] {written['exports']:,} exports ({written['heartbeats']:,} heartbeats), "
            f"{written['files']:,} files, {written['bytes'] / 1e6:.1f} MB in {time.perf_counter() - t_start:.1f}s → {out}")
        for u in unplaced:
            console.print(f"[yellow]fault {u['kind']}{'/' + u['variant'] if u['variant'] else ''} not injected:[/] {u['reason']}")
    return truth


def _progress(enabled: bool, total: int, name: str):
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                 console=Console(stderr=True), transient=False)
    p.start()
    return p, p.add_task(f"writing nights ({name})", total=total)


def _lineage_head(prof: Profile):
    new = {c.old_code: c.new_code for c in prof.code_changes if prof.term_start < c.effective <= prof.term_end}
    return lambda code: new.get(code, code)


def _truth(prof: Profile, seed: int, syss, full_stream, win_stream, window, records, written, instances) -> dict:
    head = _lineage_head(prof)
    state = replay(full_stream, head)
    t = prof.targets
    truth = {
        "generator": "xuncha_sim.generator",
        "profile": prof.name,
        "seed": seed,
        "spec_version": SPEC_VERSION,
        "term": {"term_no": prof.term_no, "start": prof.term_start.isoformat(), "end": prof.term_end.isoformat()},
        "window": {"start": window[0].isoformat(), "end": window[1].isoformat()},
        "units": [{"code": s.code, "name": s.name, "level": s.level, "active_from": s.active_from.isoformat(),
                   "active_to": s.active_to.isoformat(), "lineage": list(s.lineage), "full_snapshots": s.full_snapshots}
                  for s in syss],
        "delivery": {s.code: {"format": s.delivery.format, "encoding": s.delivery.encoding,
                              "date_style": s.delivery.date_style if s.delivery.format == "xlsx" else None,
                              "channel": s.delivery.channel} for s in syss},
        "crosswalk": [{"old_code": c.old_code, "old_name": c.old_name, "new_code": c.new_code, "new_name": c.new_name,
                       "effective": c.effective.isoformat()}
                      for c in prof.code_changes if prof.term_start < c.effective <= prof.term_end],
        "definitions": {
            "headline": "final state of every row (newest updated_at per key; rows withdrawn by full snapshots removed), "
                        "county = current code of the system that last exported the row (crosswalk applied)",
            "headline_by_source_code": "same figures, county = the code the row was first exported under",
            "orgs_inspected": "distinct org_id among inspections (any round type)",
        },
        "headline": headline(state, lambda last, first: head(last)),
        "headline_by_source_code": headline(state, lambda last, first: first),
        "row_counts": state.count(),
        "calibration": calibration(state, prof.city.code, head, prof.coverage_deadline),
        "targets": {"findings_range": list(t.findings), "clues": t.clues, "outcomes": t.outcomes,
                    "city_outcomes": t.city_outcomes, "amount_recovered": f"{t.amount_recovered:.2f}", **prof.notes},
        "exports": written["exports"],
        "output": {k: v for k, v in written.items() if k != "exports"} | {"nights": (window[1] - window[0]).days + 1},
        "faults_requested": sorted({k for k, _ in instances}),
        "faults": sorted(records, key=lambda r: (r["business_date"], r["county"])),
    }
    if window != (prof.term_start, prof.term_end):
        wstate = replay(win_stream, head)
        truth["window"]["headline"] = headline(wstate, lambda last, first: head(last))
        truth["window"]["row_counts"] = wstate.count()
    return truth


def _check(prof: Profile, truth: dict) -> None:
    """The generator checks its own output against the profile's figures (exact profiles only)."""
    if not prof.exact:
        return
    t, h, c = prof.targets, truth["headline"], truth["calibration"]
    tot, city = h["total"], h.get(prof.city.code, {})
    problems = []
    want = {"clues_transferred": t.clues, "sanctions": t.outcomes["sanction"], "org_handling": t.outcomes["org_handling"],
            "detentions": t.outcomes["detention"], "judicial_transfers": t.outcomes["judicial_transfer"],
            "amount_recovered": f"{t.amount_recovered:.2f}"}
    problems += [f"total {k} {tot[k]} != {v}" for k, v in want.items() if tot[k] != v]
    want_city = {"sanctions": t.city_outcomes["sanction"], "org_handling": t.city_outcomes["org_handling"],
                 "judicial_transfers": t.city_outcomes["judicial_transfer"], "detentions": t.city_outcomes["detention"],
                 "rounds": prof.notes.get("city_rounds"), "orgs_inspected": prof.notes.get("city_orgs_inspected")}
    problems += [f"city {k} {city.get(k)} != {v}" for k, v in want_city.items() if v is not None and city.get(k) != v]
    if not t.findings[0] <= tot["findings"] <= t.findings[1]:
        problems.append(f"findings {tot['findings']} outside {t.findings}")
    if c["county_rounds"]["average"] < prof.notes.get("county_rounds_avg_min", 0):
        problems.append(f"county rounds average {c['county_rounds']['average']}")
    if c["satisfaction"]["rate"] is not None and c["satisfaction"]["rate"] <= t.satisfaction_min:
        problems.append(f"satisfaction {c['satisfaction']['rate']}")
    if c["village_community_coverage"]["not_covered"]:
        problems.append(f"villages not covered by {prof.coverage_deadline}: {c['village_community_coverage']['not_covered']}")
    if problems:
        raise CalibrationError("; ".join(problems))
