"""Running the deployment: the Airflow stack on a port, the admin login, pulled counties' connections, backfills.

- `ui_environ(port)`: every setting that follows from the API server's port (AIRFLOW__API__PORT, BASE_URL, the
  Execution API URL the workers call) and a PATH on which Airflow's own subprocesses find `airflow`, so
  `xuncha up` works from a shell where `.venv/bin` is not on PATH.
- `admin_login()`: the SimpleAuthManager user and password (`admin`, password generated once into the file
  AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE names), printed by `make up`.
- `configure_county_connections()`: the Airflow connection of every pulled county (registry `delivery.http`) from
  XUNCHA_COUNTY_<CODE>_URL / XUNCHA_COUNTY_<CODE>_TOKEN, written into Airflow's metadata database by `xuncha setup`
  (an AIRFLOW_CONN_<CONN_ID> in the environment wins, as Airflow's own lookup order says).
- `backfill(first, last, counties)`: history before go-live through Airflow's backfill of each county DAG, bounded,
  longest backlog first (xuncha.orchestration.backfills).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from xuncha.orchestration import env as airflow_env
from xuncha.settings import Settings, get_settings

DEFAULT_PORT = 8080
ADMIN = "admin"
MAX_BACKFILL_NIGHTS = 3700
"""A backfill names its nights; more than a whole term and a half (≈10 years) at once is refused as a typo."""


def ui_environ(port: int = DEFAULT_PORT, settings: Settings | None = None) -> dict[str, str]:
    """The environment of `airflow standalone` serving the UI and API on http://localhost:`port`."""
    if not 1 <= port <= 65535:
        raise ValueError(f"--port {port}: a TCP port is 1-65535")
    env = airflow_env.airflow_environ(settings)
    base = f"http://localhost:{port}"
    env.update({
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": env.get("AIRFLOW__API__HOST", "127.0.0.1"),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
    })
    # `airflow standalone` starts `airflow scheduler`, `airflow api-server`, … by name: put our venv first on PATH.
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, *[p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin]])
    return env


def admin_login(env: dict[str, str]) -> tuple[str, str]:
    """(user, password) of the UI: the password is generated once into the SimpleAuthManager's passwords file."""
    path = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    users = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if ADMIN not in users:
        users[ADMIN] = secrets.token_urlsafe(12)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(users), encoding="utf-8")
        path.chmod(0o600)
    return ADMIN, users[ADMIN]


def connection_fix(code: str) -> str:
    """How a user gives pulled county `code` its Airflow connection: 'set XUNCHA_COUNTY_410325_URL and
    XUNCHA_COUNTY_410325_TOKEN … and run `xuncha setup`' (`configure_county_connections` writes it; `airflow` itself
    is not on the user's PATH). What `xuncha setup` and a county run without its connection say."""
    return (f"set XUNCHA_COUNTY_{code}_URL and XUNCHA_COUNTY_{code}_TOKEN (the county system's address and bearer "
            f"token) and run `xuncha setup`")


@dataclass(frozen=True)
class CountyConnection:
    """A pulled county's Airflow connection as `xuncha setup` left it: county `code`, its `conn_id`
    (delivery.http.conn_id of counties.yml) and `status`."""
    code: str
    conn_id: str
    status: str  # "set" (written from XUNCHA_COUNTY_*), "environment" (AIRFLOW_CONN_* given), "missing"


def configure_county_connections(settings: Settings | None = None) -> list[CountyConnection]:
    """Write each pulled county's Airflow connection from XUNCHA_COUNTY_<CODE>_URL and _TOKEN (idempotent).

    Returns one entry per pulled county; `missing` ones have neither the two settings nor an AIRFLOW_CONN_*
    and fail their own county's night with a message naming what to set.
    """
    import subprocess

    from xuncha import registry

    settings = settings or get_settings()
    out = []
    listed = subprocess.run([str(airflow_env.airflow_bin()), "connections", "list", "-o", "json"],
                            env=airflow_env.airflow_environ(settings), capture_output=True, text=True)
    try:
        known = {c.get("conn_id") for c in json.loads(listed.stdout or "[]")}
    except ValueError:
        known = set()
    for county in registry.default().counties:
        if not county.pulled:
            continue
        conn_id = county.delivery["http"]["conn_id"]
        url, token = settings.county_endpoints.get(county.code, (None, None))
        if url and token:
            conn = json.loads(next(iter(airflow_env.county_connection_env(conn_id, url, token).values())))
            airflow_env.run_airflow(["connections", "delete", conn_id], settings, check=False, quiet=True)
            airflow_env.run_airflow(["connections", "add", conn_id, "--conn-json", json.dumps(conn)], settings, quiet=True)
            out.append(CountyConnection(county.code, conn_id, "set"))
        elif conn_id.lower() in settings.airflow_conn_env:
            out.append(CountyConnection(county.code, conn_id, "environment"))
        else:
            out.append(CountyConnection(county.code, conn_id, "set" if conn_id in known else "missing"))
    return out


