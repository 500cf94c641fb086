"""The note on each finished run of xuncha_nightly: the night per county in one line (Airflow's run note, shown in
the grid and the run's details), so a data engineer sees loaded / quarantined / missing without opening a task.

An Airflow listener (plugins/xuncha_run_notes.py) calls `on_dag_run_success` / `on_dag_run_failed` in the process
that decides the run's state (the scheduler, or `airflow dags test`), inside its database session: the note is
written with the state. The figures come from the warehouse (xuncha.orchestration.nightly.night_summary), so a county whose chain
failed is in them too. Any error is logged and swallowed: a note never stops the scheduler.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

DAG_ID = "xuncha_nightly"
MAX_NOTE = 1000
"""Airflow's limit on a run note (DAGRunPatchBody.note maxLength)."""


def note_text(summary: dict) -> str:
    """The note for nightly.night_summary's dict: 'night D: N loaded; quarantined: …; missing (迟报/漏报): …',
    cut to MAX_NOTE characters."""
    counties = summary["counties"]
    parts = [f"night {summary['business_date']}: {summary['loaded']} export(s) loaded"]
    red = [f"{s['county']} ({', '.join(s['quarantined'])})" for s in counties.values() if s["quarantined"]]
    if red:
        parts.append("quarantined 隔离: " + "; ".join(red))
    missing = [counties[c]["county"] for c in summary["missing"]]
    if missing:
        parts.append("missing 迟报/漏报: " + ", ".join(missing))
    if not red and not missing:
        parts.append(f"every county of the night delivered ({len(counties)})")
    text = "; ".join(parts)
    return text if len(text) <= MAX_NOTE else text[: MAX_NOTE - 1] + "…"


def _note(dag_run) -> None:
    if dag_run.dag_id != DAG_ID:
        return
    try:
        from xuncha import registry
        from xuncha.orchestration import nightly
        from xuncha.orchestration.env import warehouse_url_from_airflow

        conf = dag_run.conf or {}
        day = nightly.run_night({"dag_run": dag_run, "params": conf, "logical_date": dag_run.logical_date})
        codes = [c["code"] for c in nightly.plan(registry.load(), day, conf.get("counties"))]
        text = note_text(nightly.night_summary(day, codes, warehouse_url_from_airflow()))
        _write(dag_run, text)
    except Exception:
        log.exception("%s %s: could not write the run note", dag_run.dag_id, dag_run.run_id)


def _write(dag_run, text: str) -> None:
    """Set the run's note after its own (a push run's "push of … by …" comes first). In the scheduler's session
    when the run belongs to one (a second session would wait on the row the scheduler holds); else
    (`airflow dags test` hands over a detached run) in a session of its own."""
    from sqlalchemy.orm import object_session

    def put(run) -> None:
        own = (run.note or "").split(" — night ")[0]
        run.note = f"{own} — {text}"[:MAX_NOTE] if own and not own.startswith("night ") else text

    if object_session(dag_run) is not None:
        put(dag_run)
        return
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        put(session.get(DagRun, dag_run.id))


@hookimpl
def on_dag_run_success(dag_run, msg: str):
    """Airflow listener hook: note the night on a successful nightly run."""
    _note(dag_run)


@hookimpl
def on_dag_run_failed(dag_run, msg: str):
    """Airflow listener hook: note the night on a failed nightly run (a county red)."""
    _note(dag_run)
