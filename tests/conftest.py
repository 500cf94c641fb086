"""Test fixtures: a real PostgreSQL server started by the suite, real Airflow, real files.

The suite never touches the developer's own state: XUNCHA_HOME points at a temporary folder, where
the embedded server (PostgreSQL 18 from PyPI) is created for the session and deleted afterwards.
Set XUNCHA_TEST_WAREHOUSE_URL to run the warehouse tests against another PostgreSQL (≥ 14) instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

_HOME = None


def pytest_configure(config):
    global _HOME
    import tempfile

    # Short path: PostgreSQL's Unix socket path must stay under ~100 bytes.
    _HOME = Path(tempfile.mkdtemp(prefix="xuncha-test-"))
    os.environ["XUNCHA_HOME"] = str(_HOME)
    os.environ.pop("AIRFLOW_HOME", None)
    os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    os.environ.pop("AIRFLOW_CONN_XUNCHA_WAREHOUSE", None)
    os.environ["XUNCHA_PERSON_KEY"] = "test-person-key-0123456789abcdef"
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    # The suite's deployment went live with the term (its tests replay 2016-2021 nights); tests of the go-live rule set their own.
    os.environ["XUNCHA_GO_LIVE"] = "2016-10-01"
    if os.environ.get("XUNCHA_TEST_WAREHOUSE_URL"):
        os.environ["WAREHOUSE_URL"] = os.environ["XUNCHA_TEST_WAREHOUSE_URL"]
    else:
        os.environ.pop("WAREHOUSE_URL", None)


def pytest_unconfigure(config):
    from xuncha.warehouse import embedded

    try:
        embedded.stop()
    finally:
        if _HOME is not None:
            shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def settings():
    from xuncha.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def warehouse(settings) -> str:
    """URL of a migrated warehouse on a server the suite started, as its owner (tests reset tables with it; the
    pipeline's own default, db.warehouse_url(), is the loader role)."""
    from xuncha.warehouse import db
    from xuncha.warehouse import migrate

    url = db.owner_url(settings)
    if not os.environ.get("XUNCHA_TEST_WAREHOUSE_URL"):
        # The suite's own throwaway server: PostgreSQL's non-durable settings (docs, "Non-Durable Settings"). Only an
        # operating-system crash could lose data with them; killed clients and stopped servers behave as before.
        with db.connect(url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("ALTER SYSTEM SET fsync = off")
            cur.execute("ALTER SYSTEM SET full_page_writes = off")
            cur.execute("SELECT pg_reload_conf()")
    migrate.migrate(url)
    return url


TABLES_TO_RESET = ("audit.batches, audit.batch_files, audit.batch_reach, audit.validation_results, audit.watermarks, audit.deadline_misses, "
                   "audit.alerts, audit.notifications, audit.incidents")


@pytest.fixture
def clean(warehouse, settings):
    """An empty warehouse and empty landing/archive/quarantine areas for one test; after it, core.finding_tally
    must equal core.findings counted (TALLY_DRIFT), whatever the test loaded."""
    from xuncha.warehouse import db
    from xuncha.spec import ENTITY_ORDER

    tables = [f"core.{e}" for e in ENTITY_ORDER] + [f"history.{e}" for e in ENTITY_ORDER] + ["mart.findings_by_category"]
    with db.connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)}, {TABLES_TO_RESET}")
    for area in (settings.landing, settings.archive, settings.quarantine):
        shutil.rmtree(area, ignore_errors=True)
        area.mkdir(parents=True)
    yield warehouse
    # core.finding_tally is kept by triggers (migration 0170): whatever the test wrote, it must equal core counted
    drift = query(warehouse, TALLY_DRIFT)
    assert not drift, f"core.finding_tally differs from core.findings counted (group, tally, core): {drift[:5]}"


TALLY_DRIFT = """
    SELECT coalesce(t.county_code, c.county_code), coalesce(t.inspection_id, c.inspection_id), t.findings, c.n
      FROM core.finding_tally t
      FULL JOIN (SELECT county_code, inspection_id, category, found_date,
                        (updated_at AT TIME ZONE 'Asia/Shanghai')::date AS from_day, count(*) AS n
                   FROM core.findings WHERE withdrawn_at IS NULL GROUP BY 1, 2, 3, 4, 5) c
        USING (county_code, inspection_id, category, found_date, from_day)
     WHERE t.findings IS DISTINCT FROM c.n"""


@pytest.fixture
def fresh_db(warehouse):
    """A brand-new empty database on the suite's server (no migration applied); its URL. Dropped afterwards."""
    from sqlalchemy.engine import make_url

    from xuncha.warehouse import db

    name = "xuncha_fresh_test"
    with db.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")
    yield make_url(warehouse).set(database=name).render_as_string(hide_password=False)
    with db.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def airflow_ready(warehouse, settings):
    """Airflow's metadata database migrated on the suite's server (once per session)."""
    from xuncha.orchestration import env as airflow_env

    airflow_env.init_airflow(settings)
    return settings


def query(url: str, sql: str, params=None) -> list[tuple]:
    from xuncha.warehouse import db

    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def row_counts(url: str) -> dict[str, int]:
    from xuncha.spec import ENTITY_ORDER

    counts = {}
    for schema in ("core", "history"):
        for e in ENTITY_ORDER:
            counts[f"{schema}.{e}"] = query(url, f"SELECT count(*) FROM {schema}.{e}")[0][0]
    counts["mart.findings_by_category"] = query(url, "SELECT count(*) FROM mart.findings_by_category")[0][0]
    return counts


@pytest.fixture
def chat_robot():
    """A loopback stand-in for a DingTalk/WeCom robot webhook (the edge of a network we don't own): keeps each POST."""
    got: list[dict] = []

    class Robot(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            got.append({"path": self.path, "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"errcode": 0}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Robot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/robot/send?access_token=t0"
    yield {"AIRFLOW_CONN_XUNCHA_NOTIFY_CHAT": json.dumps({"conn_type": "http", "host": url})}, got
    server.shutdown()


def config_with_units(tmp_path: Path, units) -> str:
    """A copy of config/ under `tmp_path` whose counties.yml lists only the county systems `units` (codes); its path,
    for XUNCHA_CONFIG (the real-scheduler tests run a few counties, not the registry's 17)."""
    from xuncha.settings import PROJECT_ROOT

    d = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", d)
    entry = re.compile(r'\s+- \{code: "(\d+)"')
    lines = (d / "counties.yml").read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "counties.yml").write_text("".join(l for l in lines if not entry.match(l) or entry.match(l)[1] in units),
                                    encoding="utf-8")
    return str(d)
