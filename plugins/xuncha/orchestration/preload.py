"""Great Expectations imported once per Airflow worker, not once per county task.

Airflow 3 runs each task in a process forked from a long-lived one: the LocalExecutor's workers are forked from
the scheduler, and a Celery worker (`airflow celery worker`) forks its pool and then each task. A module imported
there before the fork is already imported in every task. Every county's `ingest` task validates with Great
Expectations, whose import costs 5–16 s on 2 cores (P3s, 2026-11-30: 16 of an ingest task's 17 s on a seed night;
docs/performance.md), so at 197 counties the import alone was most of the night.

Airflow imports the module `airflow_local_settings` in every process it starts (airflow.settings.initialize), from
`$AIRFLOW_HOME/config` or the plugins folder; Xuncha's is `plugins/airflow_local_settings.py`, which calls
`preload()`. Only the import is shared: the GX context (a database engine) is built once per task process
(xuncha.validate.validation.shared_validator), never before a fork.
"""

from __future__ import annotations

import logging
import sys

from xuncha.validate import gx

def forks_tasks(argv: list[str], executor: str) -> bool:
    """Whether the Airflow process started as `argv` forks task processes under `executor` (the [core] executor
    setting): a scheduler running the LocalExecutor, or a Celery worker."""
    if argv[1:3] == ["celery", "worker"]:
        return True
    return argv[1:2] == ["scheduler"] and "LocalExecutor" in executor


def preload(argv: list[str] | None = None) -> bool:
    """Import Great Expectations now if this process forks tasks (forks_tasks); returns whether it did. Never
    raises: a failed preload only means each task imports GX itself."""
    try:
        from airflow.configuration import conf

        if not forks_tasks(sys.argv if argv is None else argv, conf.get("core", "executor", fallback="")):
            return False
        gx.import_gx()   # kept in sys.modules for the forked tasks
        gx.PRELOADED = True
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).warning("Great Expectations not preloaded; each task imports it", exc_info=True)
    return gx.PRELOADED
