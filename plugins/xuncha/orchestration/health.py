"""The health DAG's `check` task (dags/xuncha_health.py): the library's health run with Airflow's notifiers.

Logs the run's report first (the blocking incidents lead it), then fails the task with AirflowFailException (no
retry: retrying changes nothing until someone acknowledges) while a critical incident is open and unacknowledged.
"""

from __future__ import annotations

import datetime as dt
import logging

from airflow.exceptions import AirflowFailException

log = logging.getLogger("xuncha.orchestration.health")


class IncidentsOpen(AirflowFailException):
    """The health run failed because critical incidents are open and unacknowledged (already notified one by one:
    the failure callback does not notify it again)."""


def run_check(params: dict) -> list[str]:
    """One health run (xuncha.monitor.health.check) with `params` max_age_nights and escalate_after_hours (None: the
    setting); returns the findings' lines (the task's XCom). Raises IncidentsOpen while the run is failed."""
    from xuncha import registry
    from xuncha.monitor import health
    from xuncha.orchestration import notifications
    from xuncha.orchestration.env import warehouse_url_from_airflow

    hours = params.get("escalate_after_hours")
    run = health.check(warehouse_url_from_airflow(), registry.default(), notifications.deliver,
                       max_age_nights=params.get("max_age_nights", 1),
                       escalate_after=None if hours is None else dt.timedelta(hours=float(hours)),
                       channels=len(notifications.operator_channels()))
    report = run.report()
    (log.error if run.failed else log.info)("%s", report)
    if run.failed:
        raise IncidentsOpen(report.splitlines()[0] + " " + "; ".join(
            f"#{i['incident_id']} {i['kind']} {i['county_code']}" for i in run.blocking))
    return [f.line() for f in run.found]


def quarantined(url: str, registry, code: str) -> list[dict]:
    """A county DAG's `ingest` task's `on_quarantine` (xuncha.load.county_night.run), and `xuncha ingest`'s: county
    `code`'s quarantine incident opened (or updated) and notified through Airflow's notifiers now
    (xuncha.monitor.health.on_quarantine). Returns the notification attempts (none when the incident was open)."""
    from xuncha.monitor import health
    from xuncha.orchestration import notifications

    sent = health.on_quarantine(url, registry, code, notifications.deliver)
    if sent:
        log.warning("%s: quarantine incident opened; %d notification(s) sent, %d failed", code,
                    sum(s["ok"] for s in sent), sum(not s["ok"] for s in sent))
    return sent


def pull_failed(url: str, registry, code: str, text: str, detail: dict | None = None) -> None:
    """County `code`'s pull failed on a configuration fault (its Airflow connection is missing: `text` says why and
    what to do, without `pull failed`, which the alert and the incident put before it): alerted `pull_failed`
    (audit.alerts) and its pull_failure incident opened (or updated) and notified through Airflow's notifiers now
    (xuncha.monitor.health.on_pull_failure), not at the next hourly health run. A failing notifier is logged, never
    raised (the task's verdict must still say why)."""
    from xuncha.monitor import alerts, health
    from xuncha.orchestration import notifications

    alerts.raise_alert(url, "pull_failed", code, f"pull failed: {text}", detail={"error": text, **(detail or {})})
    try:
        sent = health.on_pull_failure(url, registry, code, notifications.deliver)
    except Exception:
        log.exception("%s: could not open the pull_failure incident now; the next health run will", code)
        return
    if sent:
        log.warning("%s: pull_failure incident opened; %d notification(s) sent, %d failed", code,
                    sum(s["ok"] for s in sent), sum(not s["ok"] for s in sent))
