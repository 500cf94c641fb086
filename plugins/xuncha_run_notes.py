"""Airflow plugin: a note on each finished county DAG run (the nights it took in, loaded, quarantined, missed) and
xuncha_night run (each county's state) (xuncha.orchestration.run_notes)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from xuncha.orchestration import run_notes


class XunchaRunNotesPlugin(AirflowPlugin):
    name = "xuncha_run_notes"
    listeners = [run_notes]
