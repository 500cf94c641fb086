"""Airflow local settings shipped with Xuncha: Airflow imports this module in every process it starts (the plugins
folder is on its sys.path). It preloads Great Expectations in the processes that fork task processes
(xuncha.preload). A deployment with its own `$AIRFLOW_HOME/config/airflow_local_settings.py` shadows this file and
should call `xuncha.preload.preload()` there too."""

from xuncha.preload import preload

preload()
