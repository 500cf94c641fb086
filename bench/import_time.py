"""Import time of dags/xuncha_county.py at N generated county systems (issue 23: ≤ 10 s at 1,000 DAGs).

For each N, a registry of N counties is written into a temporary XUNCHA_CONFIG (a copy of config/ whose
counties.yml lists N generated entries, 6-digit codes from 700001), and a fresh Python process imports the DAG file
as the dag-processor does (airflow.sdk already imported, then the file executed), twice: building every DAG (the
dag-processor) and building one (a task starting: Airflow's parsing context names its DAG). Printed as JSON lines:
counties, DAGs built, seconds for the file (registry read included), seconds for the registry alone, the load
average before the run. `python bench/import_time.py 200 1000 2800`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = r"""
import importlib.util, json, os, sys, time
import airflow.sdk
from airflow.sdk import DAG
t = time.perf_counter()
from xuncha import registry
reg = registry.load()
t_reg = time.perf_counter() - t
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("xuncha_county_dagfile", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
t_file = time.perf_counter() - t
print(json.dumps({"dags": sum(isinstance(v, DAG) for v in vars(m).values()), "file_s": round(t_file, 2),
                  "registry_s": round(t_reg, 2)}))
"""


def registry_yaml(n: int) -> str:
    """counties.yml with `n` generated county systems (every 10th pulled over HTTP, so both channels are built)."""
    lines = ["defaults:", "  timezone: Asia/Shanghai", '  deadline: "06:00"', '  schedule: "@daily"',
             "  delivery: {landing: default}", "  active_from: 2016-10-01", "  region: 生成", "counties:"]
    for i in range(1, n + 1):
        code = str(700000 + i)
        delivery = f", delivery: {{http: {{conn_id: xuncha_county_{code}}}}}" if i % 10 == 0 else ""
        lines.append(f'  - {{code: "{code}", name: 县{i}, level: county{delivery}}}')
    return "\n".join(lines) + "\n"


def measure(n: int, one: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config"
        shutil.copytree(ROOT / "config", cfg)
        (cfg / "counties.yml").write_text(registry_yaml(n), encoding="utf-8")
        env = dict(os.environ) | {"XUNCHA_CONFIG": str(cfg),
                                  "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])}
        env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID", None)
        if one:
            env["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = f"xuncha_county_{700000 + n // 2}"
        load = os.getloadavg()
        out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "dags" / "xuncha_county.py")], env=env,
                             capture_output=True, text=True, check=True)
        return {"counties": n, "mode": "one (task start)" if one else "all (dag-processor)",
                "load_avg_1_5_15": [round(x, 2) for x in load]} | json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [200, 1000, 2800]:
        for one in (False, True):
            print(json.dumps(measure(n, one), ensure_ascii=False), flush=True)
