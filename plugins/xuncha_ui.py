"""Airflow UI plugin: the report 巡察工作数据报告 and the quarantine reports, inside the Airflow 3 UI.

A FastAPI app on the api-server at /xuncha (xuncha.orchestration.ui), and two navigation entries rendering its pages in
the UI (external views with a `url_route`: the UI frames `href` at /plugin/<url_route>). Airflow loads this file
from its plugins folder (plugins/, where `.airflowignore` keeps the xuncha package itself out of plugin discovery).
"""

from airflow.plugins_manager import AirflowPlugin

from xuncha.orchestration.ui import PREFIX, app


class XunchaReportsPlugin(AirflowPlugin):
    name = "xuncha_reports"
    fastapi_apps = [{"app": app, "url_prefix": PREFIX, "name": "巡察报告 Xuncha reports"}]
    external_views = [
        {"name": "巡察报告 Report", "href": f"{PREFIX}/report", "url_route": "xuncha-report", "destination": "nav",
         "icon": f"{PREFIX}/icon.svg", "nav_top_level": True},
        {"name": "隔离报告 Quarantine", "href": f"{PREFIX}/quarantine", "url_route": "xuncha-quarantine",
         "destination": "nav", "category": "browse"},
        {"name": "事件与县区状态 Incidents", "href": f"{PREFIX}/incidents", "url_route": "xuncha-incidents",
         "destination": "nav", "category": "browse"},
    ]
