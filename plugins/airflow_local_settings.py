"""Airflow local settings shipped with Xuncha. Airflow imports the module `airflow_local_settings` in every process it
starts (airflow.settings.initialize), from its sys.path, to which Airflow appends `$AIRFLOW_HOME/config` and then the
plugins folder (a file of that name in config/ would shadow this one). It:

- preloads Great Expectations in the processes that fork task processes (xuncha.orchestration.preload);
- installs the LocalCluster's cluster policy (xuncha.orchestration.cluster.hold_schedule) when XUNCHA_CLUSTER_HOLD_SCHEDULE=1,
  which only xuncha.orchestration.cluster.LocalCluster sets (tests and benchmarks).

A deployment that mounts its own airflow_local_settings.py (the Helm chart's `airflowLocalSettings`) should call
`xuncha.orchestration.preload.preload()` there too (docs/operations.md).
"""

import os

from xuncha.orchestration.preload import preload

preload()

if os.environ.get("XUNCHA_CLUSTER_HOLD_SCHEDULE") == "1":
    from xuncha.orchestration.cluster import hold_schedule as dag_policy  # noqa: F401  (Airflow reads this name)
