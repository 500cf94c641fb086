"""The county DAGs and the marts DAG through real Airflow runs (`airflow dags test`, as the demo runs them) on the
suite's embedded server, with the two pulled counties (嵩县 410325, 洛宁县 410328) served by a real county HTTP system
on loopback. (The same DAGs under the real scheduler, paused and re-run: test_county_runs.py.)

The registry is config/counties.yml cut to the city and five counties (UNITS): each county's DAG is the same two
tasks, so more of them only make the run longer."""

from __future__ import annotations

import shutil

import pytest
from conftest import config_with_units, query, row_counts
from exports import slice_rows, write_export

from xuncha.orchestration import env as airflow_env
from xuncha.orchestration import dag_test_logs
from xuncha.warehouse import db
from xuncha_sim.countyserver import CountyServer

NIGHT = {"night": "2019-03-16"}      # the runs' `night` Param; their logical dates are now
PULLED = {"410325": "token-songxian-0001", "410328": "token-luoning-0002"}
UNITS = ("410300", "410325", "410326", "410327", "410328", "410329")


@pytest.fixture
def six_units(tmp_path) -> dict[str, str]:
    """XUNCHA_CONFIG for a copy of config/ whose counties.yml lists only UNITS."""
    return {"XUNCHA_CONFIG": config_with_units(tmp_path, UNITS)}


@pytest.fixture
def county_systems(tmp_path):
    root = tmp_path / "systems"
    root.mkdir()
    with CountyServer(root, PULLED) as server:
        env = {}
        for code, token in PULLED.items():
            env |= airflow_env.county_connection_env(f"xuncha_county_{code}", server.url, token)
        yield root, env


