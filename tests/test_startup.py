"""`make up` from a fresh shell (no .venv/bin on PATH) serves the UI on the chosen port, prints address and login, and a
task runs through it; unpausing a county's DAG (xuncha_county_<code>) schedules only nights from go-live on; a push to the intake plugin
on the same api-server triggers the county's run, which loads it."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(what, timeout: float, every: float = 2.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            got = what()
            if got:
                return got
        except httpx.HTTPError:
            pass
        time.sleep(every)
    return None


@pytest.mark.up
@pytest.mark.timeout(1800)
def test_make_up_from_a_fresh_shell_serves_the_ui_and_runs_the_newest_night_when_unpaused(airflow_ready, settings, warehouse,
                                                                                   tmp_path):
    port = _free_port()
    go_live = dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=2)
    config = tmp_path / "config"
    config.mkdir()
    # One county keeps the run small. Its deadline, 00:00, has passed when its scheduled run starts (00:00 the day
    # after the night): with 06:00, a test run between 00:00 and 06:00 Shanghai time (16:00–22:00 UTC) found the
    # scheduled run deferred until 06:00, holding the pushed night's run behind it (max_active_runs 1).
    (config / "counties.yml").write_text(
        'defaults: {timezone: Asia/Shanghai, deadline: "00:00", delivery: {landing: default}, active_from: 2016-10-01}\n'
        'counties:\n  - {code: "410329", name: 伊川县, level: county}\n', encoding="utf-8")
    fresh = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
             "XUNCHA_HOME": str(settings.home), "XUNCHA_GO_LIVE": go_live.isoformat(), "XUNCHA_CONFIG": str(config),
             "XUNCHA_PERSON_KEY": os.environ["XUNCHA_PERSON_KEY"], "GX_ANALYTICS_ENABLED": "False",
             "PYTHONUNBUFFERED": "1"}
    # What a login shell of this machine still has: package index and proxy settings (make up may reinstall).
    fresh |= {k: v for k, v in os.environ.items() if k.startswith(("PIP_", "UV_", "SSL_CERT", "REQUESTS_CA")) or
              k.lower() in ("http_proxy", "https_proxy", "no_proxy")}
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen(["make", "--no-print-directory", "up", f"PORT={port}"], cwd=ROOT, env=fresh, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://localhost:{port}"
    try:
        assert _until(lambda: httpx.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200, 900), \
            (tmp_path / "up.log").read_text()[-3000:]
        # The address and login are printed once the API server answers (a poll of the same endpoint), not before.
        login = _until(lambda: re.search(rf"Airflow UI: http://localhost:{port}\s+login: (\w+) / (\S+)",
                                         (tmp_path / "up.log").read_text()), 30, every=0.5)
        out = (tmp_path / "up.log").read_text()
        assert login, out[-2000:]
        assert out.index("starting Airflow") < out.index("Airflow UI:"), out[-2000:]
        ui = httpx.get(f"{base}/", timeout=10, follow_redirects=True)
        assert ui.status_code == 200 and "<html" in ui.text.lower()
        token = httpx.post(f"{base}/auth/token", json={"username": login[1], "password": login[2]}, timeout=10).json()["access_token"]
        api = httpx.Client(base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=20)
        assert _until(lambda: api.get("/dags/xuncha_county_410329").status_code == 200, 300), "the DAG was parsed"
        assert api.patch("/dags/xuncha_county_410329", json={"is_paused": False}).status_code == 200

        def runs():
            got = api.get("/dags/xuncha_county_410329/dagRuns", params={"order_by": "logical_date"}).json()["dag_runs"]
            return got if len(got) >= 1 else None

        scheduled = [r for r in (_until(runs, 300) or []) if r["run_type"] == "scheduled"]
        assert len(scheduled) == 1, "unpausing schedules one night, no catch-up (issue 23's trial)"
        first = dt.datetime.fromisoformat(scheduled[0]["logical_date"]).astimezone(SHANGHAI)
        yesterday = dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=1)
        assert first.date() - dt.timedelta(days=1) == yesterday >= go_live, "the newest due night, after go-live"

        def planned():
            tis = api.get(f"/dags/xuncha_county_410329/dagRuns/{scheduled[0]['dag_run_id']}/taskInstances").json()["task_instances"]
            return any(t["task_id"] == "ingest" and t["state"] in ("deferred", "success", "failed") for t in tis)

        assert _until(planned, 600), "a task ran through the started stack"

        # A county system pushes its night to the intake plugin on the same api-server: the receipt, the county's run
        # triggered through Airflow, and the export loaded by it (issue 13).
        from exports import slice_rows, write_export

        from xuncha.intake import server as intake

        night = go_live.isoformat()
        export_id = f"410329-{night.replace('-', '')}-01"
        export = write_export(tmp_path / "push", "410329", export_id, night,
                              slice_rows("410329", updated=f"{night}T20:00:00+08:00"))
        auth = {"Authorization": f"Bearer {intake.issue_token('410329', url=warehouse)}"}
        files = [("files", (p.name, p.read_bytes())) for p in sorted(export.iterdir())]
        receipt = httpx.post(f"{base}/xuncha-intake/exports", files=files, headers=auth, timeout=60)
        assert receipt.status_code == 201, receipt.text
        pushed = receipt.json().get("run_id")
        assert pushed and api.get(f"/dags/xuncha_county_410329/dagRuns/{pushed}").status_code == 200, receipt.json()

        def loaded():
            got = httpx.get(f"{base}/xuncha-intake/exports/{export_id}", headers=auth, timeout=20).json()
            return got if got["state"] == "loaded" else None

        assert _until(loaded, 600, every=5), "the push was loaded by the run it triggered"
        assert httpx.post(f"{base}/xuncha-intake/exports", files=files, headers={"Authorization": "Bearer wrong"},
                          timeout=60).status_code == 401
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
