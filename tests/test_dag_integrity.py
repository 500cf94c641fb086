"""Every DAG file imports cleanly, declares what operators need, and does no I/O at parse time."""

from __future__ import annotations

import datetime as dt
import importlib.util
import socket
from pathlib import Path
from zoneinfo import ZoneInfo

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
    from xuncha import registry

    assert DAG_FILES, "no DAG files"
    counties = {f"xuncha_county_{c.code}" for c in registry.load().counties}
    assert {"xuncha_night", "xuncha_marts", "xuncha_health"} | counties <= set(dags)
    assert {name for dag_id, (name, _) in dags.items() if dag_id in counties} == {"xuncha_county.py"}


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


def test_each_county_system_is_its_own_dag_named_tagged_owned_and_scheduled_from_the_registry(dags):
    from xuncha import registry

    for county in registry.load().counties:
        _, dag = dags[f"xuncha_county_{county.code}"]
        assert dag.dag_display_name == f"{county.name} {county.code}"
        assert set(dag.tags) == {"xuncha", county.region, county.channel}
        assert {t.owner for t in dag.tasks} == {county.owner}
        assert dag.timetable.expression == "0 0 * * *" and str(dag.timetable.timezone) == county.timezone
        assert dag.max_active_runs == 1 and not dag.catchup, "one night at a time; unpausing schedules one night, no catch-up"
        first = dt.datetime.combine(county.active_from + dt.timedelta(days=1), dt.time(0), ZoneInfo(county.timezone))
        assert dag.start_date == first and {t.start_date for t in dag.tasks} == {first}, \
            "from the county's first night: a Trigger-form run (logical date now) gets its task instances"
        assert set(dag.params) >= {"night", "reason"}, "the trigger form: the night and why it is re-run"
        assert all(e in dag.doc_md for e in county.contacts.get("email", []))
        emails = county.contacts.get("email") or []
        assert dag.owner_links == ({county.owner: f"mailto:{emails[0]}"} if emails else {})
    _, songxian = dags["xuncha_county_410325"]
    assert set(songxian.tags) == {"xuncha", "洛阳市", "http"}


def test_a_county_dag_is_two_tasks_the_deferrable_load_then_the_verdict(dags):
    from xuncha.orchestration.assets import core_changes
    from xuncha.orchestration.sensors import CountyNightOperator

    _, dag = dags["xuncha_county_410326"]
    assert sorted(t.task_id for t in dag.tasks) == ["ingest", "verdict"]
    ingest, verdict = dag.get_task("ingest"), dag.get_task("verdict")
    assert isinstance(ingest, CountyNightOperator) and ingest.county == {"code": "410326", "label": "汝阳县 410326"}
    assert verdict.upstream_task_ids == {"ingest"}
    # Events only for what changed: an AssetAlias outlet emits nothing unless the task adds an event through it.
    assert ingest.outlets == [core_changes("410326")] and verdict.outlets == []
    assert ingest.execution_timeout.total_seconds() == 4 * 3600, "the load itself has a time limit"
    assert ingest.pool == "xuncha_ingest" and ingest.retries >= 1


def test_the_trigger_form_takes_a_real_night_and_a_short_reason_and_refuses_the_rest(dags):
    """The Params declare draft-07 (cheaper for Airflow to check at each DAG's build): the form must judge as before."""
    import copy

    from airflow.sdk.definitions.param import ParamValidationError

    _, dag = dags["xuncha_county_410326"]
    params = copy.deepcopy(dag.params)
    assert params.validate() == {"night": None, "reason": ""}
    params["night"], params["reason"] = "2019-03-16", "export re-sent after quarantine"
    assert params.validate() == {"night": "2019-03-16", "reason": "export re-sent after quarantine"}
    for key, bad in (("night", "2019-02-30"), ("night", 20190316), ("reason", "x" * 201)):
        with pytest.raises(ParamValidationError):
            params[key] = bad


def test_the_verdict_judges_the_result_ingest_returned(dags):
    """`verdict` takes `ingest`'s XCom as its argument, resolved when it runs (a templated XComArg)."""
    import jinja2

    _, dag = dags["xuncha_county_410326"]
    verdict = dag.get_task("verdict")
    result = {"status": "missed", "summary": {"business_date": "2019-03-16", "exports": []}}

    class TaskInstance:
        def xcom_pull(self, task_ids, key, **_):
            assert (task_ids, key) == ("ingest", "return_value")
            return result

    unrendered = verdict.result
    try:
        verdict.render_template_fields({"ti": TaskInstance()}, jinja_env=jinja2.Environment())
        assert verdict.result == result and verdict.county == {"code": "410326", "label": "汝阳县 410326"}
    finally:
        verdict.result = unrendered   # the module's DAGs are shared by the other tests


def test_marts_dag_is_scheduled_on_the_core_assets_and_the_nights_end(dags):
    from xuncha.orchestration.assets import CORE, NIGHT

    _, marts = dags["xuncha_marts"]
    _, night = dags["xuncha_night"]
    assert [o.uri for o in night.get_task("states").outlets] == [NIGHT.uri]
    condition = marts.timetable.asset_condition
    assert type(condition).__name__ == "AssetAny", "any one changed core table should trigger a refresh"
    assert {a.uri for a in condition.objects} == {a.uri for a in CORE.values()} | {NIGHT.uri}
    assert marts.max_active_runs == 1, "refreshes serialise on one lock: a second run would only hold a task slot"


def test_the_night_dag_runs_after_the_latest_deadline(dags):
    _, night = dags["xuncha_night"]
    assert night.timetable.expression == "30 6 * * *", "06:00 is the registry's latest deadline (Asia/Shanghai)"
    assert night.get_task("judge").upstream_task_ids == {"states"}


def test_a_task_starting_builds_only_its_own_county_dag(monkeypatch):
    """Airflow sets the parsing context when a task starts: the DAG file then builds one DAG, not every county's."""
    from airflow.sdk import DAG

    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "xuncha_county_410327")
    built = [o.dag_id for o in vars(_load(DAGS_DIR / "xuncha_county.py")).values() if isinstance(o, DAG)]
    assert built == ["xuncha_county_410327"]


def test_every_dag_notifies_failures(dags):
    from xuncha.orchestration import notifications as notify

    for dag_id, (_, dag) in dags.items():
        for t in dag.tasks:
            assert notify.task_failed in (t.on_failure_callback if isinstance(t.on_failure_callback, list)
                                          else [t.on_failure_callback]), f"{dag_id}.{t.task_id}"


def test_the_local_clusters_policy_stops_time_based_runs_and_leaves_asset_triggered_dags_alone(dags):
    """xuncha.orchestration.cluster.hold_schedule (tests and benchmarks), installed by plugins/airflow_local_settings.py when
    LocalCluster sets XUNCHA_CLUSTER_HOLD_SCHEDULE=1: the county, night and health DAGs (and their tasks) get catchup
    off and a start date in 2099, so the scheduler makes no run by itself (not even after a backfill); the marts DAG
    keeps its own."""
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
            assert {t.start_date.year for t in dag.tasks} == {2099}, f"{dag_id}: a task's own start date would schedule"
