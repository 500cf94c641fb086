"""The note on each finished run of a county DAG and of xuncha_night (Airflow's run note, shown in the grid and the
run's details), so a data engineer sees what the run did without opening a task.

A county run's note counts every night the run took in (a catch-up takes years of nights in one run), its exports
loaded and quarantined, and the verdict's reason and link when red (xuncha.orchestration.nightly.county_verdict,
from the `ingest` task's XCom). xuncha_night's note names each county's state (nightly.night_states).

An Airflow listener (plugins/xuncha_run_notes.py) calls `on_dag_run_success` / `on_dag_run_failed` in the process
that decides the run's state (the scheduler, or `airflow dags test`), inside its database session: the note is
written with the state. Any error is logged and swallowed: a note never stops the scheduler.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

COUNTY_PREFIX = "xuncha_county_"
NIGHT_DAG = "xuncha_night"
MAX_NOTE = 1000
"""Airflow's limit on a run note (DAGRunPatchBody.note maxLength; the column is varchar(1000): a longer note fails
the scheduler's own flush and stops it)."""
NOTE_NAMES = 8
"""Counties a green state of xuncha_night's note names before '… N more' (red states name every county)."""


def county_note(verdict, reason: str = "") -> str:
    """The note of a county run from its CountyVerdict, reason first when red: 'RED: 老城区 410302: … (link) — night
    D: took in N night(s) A … B, L export(s) loaded[, Q quarantined]' (or 'nothing waiting') — `reason` (the run's
    `reason` Param; when green it comes first: 'reason — night D: …'); a failed pull (status `pull_failed`):
    'RED: 嵩县 410325: pull failed — no Airflow connection … — night D: nothing fetched, nothing loaded'; a night not
    the county's own (status `inactive`): 'night D: not 吉利区 410306's night (…), so this run takes nothing; waiting
    in its landing folder: export E (night N, …) — 孟津区 410308's next run takes it …' (verdict.not_own). Cut to
    MAX_NOTE characters."""
    nights = verdict.nights
    if verdict.red and verdict.status == "pull_failed":   # nothing was done
        summary = f"night {verdict.night}: nothing fetched, nothing loaded"
    elif verdict.not_own:   # an ended (or not yet active) county: what waits in its folder, and who takes it
        summary = f"night {verdict.night}: {verdict.not_own}"
    elif nights:
        span = nights[0] if len(nights) == 1 else f"{nights[0]} … {nights[-1]}"
        summary = f"night {verdict.night}: took in {len(nights)} night(s) {span}, {verdict.loaded} export(s) loaded"
        if verdict.quarantined:
            summary += f", {verdict.quarantined} quarantined 隔离"
    else:
        summary = f"night {verdict.night}: nothing waiting, nothing loaded"
    if verdict.red:   # the reason it is red first, then what the run did, then why it was run
        parts = [f"RED: {verdict.reason}" + (f" ({verdict.link})" if verdict.link else ""), summary, reason]
    else:
        parts = [reason, summary]
    text = " — ".join(p for p in parts if p)
    return text if len(text) <= MAX_NOTE else text[: MAX_NOTE - 1] + "…"


def _ingest_result(dag_run, session, task_id: str = "ingest"):
    from sqlalchemy import select

    from airflow.models.xcom import XComModel

    row = session.execute(select(XComModel.value).where(
        XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id, XComModel.task_id == task_id,
        XComModel.key == "return_value")).first()
    return XComModel.deserialize_value(row) if row else None


def note_for(dag_run, session) -> str | None:
    """The note of a finished run of a county DAG or of xuncha_night (None for other DAGs, or when the county run's
    `ingest` left no result: it failed, and its log says why; 'RED: <county>: night … is in the future …' when it
    failed on a night after today, nightly.future_night). xuncha_night's: what its `states` task judged, every
    night it covered (xuncha.orchestration.nightly.judged_text)."""
    from xuncha import registry
    from xuncha.orchestration import nightly
    from xuncha.orchestration.env import warehouse_url_from_airflow

    conf = dag_run.conf or {}
    if dag_run.dag_id == NIGHT_DAG:   # what its `states` task judged (every night it covered); else its night now
        judged = _ingest_result(dag_run, session, "states")
        if judged and "nights" in judged:
            return nightly.judged_text(judged, NOTE_NAMES)
        day = nightly.run_night({"dag_run": dag_run, "params": conf, "logical_date": dag_run.logical_date})
        return nightly.night_text(day, nightly.night_states(day, warehouse_url_from_airflow()), NOTE_NAMES)
    if not dag_run.dag_id.startswith(COUNTY_PREFIX):
        return None
    result = _ingest_result(dag_run, session)
    county = registry.load().get(dag_run.dag_id.removeprefix(COUNTY_PREFIX))
    try:
        night = nightly.run_night({"dag_run": dag_run, "params": conf, "logical_date": dag_run.logical_date},
                                  county.timezone)
    except ValueError:   # a Param night that is no date: `ingest` failed on it, and its log says so
        night = None
    if not result:   # `ingest` failed; a night after today is refused at once (nightly.future_night): say so here too
        why = night and nightly.future_night(night)
        return f"RED: {county.label}: {why}" if why else None
    judged = nightly.county_judged(county.code, result, night, warehouse_url_from_airflow())
    return county_note(nightly.county_verdict(county.label, result, judged), str(conf.get("reason") or ""))


def _note(dag_run) -> None:
    if dag_run.dag_id != NIGHT_DAG and not dag_run.dag_id.startswith(COUNTY_PREFIX):
        return
    try:
        from sqlalchemy.orm import object_session

        from airflow.utils.session import create_session

        session = object_session(dag_run)
        if session is not None:
            text = note_for(dag_run, session)
        else:
            with create_session() as own:
                text = note_for(dag_run, own)
        if text:
            _write(dag_run, text)
    except Exception:
        log.exception("%s %s: could not write the run note", dag_run.dag_id, dag_run.run_id)


def _write(dag_run, text: str) -> None:
    """Set the run's note after its own (a push run's "push of … by …" comes first; after a red note's reason).
    In the scheduler's session
    when the run belongs to one (a second session would wait on the row the scheduler holds); else
    (`airflow dags test` hands over a detached run) in a session of its own."""
    from sqlalchemy.orm import object_session

    def put(run) -> None:
        own = (run.note or "").split(" — night ")[0]
        if not own or own.startswith(("night ", "RED: ")) or own in text:   # ours from before: replaced
            note = text
        else:   # a red note keeps its reason first (README: "reason first")
            note = f"{text} — {own}" if text.startswith("RED: ") else f"{own} — {text}"
        run.note = note if len(note) <= MAX_NOTE else note[: MAX_NOTE - 1] + "…"

    if object_session(dag_run) is not None:
        put(dag_run)
        return
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        put(session.get(DagRun, dag_run.id))


@hookimpl
def on_dag_run_success(dag_run, msg: str):
    """Airflow listener hook: note the night on a successful county or night run."""
    _note(dag_run)


@hookimpl
def on_dag_run_failed(dag_run, msg: str):
    """Airflow listener hook: note the night on a failed county or night run (red)."""
    _note(dag_run)
