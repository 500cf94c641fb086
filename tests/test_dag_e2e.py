"""The nightly and marts DAGs through real Airflow runs (`airflow dags test`) on the suite's embedded server,
with the two pulled counties (嵩县 410325, 洛宁县 410328) served by a real county HTTP system on loopback.

The registry is config/counties.yml cut to the city and five counties (UNITS): each county's chain is the same
tasks, so more of them only make the run longer."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import query, row_counts
from exports import slice_rows, write_export

from xuncha.orchestration import env as airflow_env
from xuncha.orchestration import dag_test_logs
from xuncha.warehouse import db
from xuncha_sim.countyserver import CountyServer

RUN_AT = "2019-03-17T03:00:00+08:00"  # covers the night of 2019-03-16
PULLED = {"410325": "token-songxian-0001", "410328": "token-luoning-0002"}
UNITS = ("410300", "410325", "410326", "410327", "410328", "410329")


@pytest.fixture
def six_units(tmp_path) -> dict[str, str]:
    """XUNCHA_CONFIG for a copy of config/ whose counties.yml lists only UNITS."""
    from xuncha.settings import PROJECT_ROOT

    d = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", d)
    entry = re.compile(r'\s+- \{code: "(\d+)"')
    lines = (d / "counties.yml").read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "counties.yml").write_text("".join(l for l in lines if not entry.match(l) or entry.match(l)[1] in UNITS),
                                    encoding="utf-8")
    return {"XUNCHA_CONFIG": str(d)}


@pytest.fixture
def county_systems(tmp_path):
    root = tmp_path / "systems"
    root.mkdir()
    with CountyServer(root, PULLED) as server:
        env = {}
        for code, token in PULLED.items():
            env |= airflow_env.county_connection_env(f"xuncha_county_{code}", server.url, token)
        yield root, env


def county_states(settings, run_at: str) -> dict[tuple[str, str], str]:
    """(task, county label) -> state of the nightly run at `run_at`, from Airflow's metadata database."""
    from xuncha.warehouse import db

    rows = query(db.airflow_db_url(settings), """
        SELECT ti.task_id, ti.rendered_map_index, ti.state FROM task_instance ti JOIN dag_run r USING (dag_id, run_id)
         WHERE ti.dag_id = 'xuncha_nightly' AND r.logical_date = %s::timestamptz AND ti.task_id LIKE 'county.%%'""", (run_at,))
    return {(t.removeprefix("county."), label): state for t, label, state in rows}


