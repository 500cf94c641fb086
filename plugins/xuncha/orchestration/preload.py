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

Airflow's plugins too: every task process asks for the Task SDK's listener manager before it parses its DAG
(`airflow.sdk.listener.get_listener_manager`, task_runner.startup), which loads the plugins folder once per process:
Xuncha's UI and push-intake plugins import FastAPI, Starlette and their apps. A LocalExecutor's scheduler has loaded
them before it forks; a Celery worker had not, so each Celery task spent 0.6–1.1 s loading them (P3s, 2026-12-07,
docs/performance.md). A Celery worker now loads them once, in its main process when Celery's `worker_init` fires
(Airflow is initialised by then, and the pool is not yet forked).
"""

from __future__ import annotations

import logging
import sys

from xuncha.validate import gx

def forks_tasks(argv: list[str], executor: str) -> bool:
    """Whether the Airflow process started as `argv` forks task processes under `executor` (the [core] executor
    setting): a scheduler running the LocalExecutor, or a Celery worker."""
    if argv_is_celery_worker(argv):
        return True
    return argv[1:2] == ["scheduler"] and "LocalExecutor" in executor


def argv_is_celery_worker(argv: list[str]) -> bool:
    """Whether `argv` starts a Celery worker (`airflow celery worker …`)."""
    return argv[1:3] == ["celery", "worker"]


def load_plugins(**_signal) -> None:
    """Load Airflow's plugins the way a task process does (the Task SDK's listener manager, cached per process), so the
    tasks a Celery worker forks find them loaded, then collect once and freeze the heap (`gc.freeze`, as
    validate.gx.import_gx does after GX's import): what Celery, Airflow and the plugins made since is skipped by
    the collections of every forked task, as Python's documentation advises right before `fork()`. Connected to
    Celery's `worker_init` signal by `preload`; never raises (a task then loads them itself)."""
    try:
        import gc

        from airflow.sdk.listener import get_listener_manager

        get_listener_manager()
        gc.collect()
        gc.freeze()
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).warning("Airflow plugins not preloaded; each task loads them", exc_info=True)


def preload(argv: list[str] | None = None) -> bool:
    """Import Great Expectations now if this process forks tasks (forks_tasks), and in a Celery worker have Airflow's
    plugins loaded when Celery's `worker_init` fires (load_plugins); returns whether GX was imported. Never raises: a
    failed preload only means each task imports GX (or loads the plugins) itself."""
    argv = sys.argv if argv is None else argv
    try:
        from airflow.configuration import conf

        if not forks_tasks(argv, conf.get("core", "executor", fallback="")):
            return False
        gx.import_gx()   # kept in sys.modules for the forked tasks
        gx.PRELOADED = True
        if argv_is_celery_worker(argv):
            from celery.signals import worker_init

            worker_init.connect(load_plugins, weak=False)
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).warning("Great Expectations not preloaded; each task imports it", exc_info=True)
    return gx.PRELOADED
