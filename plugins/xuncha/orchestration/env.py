"""How Xuncha runs Airflow: the environment every Airflow process gets, and the warehouse connection.

Airflow is configured entirely through environment variables (no committed airflow.cfg): AIRFLOW_HOME
inside the project's state folder, DAGs from `dags/`, plugins from `plugins/`, no examples, the
LocalExecutor on the metadata database, and the warehouse as the connection `xuncha_warehouse`
(AIRFLOW_CONN_XUNCHA_WAREHOUSE), built from the warehouse URL so that no secret sits in the repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from xuncha.settings import LOCAL_TIMEZONE, PROJECT_ROOT, WAREHOUSE_CONN_ID, Settings, get_settings


def connection_json(url: str) -> str:
    """Airflow connection (JSON form) for a PostgreSQL SQLAlchemy URL, socket hosts included."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = {
        "conn_type": "postgres",
        "host": u.host or u.query.get("host", ""),
        "login": u.username or "",
        "password": u.password or "",
        "schema": u.database or "",
    }
    if u.port:
        conn["port"] = u.port
    extra = {k: v for k, v in u.query.items() if k != "host"}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


def airflow_environ(settings: Settings | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for any Airflow process (CLI, scheduler, dag.test in a subprocess)."""
    from xuncha.warehouse import db

    settings = settings or get_settings()
    env = dict(os.environ if base is None else base)
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": LOCAL_TIMEZONE,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__API__PORT": "8080",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db.airflow_db_url(settings),
        "AIRFLOW__TRIGGERER__CAPACITY": str(triggerer_capacity(settings)),
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(dag_parse_interval(settings)),
        # Airflow's 5 s kept a finished task's executor slot taken up to 5 s more (docs/operations.md §10).
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
        "XUNCHA_HOME": str(settings.home),
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    conn_var = f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"
    if conn_var not in env:
        env[conn_var] = connection_json(db.warehouse_url(settings))
    # The package lives in plugins/; make it importable for every Airflow process (as the plugins folder is in a deployment).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT / "plugins"), env.get("PYTHONPATH")) if p)
    return env


def _county_count(settings: Settings | None) -> int:
    """How many county systems the registry lists (0 when it cannot be read: a broken registry is reported by the
    DAGs and `xuncha counties`, not here)."""
    from xuncha import registry

    try:
        return len(registry.load((settings or get_settings()).config_dir / "counties.yml").counties)
    except Exception:
        return 0


def triggerer_capacity(settings: Settings | None = None) -> int:
    """[triggerer] capacity for the registry: two triggers per county system (its night waiting, and the next
    night's in a catch-up), at least Airflow's default 1000. One trigger per waiting county (its export or its
    deadline); a triggerer over capacity leaves counties waiting past their deadline (docs/operations.md)."""
    return max(1000, 2 * _county_count(settings))


def dag_parse_interval(settings: Settings | None = None) -> int:
    """[dag_processor] min_file_process_interval, seconds, for the registry: Airflow's 30 s up to 150 county
    systems, then one second per 5 counties (1,000 counties: 200 s). Each parse of dags/xuncha_county.py builds,
    serializes and compares every county's DAG, about 20 ms of CPU per DAG (4 s at 197, measured under the real
    scheduler: docs/performance.md); every 30 s that is a seventh of a core at 197 counties and two thirds at 1,000,
    taken from the loads. The price: a registry edit reaches the UI up to this long later (docs/operations.md §10;
    `xuncha backfill` reserializes a missing or stale county DAG itself)."""
    return max(30, _county_count(settings) // 5)


def apply(settings: Settings | None = None) -> dict[str, str]:
    """Set the Airflow environment in this process (before Airflow is imported), e.g. for dag.test()."""
    env = airflow_environ(settings)
    os.environ.update(env)
    return env


def warehouse_url_from_airflow() -> str:
    """Inside an Airflow task: the warehouse URL from the `xuncha_warehouse` connection.

    Falls back to the process settings (WAREHOUSE_URL or the embedded server) where the connection
    is not defined, e.g. when the library is used outside Airflow.
    """
    from xuncha.warehouse import db

    try:
        from airflow.sdk import Connection

        conn = Connection.get(WAREHOUSE_CONN_ID)
    except Exception:  # not inside Airflow, or the connection is not defined
        return db.warehouse_url()
    from sqlalchemy.engine import URL

    query = {}
    host = conn.host or None
    if host and host.startswith("/"):
        query["host"], host = host, None
    query.update({k: str(v) for k, v in (conn.extra_dejson or {}).items()})
    return URL.create(
        "postgresql+psycopg2",
        username=conn.login or None,
        password=conn.password or None,
        host=host,
        port=conn.port or None,
        database=conn.schema or None,
        query=query,
    ).render_as_string(hide_password=False)


def airflow_bin() -> Path:
    """The `airflow` executable of this Python environment."""
    import sys

    return Path(sys.executable).with_name("airflow")


def run_airflow(args: list[str], settings: Settings | None = None, check: bool = True, quiet: bool = False,
                env: dict[str, str] | None = None, log: Path | None = None):
    """Run the Airflow CLI with Xuncha's environment (plus `env`); output to the terminal, nowhere (`quiet`)
    or a `log` file. Returns the CompletedProcess."""
    import subprocess

    env = airflow_environ(settings) | (env or {})
    sink = log.open("w", encoding="utf-8") if log else (subprocess.DEVNULL if quiet else None)
    try:
        proc = subprocess.run([str(airflow_bin()), *args], env=env, stdout=sink,
                              stderr=subprocess.STDOUT if sink is not None else None, cwd=PROJECT_ROOT)
    finally:
        if log:
            sink.close()
    if check and proc.returncode != 0:
        where = f"; see {log}" if log else ""
        raise RuntimeError(f"`airflow {' '.join(args)}` failed with exit code {proc.returncode}{where}")
    return proc


def init_airflow(settings: Settings | None = None) -> None:
    """Create or upgrade Airflow's metadata database and the pools the DAGs use (idempotent)."""
    run_airflow(["db", "migrate"], settings, quiet=True)
    run_airflow(["pools", "set", "xuncha_ingest", "4", "Concurrent county loads"], settings, quiet=True)


def dags_test(dag_id: str, logical_date: str | None = None, conf: dict | None = None, settings: Settings | None = None,
              env: dict[str, str] | None = None, log: Path | None = None, check: bool = True) -> int:
    """One real DAG run (`airflow dags test`): parses dags/, runs every task; raises if the run fails (`check`),
    else returns the exit code. `logical_date` None: now (the run's dates are the real ones)."""
    args = ["dags", "test", dag_id, *([logical_date] if logical_date else [])]
    if conf:
        args += ["--conf", json.dumps(conf)]
    return run_airflow(args, settings, env=env, log=log, check=check).returncode


def dags_test_many(dag_ids: list[str], logs: Path, conf: dict | None = None, settings: Settings | None = None,
                   env: dict[str, str] | None = None,
                   on_end: Callable[[str, str, str], None] | None = None) -> dict[str, int]:
    """`airflow dags test` of each DAG of `dag_ids`, in that order, in one process (xuncha.orchestration.dag_test_runs:
    Airflow and GX imported once; logical date now), each DAG's output in `logs`/<dag_id>.log (all of it in
    `logs`/dags-test.log); dag_id -> 0 when its run succeeded, else 1. Raises nothing for a failed run.
    `on_end(dag_id, state, note)` is called as each DAG's run ends (its state, e.g. `success`/`failed`, and its run
    note, "" when none), while the next one runs."""
    import subprocess
    import sys

    from xuncha.orchestration import dag_test_runs

    logs.mkdir(parents=True, exist_ok=True)
    out = logs / "dags-test.log"
    with out.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "xuncha.orchestration.dag_test_runs", json.dumps(conf or {}),
                                 *dag_ids], env=airflow_environ(settings) | (env or {}), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, text=True, encoding="utf-8",
                                errors="replace")
        with proc:
            for line in proc.stdout:
                sink.write(line)
                if on_end is not None and (end := dag_test_runs.ended(line)):
                    sink.flush()
                    on_end(*end)
    states = dag_test_runs.split(out, logs)
    return {d: 0 if states.get(d) == "success" else 1 for d in dag_ids}


def county_connection_env(conn_id: str, url: str, token: str) -> dict[str, str]:
    """AIRFLOW_CONN_* for a pulled county system at `url` (http://host:port) with its bearer token."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    conn = {"conn_type": "http", "host": u.hostname, "port": u.port, "schema": u.scheme, "password": token}
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}