def backfill_window(first: dt.date, last: dt.date, timezone: str = "Asia/Shanghai") -> tuple[str, str]:
    """Logical dates (ISO) of the nightly runs covering business nights `first` … `last`: night D runs at D+1 03:00.

    Raises ValueError for an empty, future or over-long window."""
    from zoneinfo import ZoneInfo

    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    today = dt.datetime.now(ZoneInfo(timezone)).date()
    if last >= today:
        raise ValueError(f"--to {last}: only finished nights can be backfilled (the last is {today - dt.timedelta(days=1)})")
    if (last - first).days + 1 > MAX_BACKFILL_NIGHTS:
        raise ValueError(f"{(last - first).days + 1} nights at once: a backfill is bounded to {MAX_BACKFILL_NIGHTS}")
    tz = ZoneInfo(timezone)
    start = dt.datetime.combine(first + dt.timedelta(days=1), dt.time(0), tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(23, 59), tz)
    return start.isoformat(), end.isoformat()


def backfill(first: dt.date, last: dt.date, dry_run: bool = False, max_active_runs: int = 1,
             settings: Settings | None = None, counties: list[str] | None = None, queue_while_paused: bool = False):
    """Create Airflow backfills of the county DAGs (`counties`: codes; None: every county active in the window) for
    business nights `first` … `last`, longest backlog first (xuncha.orchestration.backfills); the scheduler runs
    them, each county's nights oldest first; paused county DAGs are skipped unless `queue_while_paused`
    (backfills.create). Returns the CompletedProcess (stdout: JSON, one entry per county DAG).
    Raises ValueError for a bad window, KeyError for an unknown county."""
    import subprocess

    from xuncha import registry
    from xuncha.orchestration import backfills, nightly

    start, end = backfill_window(first, last)
    codes = backfills.order(registry.load(), first, last, counties)
    env = airflow_env.airflow_environ(settings)
    if needs_reserialize([nightly.county_dag_id(c) for c in codes], settings):   # the backfill reads the stored DAGs
        airflow_env.run_airflow(["dags", "reserialize"], settings, quiet=True)
    args = [sys.executable, "-m", "xuncha.orchestration.backfills", start, end, *codes,
            "--max-active-runs", str(max_active_runs)] + (["--dry-run"] if dry_run else []) \
        + (["--queue-while-paused"] if queue_while_paused else [])
    return subprocess.run(args, env=env, capture_output=True, text=True)


DAG_SOURCES = ("dags/xuncha_county.py", "plugins/xuncha/orchestration/county_dags.py")
"""The files a county DAG is built from besides the registry (counties.yml): a change to one makes stored DAGs old."""


def needs_reserialize(dag_ids: list[str], settings: Settings | None = None) -> bool:
    """Must `airflow dags reserialize` run before a backfill of `dag_ids`? True when one of them is not an active DAG in
    Airflow's metadata database or one was last parsed before counties.yml or DAG_SOURCES last changed. Reserializing
    every time was 8 s of a 13 s `xuncha backfill --dry-run` for 17 counties (issue 23's trial measured 24 s)."""
    from xuncha.settings import PROJECT_ROOT
    from xuncha.warehouse import db

    settings = settings or get_settings()
    sources = (settings.config_dir / "counties.yml", *(PROJECT_ROOT / f for f in DAG_SOURCES))
    changed = max(p.stat().st_mtime for p in sources)
    with db.connect(db.airflow_db_url(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), min(last_parsed_time) FROM dag WHERE dag_id = ANY(%s) AND NOT is_stale",
                    (sorted(set(dag_ids)),))
        found, oldest = cur.fetchone()
    return found < len(set(dag_ids)) or oldest is None or oldest.timestamp() < changed


def paused_trigger(args: list[str], settings: Settings | None = None) -> str | None:
    """Why `airflow <args>` must not run: for `dags trigger DAG_ID …` of a paused DAG, the sentence saying so and how
    to go on (a manual run of a paused DAG waits `queued` until it is unpaused, and Airflow's CLI says nothing: issue
    23's trial); None otherwise (other commands, an unknown DAG: Airflow's CLI answers). Reads `dag.is_paused` from
    Airflow's metadata database (xuncha.warehouse.db.airflow_db_url)."""
    from xuncha.warehouse import db

    if args[:2] != ["dags", "trigger"]:
        return None
    dag_id = next((a for a in args[2:] if not a.startswith("-")), None)
    if dag_id is None:
        return None
    with db.connect(db.airflow_db_url(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT is_paused FROM dag WHERE dag_id = %s", (dag_id,))
        row = cur.fetchone()
    if not row or not row[0]:
        return None
    return (f"{dag_id} is paused: its run would wait queued until it is unpaused. Unpause it with "
            f"`xuncha airflow dags unpause {dag_id}` (or the switch in the UI) and trigger again, "
            f"or trigger it anyway with `xuncha airflow dags trigger … --queue-while-paused`")
