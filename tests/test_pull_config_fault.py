"""A pulled county whose Airflow connection is missing (issue 23's trial: 嵩县 re-run after `make demo`): the county
task's own callable against a real PostgreSQL. The run says why first, alerts `pull_failed`, opens the county's
pull_failure incident and does not burn retries; a county system that cannot be reached (transient) is still retried."""

from __future__ import annotations

import pytest
from conftest import query

from xuncha.monitor import findings
from xuncha.orchestration import county_dags, nightly, run_notes
from xuncha.orchestration.assets import CORE, core_changes
from xuncha.orchestration.sensors import CountyNightOperator

NIGHT = "2019-03-16"


def ingest(code: str, label: str):
    """The `ingest` task of county `code`'s DAG (dags/xuncha_county.py), built as the DAG file builds it."""
    return CountyNightOperator(task_id="ingest", county={"code": code, "label": label}, changes=core_changes(code),
                               core=CORE)


def context(night: str = NIGHT) -> dict:
    return {"params": {"night": night}, "dag_run": None, "outlet_events": {}}


def test_a_missing_connection_fails_the_verdict_at_once_with_the_fix_first_an_alert_and_an_open_incident(
        clean, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.delenv("AIRFLOW_CONN_XUNCHA_COUNTY_410325", raising=False)
    result = ingest("410325", "嵩县 410325").execute(context())   # returns: the ingest task is not retried
    assert result["status"] == "pull_failed" and result["summary"] == {"business_date": NIGHT, "exports": []}
    with pytest.raises(AirflowFailException) as failed:   # AirflowFailException: failed without a retry
        county_dags.judge("嵩县 410325", result)
    # the fix a user can follow (README: the two settings, then `xuncha setup`; `airflow` is not on their PATH)
    fix = ("no Airflow connection `xuncha_county_410325`: set XUNCHA_COUNTY_410325_URL and XUNCHA_COUNTY_410325_TOKEN "
           "(the county system's address and bearer token) and run `xuncha setup`, then re-run this night")
    assert str(failed.value).startswith(f"嵩县 410325: pull failed — {fix}"), str(failed.value)
    assert "docs/operations.md §1" in str(failed.value) and "connections add" not in str(failed.value)
    note = run_notes.county_note(nightly.county_verdict("嵩县 410325", result))
    assert note.startswith(f"RED: 嵩县 410325: pull failed — {fix}"), note
    assert note.endswith(f"night {NIGHT}: nothing fetched, nothing loaded")
    [(kind, code, message, raised_at)] = query(clean, "SELECT kind, county_code, message, raised_at FROM audit.alerts")
    assert (kind, code) == ("pull_failed", "410325") and message.startswith(f"pull failed: {fix}"), message
    [(ikind, state, summary)] = query(clean, "SELECT kind, state, summary FROM audit.incidents")
    assert (ikind, state) == ("pull_failure", "open")
    at = findings.local_time(raised_at)
    assert at.endswith(" +08:00") and summary.startswith(f"嵩县 410325: pull failed at {at} — {fix}"), summary
    assert summary.count("pull failed") == 1, "said once (trial 15: 'pull failed: pull failed — …')"
    again = ingest("410325", "嵩县 410325").execute(context())   # a second run updates the open incident
    assert again["status"] == "pull_failed"
    assert query(clean, "SELECT count(*), max(seen_count) FROM audit.incidents") == [(1, 2)]


def test_a_county_system_that_cannot_be_reached_raises_so_the_task_is_retried(clean, monkeypatch):
    from notify_kit import free_port

    from xuncha.extract import connectors
    from xuncha.orchestration.env import county_connection_env

    for k, v in county_connection_env("xuncha_county_410325", f"http://127.0.0.1:{free_port()}", "t0k3n").items():
        monkeypatch.setenv(k, v)   # defined, but nothing listens there: transient, retried
    with pytest.raises(connectors.PullError, match="cannot be reached"):
        ingest("410325", "嵩县 410325").execute(context())
    assert query(clean, "SELECT count(*) FROM audit.incidents WHERE kind = 'pull_failure'") == [(0,)]
