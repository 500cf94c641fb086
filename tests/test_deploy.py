"""Deployment settings: go-live instead of 2016, a bounded backfill on Airflow's, URLs that follow the port, pulled
counties' connections from settings, and the freshness mart."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import query

from xuncha import registry, settings as settings_mod
from xuncha.orchestration import env as airflow_env
from xuncha.extract import deadlines
from xuncha.orchestration import deployment
from xuncha.monitor import findings, health

XUNCHA = str(Path(sys.executable).with_name("xuncha"))
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _json_lines(out: str) -> list[dict]:
    """The JSON list Airflow's CLI prints after its log lines."""
    return json.loads(next(line for line in out.splitlines() if line.startswith("[{") or line == "[]"))


def test_the_port_sets_every_url_and_airflow_is_found_without_the_venv_on_path(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    env = deployment.ui_environ(9137)
    assert env["AIRFLOW__API__PORT"] == "9137"
    assert env["AIRFLOW__API__BASE_URL"] == "http://localhost:9137"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://localhost:9137/execution/"
    first = env["PATH"].split(":")[0]
    assert (Path(first) / "airflow").exists() and first == str(Path(sys.executable).parent)
    with pytest.raises(ValueError, match="1-65535"):
        deployment.ui_environ(70000)


def test_go_live_is_recorded_once_by_setup_and_defaults_to_today(monkeypatch, tmp_path):
    monkeypatch.setenv("XUNCHA_HOME", str(tmp_path))
    monkeypatch.delenv("XUNCHA_GO_LIVE")
    s = settings_mod.get_settings()
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    assert settings_mod.go_live(s) == today
    assert settings_mod.record_go_live(s) == today and (tmp_path / "go-live").read_text().strip() == today.isoformat()
    (tmp_path / "go-live").write_text("2026-01-05\n")
    assert settings_mod.record_go_live(s) == dt.date(2026, 1, 5), "setup keeps the recorded date"
    monkeypatch.setenv("XUNCHA_GO_LIVE", "2026-13-01")
    with pytest.raises(ValueError, match="XUNCHA_GO_LIVE: '2026-13-01' is not a date"):
        settings_mod.go_live(s)


def test_the_night_dags_start_after_the_first_night_and_deadlines_apply_from_go_live(monkeypatch):
    """A Trigger-form run (logical date now) on the go-live day must get its tasks: the whole-night DAGs start after
    the registry's first night, not after go-live (apache/airflow#38513); deadlines still apply from go-live."""
    from xuncha.orchestration import nightly

    monkeypatch.setenv("XUNCHA_GO_LIVE", "2026-11-20")
    first = min(c.active_from for c in registry.default().counties)
    start = nightly.start_date()
    assert start.date() == first + dt.timedelta(days=1) and start.isoformat().endswith("T00:00:00+08:00")
    assert start.date() < dt.date(2026, 11, 20), "before go-live: a form run on the go-live day is not empty"
    assert deadlines.applies(dt.date(2026, 11, 20)) and not deadlines.applies(dt.date(2026, 11, 19))


def test_a_missed_night_before_go_live_raises_no_alert(clean, monkeypatch):
    monkeypatch.setenv("XUNCHA_GO_LIVE", "2019-03-16")
    c = registry.default().get("410329")
    assert not deadlines.record_miss(clean, c, dt.date(2019, 3, 15))
    assert deadlines.record_miss(clean, c, dt.date(2019, 3, 16))
    assert query(clean, "SELECT county_code, business_date::text FROM audit.deadline_misses") == [("410329", "2019-03-16")]


def test_backfill_window_is_bounded_and_maps_nights_to_runs():
    assert deployment.backfill_window(dt.date(2019, 3, 14), dt.date(2019, 3, 16)) == (
        "2019-03-15T00:00:00+08:00", "2019-03-17T23:59:00+08:00")
    with pytest.raises(ValueError, match="before --from"):
        deployment.backfill_window(dt.date(2019, 3, 16), dt.date(2019, 3, 14))
    with pytest.raises(ValueError, match="only finished nights"):
        deployment.backfill_window(dt.date(2019, 3, 16), dt.date.today() + dt.timedelta(days=2))
    with pytest.raises(ValueError, match="bounded"):
        deployment.backfill_window(dt.date(2000, 1, 1), dt.date(2019, 3, 16))


def _backfill(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([XUNCHA, "backfill", "--from", "2018-05-01", "--to", "2018-05-03", "--county", "410329",
                           "--county", "410326", *extra], capture_output=True, text=True)


def _backfilled(dag_id: str) -> list[str]:
    out = subprocess.run([str(airflow_env.airflow_bin()), "dags", "list-runs", dag_id, "-o", "json"],
                         env=airflow_env.airflow_environ(), capture_output=True, text=True)
    return [r["run_id"] for r in _json_lines(out.stdout) if r["run_id"].startswith("backfill")]


def test_xuncha_backfill_skips_paused_county_dags_and_says_how_to_include_them(airflow_ready):
    dry = _backfill("--dry-run")   # the county DAGs start paused (Airflow's dags_are_paused_at_creation)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "backfill of 0 county DAG(s) (dry run)" in dry.stdout, dry.stdout
    said = " ".join(dry.stderr.split())
    assert "skipped 2 paused county DAG(s)" in said and "xuncha_county_410329" in said and "--queue-while-paused" in said
    assert "xuncha airflow dags unpause" in said
    assert not deployment.needs_reserialize(["xuncha_county_410329", "xuncha_county_410326"]), \
        "parsed just now: the next backfill does not reserialize again"
    assert deployment.needs_reserialize(["xuncha_county_410329", "xuncha_county_999999"]), "an unknown DAG"
    env = airflow_env.airflow_environ()
    subprocess.run([str(airflow_env.airflow_bin()), "dags", "unpause", "xuncha_county_410329"], env=env,
                   capture_output=True, check=True)
    try:
        r = _backfill()
        assert r.returncode == 0, r.stdout + r.stderr
        assert "backfill of 1 county DAG(s) for 3 night(s)" in r.stdout and "xuncha_county_410329: backfill" in r.stdout
        assert "skipped 1 paused county DAG(s)" in " ".join(r.stderr.split()) and "xuncha_county_410326" in r.stderr
        assert len(_backfilled("xuncha_county_410329")) == 3 and _backfilled("xuncha_county_410326") == [], \
            "no backfill runs left queued forever on a paused DAG"
    finally:   # leave no queued backfill for a later test's scheduler (the DAGs are parsed again on next use)
        for dag_id in ("xuncha_county_410329", "xuncha_county_410326"):
            subprocess.run([str(airflow_env.airflow_bin()), "dags", "delete", dag_id, "-y"], env=env, capture_output=True)


def test_xuncha_backfill_creates_airflows_backfill_of_exactly_those_nights_per_county(airflow_ready):
    r = _backfill("--queue-while-paused")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "backfill of 2 county DAG(s) for 3 night(s) 2018-05-01 … 2018-05-03" in r.stdout, r.stdout
    env = airflow_env.airflow_environ()
    for dag_id in ("xuncha_county_410329", "xuncha_county_410326"):
        out = subprocess.run([str(airflow_env.airflow_bin()), "dags", "list-runs", dag_id, "-o", "json"], env=env,
                             capture_output=True, text=True)
        backfilled = sorted(dt.datetime.fromisoformat(r["logical_date"]).astimezone(SHANGHAI).isoformat()
                            for r in _json_lines(out.stdout) if r["run_id"].startswith("backfill"))
        assert backfilled == [f"2018-05-0{d}T00:00:00+08:00" for d in (2, 3, 4)], "night D runs at D+1 00:00"
        ids = sorted(r["run_id"] for r in _json_lines(out.stdout) if r["run_id"].startswith("backfill"))
        assert ids == [f"backfill__2018-05-0{d}T16:00:00+00:00" for d in (1, 2, 3)], "one form: night D, the run in UTC"
    out = subprocess.run([str(airflow_env.airflow_bin()), "dags", "list-runs", "xuncha_county_410327", "-o", "json"],
                         env=env, capture_output=True, text=True)
    assert not [r for r in _json_lines(out.stdout) if r["run_id"].startswith("backfill")], "only the counties named"
    again = subprocess.run([XUNCHA, "backfill", "--from", "2018-05-03", "--to", "2018-05-01"], capture_output=True, text=True)
    assert again.returncode == 1 and "before --from" in again.stderr
    # Leave no queued backfill for a later test's scheduler (the DAGs are parsed again on next use).
    for dag_id in ("xuncha_county_410329", "xuncha_county_410326"):
        subprocess.run([str(airflow_env.airflow_bin()), "dags", "delete", dag_id, "-y"], env=env, capture_output=True)


def test_a_backfill_of_all_counties_starts_the_longest_backlog_first(settings, tmp_path):
    from exports import slice_rows, write_export

    from xuncha.orchestration import backfills

    for night in ("2018-05-01", "2018-05-02", "2018-05-03"):
        write_export(settings.landing, "410327", f"410327-{night.replace('-', '')}-01", night, slice_rows("410327"))
    write_export(settings.landing, "410305", "410305-20180501-01", "2018-05-01", slice_rows("410305"))
    codes = backfills.order(registry.default(), dt.date(2018, 5, 1), dt.date(2018, 5, 3))
    assert codes[:2] == ["410327", "410305"], codes
    assert "410307" not in codes, "偃师区 exports from 2021 only: not in a 2018 backfill"
    with pytest.raises(KeyError, match="999999"):
        backfills.order(registry.default(), dt.date(2018, 5, 1), dt.date(2018, 5, 3), ["999999"])


def test_setup_writes_pulled_counties_connections_from_settings(airflow_ready, monkeypatch):
    monkeypatch.setenv("XUNCHA_COUNTY_410325_URL", "http://127.0.0.1:8099")
    monkeypatch.setenv("XUNCHA_COUNTY_410325_TOKEN", "songxian-secret")
    for var in ("XUNCHA_COUNTY_410328_URL", "XUNCHA_COUNTY_410328_TOKEN", "AIRFLOW_CONN_XUNCHA_COUNTY_410328"):
        monkeypatch.delenv(var, raising=False)
    done = {c.code: c.status for c in deployment.configure_county_connections()}
    assert done == {"410325": "set", "410328": "missing"}, done
    env = airflow_env.airflow_environ()
    got = subprocess.run([str(airflow_env.airflow_bin()), "connections", "get", "xuncha_county_410325", "-o", "json"],
                         env=env, capture_output=True, text=True)
    conn = _json_lines(got.stdout)[0]
    assert (conn["host"], int(conn["port"]), conn["schema"]) == ("127.0.0.1", 8099, "http")


def test_freshness_mart_says_per_county_how_old_its_newest_night_is(clean):
    yesterday = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() - dt.timedelta(days=1)
    rows = [("410329", yesterday, "loaded"), ("410326", yesterday - dt.timedelta(days=3), "loaded"),
            ("410326", yesterday - dt.timedelta(days=2), "quarantined"), ("410326", yesterday - dt.timedelta(days=1), "quarantined")]
    from xuncha.warehouse import db

    with db.connect(clean) as conn, conn.cursor() as cur:
        for code, day, status in rows:
            cur.execute("""INSERT INTO audit.batches (export_id, county_code, business_date, source, status, finished_at)
                           VALUES (%s, %s, %s, 'test', %s, now())""", (f"{code}-{day}", code, day, status))
        cur.execute("INSERT INTO audit.deadline_misses (county_code, business_date, deadline_at) VALUES ('410327', %s, now())",
                    (yesterday,))
    assert health.refresh_freshness(clean) == len(registry.default().counties)
    f = {r["county_code"]: r for r in health.freshness(clean)}
    assert (f["410329"]["age_nights"], f["410329"]["last_loaded_night"]) == (0, yesterday)
    assert (f["410326"]["age_nights"], f["410326"]["quarantined_30"], f["410326"]["exports_30"]) == (3, 2, 3)
    assert float(f["410326"]["quarantine_rate_30"]) == pytest.approx(0.6667, abs=1e-4)
    assert f["410327"]["age_nights"] is None and f["410327"]["open_misses"] == 1
    assert not f["410381"]["active"], "偃师市 stopped exporting in 2021"
    found = {(x.kind, x.county_code) for x in findings.current(clean, registry.default(), dt.datetime.now(dt.timezone.utc))}
    assert ("stale", "410326") in found and ("quarantine", "410326") in found
    assert ("missing", "410327") in found and ("stale", "410327") in found
    assert not any(code == "410329" for _, code in found), "an up-to-date county raises nothing"
    assert not any(code == "410381" for _, code in found), "a code no longer in use is not stale"


def test_xuncha_home_defaults_to_the_checkouts_dot_xuncha_whatever_the_current_directory(tmp_path):
    """README's `XUNCHA_HOME` default is the checkout the package is imported from (not `./.xuncha`): a venv shared by
    two checkouts writes into the one its editable install points at. A real process in another directory says so."""
    checkout = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "XUNCHA_HOME"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    out = subprocess.run([sys.executable, "-c", "from xuncha import settings; print(settings.get_settings().home); "
                          "print(settings.home_line())"], cwd=tmp_path, env=env, capture_output=True, text=True)
    home, line = out.stdout.splitlines()
    assert home == str(checkout / ".xuncha"), out.stderr
    assert line.startswith(f"XUNCHA_HOME={checkout / '.xuncha'} (default: .xuncha in the checkout the xuncha package "
                           f"is imported from, {checkout}; the current directory does not matter"), line


def test_setup_and_demo_say_the_resolved_xuncha_home_on_their_first_line(monkeypatch, tmp_path):
    """`xuncha setup` and `xuncha demo` (and `xuncha up`, which runs setup first) start with the XUNCHA_HOME they
    write into. The warehouse, Airflow and the generator are stood in for: only the first line is under test."""
    from typer.testing import CliRunner

    import xuncha_sim.generator as generator
    from xuncha.cli import app
    from xuncha.warehouse import db, migrate

    def stop(*args, **kwargs):
        raise RuntimeError("the test stops the demo here")

    monkeypatch.setenv("XUNCHA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(db, "warehouse_url", lambda *a, **k: "postgresql://unused")
    monkeypatch.setattr(migrate, "migrate", lambda *a, **k: None)
    monkeypatch.setattr(airflow_env, "init_airflow", lambda *a, **k: None)
    monkeypatch.setattr(deployment, "configure_county_connections", lambda *a, **k: [])
    monkeypatch.setattr(generator, "generate", stop)
    for command in (["setup"], ["demo"]):
        result = CliRunner().invoke(app, command)
        assert result.output.splitlines()[0] == f"XUNCHA_HOME={tmp_path / 'home'} (from the environment)", result.output
    assert "the test stops the demo here" in result.output