def county_states(settings) -> dict[tuple[str, str], str]:
    """(task, county label) -> state in each county DAG's newest run, from Airflow's metadata database."""
    from xuncha import registry

    rows = query(db.airflow_db_url(settings), """
        SELECT DISTINCT ON (ti.dag_id, ti.task_id) ti.dag_id, ti.task_id, ti.state FROM task_instance ti
          JOIN dag_run r USING (dag_id, run_id) WHERE ti.dag_id LIKE 'xuncha_county_%%' ORDER BY ti.dag_id, ti.task_id, r.id DESC""")
    reg = registry.load()
    return {(t, reg.get(d.removeprefix("xuncha_county_")).label): state for d, t, state in rows
            if d.removeprefix("xuncha_county_") in UNITS}


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
@pytest.mark.timeout(2400)  # 6 county DAGs x 2 tasks, twice, through `airflow dags test` (minutes on a loaded machine)
def test_county_and_marts_dags_load_the_night_and_a_second_run_changes_nothing(clean, airflow_ready, settings, county_systems,
                                                                             chat_robot, six_units, tmp_path, monkeypatch):
    systems_root, conn_env = county_systems
    conn_env = conn_env | six_units
    robot_env, robot = chat_robot
    monkeypatch.setenv("XUNCHA_CONFIG", six_units["XUNCHA_CONFIG"])
    land_night(settings, systems_root)
    logs = tmp_path / "runs"
    dag_ids = [f"xuncha_county_{c}" for c in UNITS]
    ended = []   # what the demo prints one line of as each county's run ends (its state and run note)
    codes = airflow_env.dags_test_many(dag_ids, logs, NIGHT, env=conn_env | robot_env,
                                       on_end=lambda *end: ended.append((*end, (logs / "dags-test.log").stat().st_size)))
    airflow_env.dags_test("xuncha_marts", env=conn_env)
    assert [d for d, *_ in ended] == dag_ids, "one call per DAG, in run order"
    assert all(a[3] < b[3] for a, b in zip(ended, ended[1:])), "each call came as its run ended, not all at the end"
    said = {d: (state, note) for d, state, note, _ in ended}
    assert said["xuncha_county_410326"] == ("success", "night 2019-03-16: took in 1 night(s) 2019-03-16, 1 export(s) loaded")
    assert said["xuncha_county_410327"][0] == "failed" and "RED: 宜阳县 410327" in said["xuncha_county_410327"][1]

    # One county, one DAG: the quarantine and the misses are red on their own county; the counties that delivered are green.
    assert {d: rc == 0 for d, rc in codes.items()} == {"xuncha_county_410300": False, "xuncha_county_410325": True,
                                                       "xuncha_county_410326": True, "xuncha_county_410327": False,
                                                       "xuncha_county_410328": False, "xuncha_county_410329": False}
    states = county_states(settings)
    assert states[("verdict", "宜阳县 410327")] == "failed" and states[("ingest", "宜阳县 410327")] == "success"
    assert states[("verdict", "伊川县 410329")] == "failed", "a missed night is red"
    assert states[("verdict", "汝阳县 410326")] == "success" and states[("verdict", "嵩县 410325")] == "success"
    assert len({label for _, label in states}) == len(UNITS)
    # The failure callback named county, night and reason through the chat robot notifier.
    texts = [m["body"]["text"]["content"] for m in robot]
    yiyang = [t for t in texts if "宜阳县 410327" in t]
    assert yiyang and "2019-03-16" in yiyang[0] and "quarantined" in yiyang[0] and "findings.csv" in yiyang[0], texts[:3]
    assert all(m["path"] == "/robot/send?access_token=t0" and m["body"]["msgtype"] == "text" for m in robot)
    # Each task's log is where the UI reads it (the demo's runs are `dags test` runs too); the reason comes first.
    written = dag_test_logs.write_task_logs(logs / "xuncha_county_410327.log", "xuncha_county_410327", settings=settings)
    task_logs = {p.relative_to(dag_test_logs.base_log_folder(settings)).parts[2]: p.read_text(encoding="utf-8") for p in written}
    assert sorted(task_logs) == ["task_id=ingest", "task_id=verdict"], sorted(task_logs)
    assert "410327-20190316-01" in task_logs["task_id=ingest"] and "quarantined" in task_logs["task_id=ingest"]
    # Each run's note (grid, run details) says what it took in, and why it is red.
    notes = dict(query(db.airflow_db_url(settings), """SELECT r.dag_id, n.content FROM dag_run_note n
                                                        JOIN dag_run r ON r.id = n.dag_run_id WHERE r.dag_id LIKE 'xuncha_county_%%'"""))
    assert notes["xuncha_county_410326"] == "night 2019-03-16: took in 1 night(s) 2019-03-16, 1 export(s) loaded"
    assert "RED: 宜阳县 410327: export 410327-20190316-01 (night 2019-03-16) quarantined" in notes["xuncha_county_410327"]
    assert notes["xuncha_county_410329"].startswith("RED: 伊川县 410329: no export for the night of 2019-03-16 by the "
                                                    "deadline"), "the reason first"
    assert notes["xuncha_county_410329"].endswith("— night 2019-03-16: took in 1 night(s) 2019-03-15, 1 export(s) loaded")
    runs = query(db.airflow_db_url(settings), "SELECT start_date FROM dag_run WHERE dag_id LIKE 'xuncha_county_%%'")
    assert all(s.year >= 2026 for (s,) in runs), "a run's dates are when it ran, not the night's"

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
    airflow_env.dags_test_many(dag_ids, tmp_path / "again", NIGHT, env=conn_env)
    airflow_env.dags_test("xuncha_marts", env=conn_env)
    assert row_counts(clean) == before
    statuses = query(clean, "SELECT status, count(*) FROM audit.batches GROUP BY 1 ORDER BY 1")
    assert statuses == [("duplicate", 2), ("loaded", 3), ("quarantined", 2)], "the pulled export is not pulled again"
    assert query(clean, "SELECT count(*) FROM audit.deadline_misses") == [(3,)], "a miss is recorded once"
