"""Every DAG file imports cleanly, declares what operators need, and does no I/O at parse time."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[1] / "dags"
DAG_FILES = sorted(DAGS_DIR.glob("*.py"))


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"dagfile_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dags(monkeypatch_module):
    import airflow.sdk  # noqa: F401  (Airflow itself may touch its config on import; our DAG files may not)
    import psycopg2
    from airflow.sdk import DAG

    def no_io(*args, **kwargs):
        raise AssertionError("DAG files must not open database or network connections at import time")

    monkeypatch_module.setattr(socket.socket, "connect", no_io)
    monkeypatch_module.setattr(psycopg2, "connect", no_io)
    found = {}
    for path in DAG_FILES:
        module = _load(path)
        for obj in vars(module).values():
            if isinstance(obj, DAG):
                found[obj.dag_id] = (path.name, obj)
    return found


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_dags_folder_has_the_pipelines(dags):
    assert DAG_FILES, "no DAG files"
    assert {"xuncha_nightly", "xuncha_marts", "xuncha_health"} <= set(dags)


def test_every_dag_file_defines_a_dag(dags):
    files_with_dags = {name for name, _ in dags.values()}
    assert files_with_dags == {p.name for p in DAG_FILES}


def test_every_dag_has_owner_tags_retries_and_docs(dags):
    for dag_id, (_, dag) in dags.items():
        assert dag.tags, f"{dag_id}: no tags"
        assert dag.doc_md, f"{dag_id}: no doc_md"
        for t in dag.tasks:
            assert t.owner and t.owner != "airflow", f"{dag_id}.{t.task_id}: owner not set"
            assert t.retries >= 1, f"{dag_id}.{t.task_id}: retries < 1"
            assert t.execution_timeout is not None, f"{dag_id}.{t.task_id}: no execution_timeout"


def test_marts_dag_is_scheduled_on_the_core_assets_and_the_end_of_each_nightly_run(dags):
    from xuncha.orchestration.assets import CORE, NIGHT

    _, marts = dags["xuncha_marts"]
    _, nightly = dags["xuncha_nightly"]
    produced = {o.uri for t in nightly.tasks for o in t.outlets}
    assert produced == {a.uri for a in CORE.values()} | {NIGHT.uri}
    summary = nightly.get_task("summary")
    assert [o.uri for o in summary.outlets] == [NIGHT.uri] and summary.trigger_rule == "all_done"
    condition = marts.timetable.asset_condition
    assert type(condition).__name__ == "AssetAny", "any one changed core table should trigger a refresh"
    assert {a.uri for a in condition.objects} == produced
    assert marts.max_active_runs == 1, "refreshes serialise on one lock: a second run would only hold a task slot"


def test_each_county_is_one_mapped_chain_with_readable_labels(dags):
    _, nightly = dags["xuncha_nightly"]
    group = nightly.task_group_dict["county"]
    assert type(group).__name__ == "MappedTaskGroup", "wait → ingest → outcome is mapped per county as one group"
    # Three task instances per county, no more: the scheduler's loop grows with the run's task instances (P3s).
    chain = ["county.wait_for_export", "county.ingest", "county.outcome"]
    assert sorted(group.children) == sorted(chain)
    for up, down in zip(chain, chain[1:]):
        assert nightly.get_task(down).upstream_task_ids == {up}
    assert nightly.get_task("county.wait_for_export").map_index_template == "{{ task.county['label'] }}"
    for t in chain[1:]:
        assert nightly.get_task(t).map_index_template == "{{ county_label }}"
    assert nightly.get_task("summary").trigger_rule == "all_done", "the night summary lists failed counties too"


def test_every_dag_notifies_failures(dags):
    from xuncha.orchestration import notifications as notify

    for dag_id, (_, dag) in dags.items():
        for t in dag.tasks:
            assert notify.task_failed in (t.on_failure_callback if isinstance(t.on_failure_callback, list)
                                          else [t.on_failure_callback]), f"{dag_id}.{t.task_id}"


def test_the_local_clusters_policy_stops_time_based_runs_and_leaves_asset_triggered_dags_alone(dags):
    """xuncha.orchestration.cluster.hold_schedule (tests and benchmarks), installed by plugins/airflow_local_settings.py when
    LocalCluster sets XUNCHA_CLUSTER_HOLD_SCHEDULE=1: the nightly and health DAGs get catchup off and a start date
    in 2099, so the scheduler makes no run by itself (not even after a backfill); the marts DAG keeps its own."""
    import os

    from airflow.sdk import DAG

    from xuncha.orchestration.cluster import HOLD_ENV, hold_schedule

    local_settings = DAGS_DIR.parent / "plugins" / "airflow_local_settings.py"   # as Airflow imports it: the plugins
    os.environ[HOLD_ENV] = "1"                                                   # folder is on its sys.path
    try:
        assert _load(local_settings).dag_policy is hold_schedule
    finally:
        del os.environ[HOLD_ENV]
    assert not hasattr(_load(local_settings), "dag_policy"), "no policy outside a LocalCluster"
    fresh = {o.dag_id: o for path in DAG_FILES for o in vars(_load(path)).values() if isinstance(o, DAG)}  # not `dags`'
    assert fresh.keys() == dags.keys()
    for dag_id, dag in fresh.items():
        start, catchup = dag.start_date, dag.catchup
        hold_schedule(dag)
        if dag_id == "xuncha_marts":
            assert (dag.start_date, dag.catchup) == (start, catchup)
        else:
            assert dag.catchup is False and dag.start_date.year == 2099, dag_id
