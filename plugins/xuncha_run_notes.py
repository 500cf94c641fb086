"""Airflow plugin: a note on each finished xuncha_nightly run saying, per county, what the night loaded,
quarantined or missed (xuncha.orchestration.run_notes)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from xuncha.orchestration import run_notes


class XunchaRunNotesPlugin(AirflowPlugin):
    name = "xuncha_run_notes"
    listeners = [run_notes]
