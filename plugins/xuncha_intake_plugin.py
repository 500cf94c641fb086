"""Airflow plugin: the push intake (xuncha.intake.server) served by the Airflow API server at /xuncha-intake.

Its own plugin file, next to any other Xuncha plugin, so each can be enabled or removed alone.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from xuncha.intake import server as intake


class XunchaIntakePlugin(AirflowPlugin):
    name = "xuncha_intake"
    fastapi_apps = [{"app": intake.app(), "url_prefix": "/xuncha-intake", "name": "Xuncha push intake 推送接收"}]
