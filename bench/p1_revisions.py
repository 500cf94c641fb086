"""P1 at two git revisions, alternating: the warm ingest of the same findings export by the library of REV and by
this checkout, A B A B …, so that load on the machine hits both alike (issue 27: "P1 not slower by more than 5 %").

    .venv/bin/python bench/p1_revisions.py --baseline REV [--after REV2] [ROWS] [--rounds N]

REV (and REV2, default this checkout) is checked out (detached) under /tmp; each side has its own XUNCHA_HOME and embedded PostgreSQL (migrated by its
own code) and each run is a child process with PYTHONPATH at that side's plugins/. A child warms up on a 10-row
export (GX context built, as a task's second export), then times `county_night.run` of ROWS findings (default
200,000) of a county it has not loaded yet, with this checkout's phase timers (run.timed_phases; REV must have the
stage layout, issue 22). Prints each run and the ratio after/before per round, then the median ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
COUNTIES = ["410302", "410303", "410304", "410305", "410311", "410322", "410323", "410324", "410325", "410326"]


def child(home: str, export_dir: str, warmup_dir: str, code: str) -> None:
    """One side's run (in its own process): warm-up, then the timed ingest; prints {seconds, phases} as JSON."""
    sys.path.insert(0, str(BENCH))
    import run

    run.setup_env(Path(home))
    from xuncha import registry
    from xuncha.load.pipeline import Ingestor
    from xuncha.warehouse import db, migrate

    if os.environ.get("XUNCHA_BENCH_FIRST"):
        migrate.migrate(db.owner_url())
    url = db.warehouse_url()
    run.timed_phases()
    ingestor = Ingestor(registry.default(), url, move=False)
    run.ingest(url, Path(warmup_dir), code, ingestor)
    run.PHASES.clear()
    t = time.perf_counter()
    run.ingest(url, Path(export_dir), code, ingestor)
    print(json.dumps({"seconds": time.perf_counter() - t, "phases": run.PHASES}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", nargs="?", type=int, default=200_000)
    ap.add_argument("--baseline", required=True, help="git revision to compare this checkout with")
    ap.add_argument("--after", help="git revision to compare with the baseline (default: this checkout)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.rounds > len(COUNTIES):
        raise SystemExit(f"at most {len(COUNTIES)} rounds (one county each)")
    sys.path.insert(0, str(BENCH))
    from gen import write_findings_export

    tmp = Path(tempfile.mkdtemp(prefix="xb-p1rev-", dir="/tmp"))
    sides = {"before": tmp / "rev-before", "after": tmp / "rev-after" if args.after else ROOT}
    for side, rev in (("before", args.baseline), ("after", args.after)):
        if rev:
            subprocess.run(["git", "worktree", "add", "--detach", str(sides[side]), rev], cwd=ROOT, check=True,
                           capture_output=True)
    results: dict[str, list[float]] = {"before": [], "after": []}
    try:
        for n, code in enumerate(COUNTIES[:args.rounds]):
            export, _ = write_findings_export(tmp / "exports", code, f"bench-p1rev-{n}", args.rows)
            warmup, _ = write_findings_export(tmp / "exports", code, f"bench-p1rev-{n}-warmup", 10, n_inspections=2)
            order = ("before", "after") if n % 2 == 0 else ("after", "before")
            for side in order:
                env = os.environ | {"PYTHONPATH": f"{sides[side]}/plugins", "XUNCHA_BENCH_FIRST": "1" if n == 0 else ""}
                out = subprocess.run([sys.executable, __file__, "_child", str(tmp / side), str(export), str(warmup), code],
                                     cwd=sides[side], env=env, check=True, capture_output=True, text=True).stdout
                res = json.loads(out.strip().splitlines()[-1])
                results[side].append(res["seconds"])
                load = os.getloadavg()[0]
                top = sorted(res["phases"].items(), key=lambda kv: -kv[1])[:3]
                print(f"round {n + 1} {side:<6} {res['seconds']:7.2f} s  (load {load:.1f}; "
                      + ", ".join(f"{k} {v:.2f}" for k, v in top) + ")", flush=True)
            print(f"round {n + 1} after/before {results['after'][-1] / results['before'][-1]:.3f}", flush=True)
    finally:
        for side in sides:
            subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[2]); import run; "
                            "from pathlib import Path; run.setup_env(Path(sys.argv[1])); "
                            "from xuncha.warehouse import embedded; embedded.stop()", str(tmp / side), str(BENCH)],
                           env=os.environ | {"PYTHONPATH": f"{sides[side]}/plugins"}, capture_output=True)
        for path in sides.values():
            if path != ROOT:
                subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    ratios = [a / b for a, b in zip(results["after"], results["before"])]
    print(f"\nP1 warm, {args.rows:,} findings, {args.baseline} → {args.after or 'this checkout'}: median after/before "
          f"{statistics.median(ratios):.3f} (rounds: {', '.join(f'{r:.3f}' for r in ratios)}); "
          f"medians {statistics.median(results['before']):.2f} s → {statistics.median(results['after']):.2f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(*sys.argv[2:6])
    else:
        main()
