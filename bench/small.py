"""P5: one small export through `xuncha ingest`, in a new process, against importing Great Expectations alone.

Issue 16: a county's usual night is a few rows, and each one pays a process's start. What lies beyond GX's own
import (Python, the CLI, the warehouse connection and migration check, the GX context, the suites, the merge)
should take at most 1 s. Both figures are wall clocks of new processes, with the bench's `.pyc` cache (run.py):

- (a) `python -c "import great_expectations"`;
- (b) `xuncha ingest <export>` of a 10-finding delta export (2 inspections) of one county, after one untimed
  export of the same county (its partitions are made then, as on its first night; the CLI's modules compiled).

Each is run `REPEATS` times, alternating, and the median kept. Target: (b) − (a) ≤ 1 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_rows import fmt, row

REPEATS = 3
COUNTY = "410306"
P5_DETAIL: dict = {}


def _wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())
    return time.perf_counter() - t


def p5(work: Path) -> None:
    """Measure and print the P5 rows (bench_rows). Raises CalledProcessError if an ingest fails (a quarantined
    export exits 2)."""
    from gen import write_findings_export

    print("\nP5 small export: `xuncha ingest` of 10 findings vs `import great_expectations` (new processes)", flush=True)
    print("  issue 26 target: xuncha ingest - import GX <= 1 s (medians)", flush=True)
    cli = str(Path(sys.executable).parent / "xuncha")
    exports = [write_findings_export(work / "p5", COUNTY, f"bench-p5-{i}", 10, n_inspections=2,
                                     business_date=f"2024-06-{1 + i:02d}")[0] for i in range(REPEATS + 1)]
    _wall([cli, "ingest", str(exports[0])])   # untimed: the county's first night (partitions), the CLI compiled
    gx, ingest = [], []
    for d in exports[1:]:
        gx.append(_wall([sys.executable, "-c", "import great_expectations"]))
        ingest.append(_wall([cli, "ingest", str(d)]))
    t_gx, t_ingest = statistics.median(gx), statistics.median(ingest)
    beyond = t_ingest - t_gx
    print(f"  import great_expectations: {', '.join(f'{x:.2f}' for x in gx)} s; "
          f"xuncha ingest: {', '.join(f'{x:.2f}' for x in ingest)} s", flush=True)
    row("P5 small export: xuncha ingest vs import GX (s)", fmt(t_ingest), fmt(t_gx), f"{t_ingest / t_gx:.2f}x",
        "beyond GX <= 1 s", beyond <= 1.0)
    row("P5 beyond GX's import (s)", fmt(beyond), fmt(1.0), f"{beyond:.2f}x", "<= 1 s", beyond <= 1.0)
    P5_DETAIL.update(gx=gx, ingest=ingest, beyond=beyond)
