"""The operator CLI: help everywhere, clear errors, real commands against the suite's warehouse."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from exports import slice_rows, write_export

XUNCHA = str(Path(sys.executable).with_name("xuncha"))
COMMANDS = [[], ["db"], ["db", "start"], ["db", "stop"], ["db", "status"], ["db", "url"], ["db", "migrate"], ["setup"],
            ["up"], ["demo"], ["generate"], ["ingest"], ["metrics"], ["dictionary"], ["report"], ["report", "publish"], ["report", "editions"], ["counties"], ["spec"], ["spec", "suites"],
            ["incidents"], ["incidents", "list"], ["incidents", "ack"], ["incidents", "resolve"], ["notify"], ["notify", "test"]]


def run(*args, check=False):
    return subprocess.run([XUNCHA, *args], capture_output=True, text=True, check=check)


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "xuncha")
def test_every_command_has_help(cmd):
    r = run(*cmd, "--help")
    assert r.returncode == 0 and "Usage" in r.stdout


def test_airflow_runs_with_the_projects_environment(warehouse):
    r = run("airflow", "config", "get-value", "core", "dags_folder")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(Path(__file__).resolve().parents[1] / "dags")


def test_db_status_and_url_describe_the_running_warehouse(warehouse):
    r = run("db", "status")
    assert r.returncode == 0, r.stderr
    assert "running" in r.stdout and "pending: none" in r.stdout
    said = " ".join((r.stdout + r.stderr).split())
    assert "notifications are OFF (通知未配置)" in said or "notifications ON (通知已开启)" in said, "make status says it"
    assert run("db", "url", "--owner").stdout.strip() == warehouse
    from xuncha.warehouse import db

    assert run("db", "url").stdout.strip() == db.warehouse_url() != warehouse
    named = dict(line.split(None, 1) for line in run("db", "url", "--reader").stdout.strip().splitlines())
    assert named == {"psql": db.libpq_url(db.reader_url()), "sqlalchemy": db.reader_url()}
    assert named["psql"].startswith("postgresql://xuncha_reader")
    psql_url = run("db", "url", "--reader", "--format", "psql").stdout.strip()
    assert psql_url == named["psql"]
    if shutil.which("psql"):   # psql takes it as it is printed
        out = subprocess.run(["psql", psql_url, "-Atc", "SELECT current_user"], capture_output=True, text=True)
        assert out.stdout.strip() == "xuncha_reader", out.stderr
    assert run("db", "url", "--county", "410302", "--format", "sqlalchemy").stdout.strip().startswith(
        "postgresql+psycopg2://xuncha_county_410302")


def test_ingest_reports_each_outcome_and_exits_2_when_something_is_quarantined(clean, tmp_path):
    write_export(tmp_path, "410325", "410325-20190315-01", "2019-03-15", slice_rows())
    r = run("ingest", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "1 loaded" in r.stdout
    assert (tmp_path / "410325" / "410325-20190315-01").exists(), "ingest leaves its source alone unless --move"
    assert "1 duplicate" in run("ingest", str(tmp_path / "410325" / "410325-20190315-01")).stdout
    bad = slice_rows()
    bad["findings"][0]["found_date"] = "15/03/2019"
    write_export(tmp_path / "b", "410325", "410325-20190316-01", "2019-03-16", bad)
    r = run("ingest", str(tmp_path / "b"))
    assert r.returncode == 2
    assert "410325-20190316-01 quarantined" in r.stderr and "found_date" in r.stderr
    # the label in brackets is text, not rich markup; the report's path follows
    assert "quarantined: [row.invalid, date format 日期格式] findings.csv, row 1, column found_date" in r.stderr, r.stderr
    assert "report: " in r.stderr and "_report.md" in r.stderr


def test_errors_are_one_line_with_exit_code_1(tmp_path):
    r = run("ingest", str(tmp_path))
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error:") and "no export folder" in r.stderr
    assert "Traceback" not in r.stderr


def test_suites_match_the_spec():
    r = run("spec", "suites")
    assert r.returncode == 0 and "suites match the spec" in r.stdout


@pytest.mark.parametrize("width", [150, 60])
def test_the_demos_category_legend_gives_every_categorys_whole_name(width):
    """The findings table's legend (make demo) names each problem category in full (issue 23's trial saw
    'SL3 落实新时代党的组织路' cut mid-word), on a wide log and on a narrow terminal (where an entry wraps)."""
    from rich.console import Console

    from xuncha import cli
    from xuncha.spec import load_spec

    saved, cli.console = cli.console, Console(width=width, record=True)
    try:
        cli._print_findings([("410325", "SL3", 4, None), ("410326", "SJ1", 2, None)])
        text = "".join(cli.console.export_text().split())   # a wrapped entry's lines joined again
    finally:
        cli.console = saved
    for code, name in load_spec().codes["finding_category"].items():
        assert f"{code}{name.split('·')[-1]}" in text, (code, name)


def test_the_demo_says_each_countys_outcome_with_a_counter_as_its_run_ends():
    """make demo's progress (issue 23's trial: five silent minutes): one line per county DAG as its run ends, a counter,
    green with what the run took in, or RED with the reason first (the run note, markup-like brackets kept as text)."""
    from rich.console import Console

    from xuncha import cli, registry

    saved, cli.console = cli.console, Console(width=300, record=True)
    try:
        lines = cli._CountyLines(registry.default(), 17)
        lines("xuncha_county_410325", "success",
              "night 2017-02-28: took in 151 night(s) 2016-10-01 … 2017-02-28, 151 export(s) loaded")
        lines("xuncha_county_410328", "failed", "RED: 洛宁县 410328: pull failed — no Airflow connection [xuncha_county_410328]"
                                                " — night 2017-02-28: nothing fetched, nothing loaded")
        lines("xuncha_county_410329", "failed", "")
        out = cli.console.export_text().splitlines()
    finally:
        cli.console = saved
    assert out[0].startswith("  (1/17) 嵩县 410325: green — took in 151 night(s) 2016-10-01 … 2017-02-28, 151 export(s) loaded (")
    assert out[1].startswith("  (2/17) 洛宁县 410328: RED — 洛宁县 410328: pull failed — no Airflow connection "
                             "[xuncha_county_410328] — night"), out[1]
    assert out[2].startswith("  (3/17) 伊川县 410329: RED — its run failed: see xuncha_county_410329.log"), out[2]
