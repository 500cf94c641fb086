"""Great Expectations is imported once per Airflow worker, before it forks task processes (xuncha.orchestration.preload,
plugins/airflow_local_settings.py); tests/test_scaleout.py shows it in a real Celery worker's task log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xuncha.orchestration.preload import forks_tasks

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


@pytest.mark.parametrize("argv,executor,forks", [
    (["airflow", "scheduler"], "LocalExecutor", True),
    (["airflow", "scheduler"], "CeleryExecutor", False),          # Celery's scheduler only queues
    (["airflow", "celery", "worker", "--celery-hostname", "w1"], "CeleryExecutor", True),
    (["airflow", "dag-processor"], "LocalExecutor", False),
    (["airflow", "api-server"], "LocalExecutor", False),
    (["airflow", "triggerer"], "LocalExecutor", False),
    (["airflow", "dags", "test", "xuncha_county_410325"], "LocalExecutor", False),
])
def test_only_processes_that_fork_tasks_preload(argv, executor, forks):
    assert forks_tasks(argv, executor) is forks


def _fork_after_start(argv: list[str], executor: str, parent: str, child: str) -> None:
    """In a fresh interpreter started as Airflow process `argv` under `executor`: initialise Airflow (which imports
    airflow_local_settings from the plugins folder), run `parent` (Python, may assert), fork, and require the
    expression `child` to be true in the forked process, as in a task the process forks."""
    code = f"""
import os, sys
sys.argv = {argv!r}
import airflow.settings
{parent}
pid = os.fork()
if pid == 0:
    os._exit(0 if ({child}) else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""
    env = dict(os.environ, AIRFLOW__CORE__EXECUTOR=executor, AIRFLOW__CORE__PLUGINS_FOLDER=str(PLUGINS))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_task_forked_from_a_scheduler_has_gx_imported_already():
    """Airflow's own settings start-up imports airflow_local_settings from the plugins folder; a process forked after
    it (as the LocalExecutor forks its workers, and they their tasks) finds GX in sys.modules."""
    _fork_after_start(["airflow", "scheduler"], "LocalExecutor", "from xuncha.validate import gx",
                      'gx.PRELOADED and "great_expectations" in sys.modules')


def test_a_task_forked_from_a_celery_worker_has_the_plugins_loaded_already():
    """A Celery worker (argv `airflow celery worker`) loads Airflow's plugins once when Celery's `worker_init` fires,
    so a task it forks finds the Task SDK's listener manager built and Xuncha's plugin modules imported (each Celery
    task spent 0.6–1.1 s loading them, docs/performance.md), with the heap frozen after. Celery's own signal is sent
    here as the worker sends it (celery.worker.WorkController.setup_instance), before the pool forks."""
    parent = """
from airflow.sdk.listener import get_listener_manager
assert get_listener_manager.cache_info().currsize == 0 and "xuncha_ui" not in sys.modules
from celery.signals import worker_init
import gc
frozen = gc.get_freeze_count()
worker_init.send(sender=None)
assert gc.get_freeze_count() > frozen, "the heap made since GX's import is frozen before the pool forks"
"""
    _fork_after_start(["airflow", "celery", "worker"], "CeleryExecutor", parent,
                      'get_listener_manager.cache_info().currsize == 1 and '
                      '{"xuncha_ui", "xuncha_intake_plugin", "xuncha_run_notes"} <= set(sys.modules)')


def test_gx_is_imported_with_its_heap_frozen_and_the_collector_as_it_was():
    """validate.gx.import_gx: GX's import runs with the cyclic collector paused, then one collection and gc.freeze
    (issue 26, P5): GX's objects end in the permanent generation that later collections skip, the collector is
    enabled again (or left off if it was off), and what is made after the import is collected as usual."""
    code = """
import gc, sys
from xuncha.validate import gx
was = sys.argv[1] == "on"
if not was:
    gc.disable()
gx.import_gx()
assert "great_expectations" in sys.modules
frozen = gc.get_freeze_count()
assert frozen > 100_000, frozen
assert gc.isenabled() is was, gc.isenabled()
class Cycle:
    pass
a, b = Cycle(), Cycle()
a.other, b.other = b, a
del a, b
assert gc.collect() >= 2   # a cycle made after the import is still found
assert gx.import_gx() is sys.modules["great_expectations"] and gc.get_freeze_count() == frozen   # once only
"""
    for state in ("on", "off"):
        proc = subprocess.run([sys.executable, "-c", code, state], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")])))
        assert proc.returncode == 0, (state, proc.stderr[-3000:])