def land_night(settings, systems_root):
    write_export(settings.landing, "410329", "410329-20190315-01", "2019-03-15", slice_rows("410329"))
    write_export(settings.landing, "410326", "410326-20190316-01", "2019-03-16",
                 slice_rows("410326", n_findings=9, updated="2019-03-16T20:00:00+08:00"), encoding={"findings": "gb18030"})
    bad = slice_rows("410327")
    bad["findings"][1]["category"] = "XX"
    write_export(settings.landing, "410327", "410327-20190316-01", "2019-03-16", bad)
    # A night after the run's night waits for its own run.
    write_export(settings.landing, "410329", "410329-20190317-01", "2019-03-17",
                 {"findings": [dict(slice_rows("410329")["findings"][0], finding_id="410329-F0777",
                                    updated_at="2019-03-17T20:00:00+08:00")]})
    # 嵩县 is pulled over HTTP from its own system.
    write_export(systems_root, "410325", "410325-20190316-01", "2019-03-16", slice_rows("410325", n_findings=4))


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 6 units x 3 tasks, twice, through `airflow dags test` (minutes on a loaded machine)
def test_nightly_and_marts_dags_load_the_night_and_a_second_run_changes_nothing(clean, airflow_ready, settings, county_systems,
                                                                              chat_robot, six_units, tmp_path):
    systems_root, conn_env = county_systems
    conn_env = conn_env | six_units
    robot_env, robot = chat_robot
    land_night(settings, systems_root)
    out = tmp_path / "nightly.log"
    airflow_env.dags_test("xuncha_nightly", RUN_AT, env=conn_env | robot_env, log=out)
    airflow_env.dags_test("xuncha_marts", RUN_AT, env=conn_env)

    # One county, one chain: the quarantine and the misses are red on their own county; the counties that delivered are green.
    states = county_states(settings, RUN_AT)
    assert states[("outcome", "宜阳县 410327")] == "failed" and states[("ingest", "宜阳县 410327")] == "success"
    assert states[("outcome", "伊川县 410329")] == "failed", "a missed night is red"
    assert states[("outcome", "汝阳县 410326")] == "success" and states[("outcome", "嵩县 410325")] == "success"
    assert all(states[(t, "汝阳县 410326")] == "success" for t in ("wait_for_export", "ingest"))
    assert len({label for _, label in states}) == len(UNITS), "every task keeps its county's label"
    # The failure callback named county, night and reason through the chat robot notifier.
    texts = [m["body"]["text"]["content"] for m in robot]
    yiyang = [t for t in texts if "宜阳县 410327" in t]
    assert yiyang and "2019-03-16" in yiyang[0] and "quarantined" in yiyang[0] and "findings.csv" in yiyang[0], texts[:3]
    assert all(m["path"] == "/robot/send?access_token=t0" and m["body"]["msgtype"] == "text" for m in robot)
    # Each task's log is where the UI reads it (the demo's runs are `dags test` runs too).
    logs = {p.relative_to(dag_test_logs.base_log_folder(settings)).parts[2:]: p.read_text(encoding="utf-8")
            for p in dag_test_logs.write_task_logs(out, "xuncha_nightly", RUN_AT, settings)}
    assert len(logs) == 2 + 3 * len(UNITS), sorted(logs)
    ingests = [text for parts, text in logs.items() if parts[0] == "task_id=county.ingest"]
    assert sum("410327-20190316-01" in t and "quarantined" in t for t in ingests) == 1
    # The run's note (grid, run details) says the night per county.
    [(note,)] = query(db.airflow_db_url(settings), """SELECT n.content FROM dag_run_note n JOIN dag_run r ON r.id = n.dag_run_id
                                                      WHERE r.dag_id = 'xuncha_nightly' AND r.logical_date = %s::timestamptz""", (RUN_AT,))
    assert note.startswith("night 2019-03-16: 2 export(s) loaded"), note
    assert "quarantined 隔离: 宜阳县 410327 (410327-20190316-01)" in note and "伊川县 410329" in note and "洛宁县 410328" in note, note

    assert query(clean, "SELECT county_code, count(*) FROM core.findings GROUP BY 1 ORDER BY 1") == [
        ("410325", 4), ("410326", 9), ("410329", 6)]
    assert query(clean, "SELECT county_code, export_id, status FROM audit.batches ORDER BY 1") == [
        ("410325", "410325-20190316-01", "loaded"),
        ("410326", "410326-20190316-01", "loaded"),
        ("410327", "410327-20190316-01", "quarantined"),
        ("410329", "410329-20190315-01", "loaded"),
    ]
    assert query(clean, "SELECT county_code, watermark::text, export_id FROM audit.watermarks") == [
        ("410325", "2019-03-16 15:30:00+00", "410325-20190316-01")]
    assert (settings.quarantine / "410327" / "410327-20190316-01" / "_report.md").exists()
    assert (settings.landing / "410329" / "410329-20190317-01").exists(), "a later night must wait for its own run"
    # Night of 2019-03-16: 410325, 410326 and 410327 delivered; the other units missed the 06:00 deadline.
    misses = {r[0] for r in query(clean, "SELECT county_code FROM audit.deadline_misses WHERE business_date = '2019-03-16'")}
    assert misses == {"410300", "410328", "410329"}
    assert dict(query(clean, "SELECT kind, count(*) FROM audit.alerts GROUP BY 1")) == {"deadline_missed": 3, "quarantined": 1}
    mart = query(clean, "SELECT county_code, category, findings FROM mart.findings_by_category WHERE county_code = '410326' ORDER BY 2")
    assert mart == [("410326", "SJ1", 3), ("410326", "SJ2", 3), ("410326", "SL1", 3)]

    before = row_counts(clean)
    shutil.rmtree(systems_root / "410325")
    land_night(settings, systems_root)  # every county sends the same night again
    airflow_env.dags_test("xuncha_nightly", RUN_AT, env=conn_env)
    airflow_env.dags_test("xuncha_marts", RUN_AT, env=conn_env)
    assert row_counts(clean) == before
    statuses = query(clean, "SELECT status, count(*) FROM audit.batches GROUP BY 1 ORDER BY 1")
    assert statuses == [("duplicate", 2), ("loaded", 3), ("quarantined", 2)], "the pulled export is not pulled again"
    assert query(clean, "SELECT count(*) FROM audit.deadline_misses") == [(3,)], "a miss is recorded once"
