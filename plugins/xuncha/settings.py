"""Every setting Xuncha reads, in one place. All come from the environment; README lists them.

Nothing here touches the network or a database: importing it is free.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The checkout: `plugins/xuncha/settings.py` → two levels up. The checkout whose package Python imports, not the
current directory: `.venv/bin/xuncha` of an editable install imports the checkout `pip install -e` was run in."""
SQL_DIR = PROJECT_ROOT / "sql"
"""All SQL: migrations/, load/ (staging → core), marts/."""
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
"""Great Expectations suites, one JSON file per entity."""
LOCAL_TIMEZONE = "Asia/Shanghai"
"""The platform's local time zone: business nights, the expected night, and every time the incidents page, the CLI
and notifications show (xuncha.monitor.findings.local_time, labelled `+08:00`); Airflow's default_timezone too."""


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Every environment variable Xuncha reads, as typed fields (get_settings reads them afresh)."""
    home: Path
    """XUNCHA_HOME: project-local state (embedded database, Airflow home, landing and quarantine areas); unset =
    PROJECT_ROOT/.xuncha, whatever the current directory (`home_line` says which)."""
    pgdata: Path
    """XUNCHA_PGDATA: data directory of the embedded PostgreSQL server."""
    warehouse_url: str | None
    """WAREHOUSE_URL: an external PostgreSQL ≥ 14 for the warehouse, as the loader role; unset = the embedded server."""
    warehouse_owner_url: str | None
    """WAREHOUSE_OWNER_URL: the same server as the role that migrates (owns the schema); unset = WAREHOUSE_URL."""
    airflow_db_url: str | None
    """AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: Airflow's metadata database; unset = database `airflow` of the embedded server."""
    airflow_home: Path
    """AIRFLOW_HOME: Airflow's home (config, logs)."""
    landing: Path
    """XUNCHA_LANDING: where county systems drop their exports (one folder per county code)."""
    quarantine: Path
    """XUNCHA_QUARANTINE: where rejected exports are moved, with their reports."""
    archive: Path
    """XUNCHA_ARCHIVE: where exports go once loaded (or recognised as a re-delivery)."""
    config_dir: Path
    """XUNCHA_CONFIG: folder with counties.yml and metrics.yml."""
    airflow_log_folder: str | None = None
    """AIRFLOW__LOGGING__BASE_LOG_FOLDER: Airflow's task log folder; unset = $AIRFLOW_HOME/logs (xuncha.orchestration.dag_test_logs)."""
    data_docs: str = "failures"
    """XUNCHA_DATA_DOCS: which exports get Great Expectations Data Docs pages: failures (default), all, off."""
    alert_webhook: str | None = None
    """XUNCHA_ALERT_WEBHOOK: a URL every operator alert is also POSTed to as JSON (e.g. a chat robot); unset = none."""
    person_key: str | None = field(default=None, repr=False)
    """XUNCHA_PERSON_KEY: the key person references are hashed with; unset = the Airflow connection
    `xuncha_person_key`, or (embedded default only) a local key file (xuncha.normalize.privacy)."""
    debug: bool = False
    """XUNCHA_DEBUG: any non-empty value makes the CLI show tracebacks instead of one red line."""
    go_live_date: str | None = None
    """XUNCHA_GO_LIVE: the go-live night (YYYY-MM-DD) overriding the one `xuncha setup` recorded (see go_live)."""
    notify_smtp_conn_id: str | None = None
    """XUNCHA_NOTIFY_SMTP_CONN_ID: Airflow connection of the e-mail notifier (unset = xuncha.orchestration.notifications's default)."""
    notify_chat_conn_id: str | None = None
    """XUNCHA_NOTIFY_CHAT_CONN_ID: Airflow connection of the chat-webhook notifier (unset = xuncha.orchestration.notifications's default)."""
    ui_url: str = "http://localhost:8080"
    """XUNCHA_UI_URL: the Airflow UI's address as people reach it; notifications link its pages (quarantine reports,
    incidents) under it."""
    escalate_after_hours: str = "4"
    """XUNCHA_ESCALATE_AFTER_HOURS: hours an incident may stay open unacknowledged before it is escalated (text;
    the health DAG's param `escalate_after_hours` overrides it)."""
    county_endpoints: dict[str, tuple[str | None, str | None]] = field(default_factory=dict, repr=False)
    """XUNCHA_COUNTY_<CODE>_URL / XUNCHA_COUNTY_<CODE>_TOKEN: a pulled county system's URL and token, by code
    (`xuncha setup` turns them into the county's Airflow connection)."""
    airflow_conn_env: frozenset[str] = frozenset()
    """Airflow connection ids defined in the environment (AIRFLOW_CONN_<ID>), lower case."""
    withdraw_hold_share: str = "0.5"
    """XUNCHA_WITHDRAW_HOLD_SHARE: share in (0, 1] of a county's live rows above which a full snapshot's
    withdrawal is held (as text: xuncha.load.guards.hold_share parses and checks it where it is used)."""
    withdraw_hold_min_rows: str = "20"
    """XUNCHA_WITHDRAW_HOLD_MIN_ROWS: rows a withdrawal must reach before the share applies (text; guards parses it)."""
    push_max_bytes: str | None = None
    """XUNCHA_PUSH_MAX_BYTES: largest pushed upload in bytes (text; unset = xuncha.intake.unpack.DEFAULTS)."""
    push_limits: dict[str, str] = field(default_factory=dict)
    """XUNCHA_PUSH_MAX_UNPACKED_BYTES, XUNCHA_PUSH_MAX_FILES, XUNCHA_PUSH_BODY_SECONDS, XUNCHA_PUSH_HEADER_SECONDS,
    XUNCHA_PUSH_MAX_CONNECTIONS: the push intake's other bounds, the set ones only, by variable name (text;
    xuncha.intake.unpack.intake_limits parses them and names the variable of a bad value; docs/security.md)."""
    role_passwords: dict[str, str] = field(default_factory=dict, repr=False)
    """XUNCHA_LOADER_PASSWORD, XUNCHA_READER_PASSWORD, XUNCHA_COUNTY_READER_PASSWORD_<CODE>: warehouse role
    passwords by variable name, the set ones only (xuncha.warehouse.roles.password_var names each role's variable)."""

    @property
    def embedded(self) -> bool:
        """True when the warehouse is the embedded PostgreSQL server (WAREHOUSE_URL unset)."""
        return self.warehouse_url is None


PUSH_LIMIT_VARS = ("XUNCHA_PUSH_MAX_UNPACKED_BYTES", "XUNCHA_PUSH_MAX_FILES", "XUNCHA_PUSH_BODY_SECONDS",
                   "XUNCHA_PUSH_HEADER_SECONDS", "XUNCHA_PUSH_MAX_CONNECTIONS")
"""The push intake's bounds besides XUNCHA_PUSH_MAX_BYTES (Settings.push_limits)."""


def get_settings() -> Settings:
    """The settings as the environment says now (read afresh on every call: cheap, and tests change it)."""
    home = _path("XUNCHA_HOME", PROJECT_ROOT / ".xuncha")
    return Settings(
        home=home,
        pgdata=_path("XUNCHA_PGDATA", home / "pgdata"),
        warehouse_url=os.environ.get("WAREHOUSE_URL") or None,
        warehouse_owner_url=os.environ.get("WAREHOUSE_OWNER_URL") or None,
        airflow_db_url=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or None,
        airflow_home=_path("AIRFLOW_HOME", home / "airflow"),
        airflow_log_folder=os.environ.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER") or None,
        landing=_path("XUNCHA_LANDING", home / "landing"),
        quarantine=_path("XUNCHA_QUARANTINE", home / "quarantine"),
        archive=_path("XUNCHA_ARCHIVE", home / "archive"),
        config_dir=_path("XUNCHA_CONFIG", PROJECT_ROOT / "config"),
        data_docs=os.environ.get("XUNCHA_DATA_DOCS") or "failures",
        alert_webhook=os.environ.get("XUNCHA_ALERT_WEBHOOK") or None,
        person_key=os.environ.get("XUNCHA_PERSON_KEY") or None,
        debug=bool(os.environ.get("XUNCHA_DEBUG")),
        go_live_date=os.environ.get("XUNCHA_GO_LIVE") or None,
        notify_smtp_conn_id=os.environ.get("XUNCHA_NOTIFY_SMTP_CONN_ID") or None,
        notify_chat_conn_id=os.environ.get("XUNCHA_NOTIFY_CHAT_CONN_ID") or None,
        ui_url=(os.environ.get("XUNCHA_UI_URL") or "http://localhost:8080").rstrip("/"),
        escalate_after_hours=os.environ.get("XUNCHA_ESCALATE_AFTER_HOURS") or "4",
        county_endpoints=_county_endpoints(),
        airflow_conn_env=frozenset(k[len("AIRFLOW_CONN_"):].lower() for k in os.environ if k.startswith("AIRFLOW_CONN_")),
        withdraw_hold_share=os.environ.get("XUNCHA_WITHDRAW_HOLD_SHARE", "0.5"),
        withdraw_hold_min_rows=os.environ.get("XUNCHA_WITHDRAW_HOLD_MIN_ROWS", "20"),
        push_max_bytes=os.environ.get("XUNCHA_PUSH_MAX_BYTES"),
        push_limits={k: v for k, v in os.environ.items() if v and k in PUSH_LIMIT_VARS},
        role_passwords={k: v for k, v in os.environ.items() if v and (
            k in ("XUNCHA_LOADER_PASSWORD", "XUNCHA_READER_PASSWORD") or k.startswith("XUNCHA_COUNTY_READER_PASSWORD_"))},
    )


def home_line(settings: Settings | None = None) -> str:
    """The first line of `xuncha setup`, `demo` and `up`: the resolved XUNCHA_HOME and where it comes from, so nobody
    writes into another checkout's state unawares (a venv shared by two checkouts imports the package, and so takes
    the default, from the checkout of its editable install)."""
    home = (settings or get_settings()).home
    if os.environ.get("XUNCHA_HOME"):
        return f"XUNCHA_HOME={home} (from the environment)"
    return (f"XUNCHA_HOME={home} (default: .xuncha in the checkout the xuncha package is imported from, {PROJECT_ROOT}; "
            "the current directory does not matter — set XUNCHA_HOME to choose)")


def _county_endpoints() -> dict[str, tuple[str | None, str | None]]:
    codes = {k.split("_")[2] for k in os.environ
             if k.startswith("XUNCHA_COUNTY_") and k.endswith(("_URL", "_TOKEN")) and len(k.split("_")) == 4}
    return {c: (os.environ.get(f"XUNCHA_COUNTY_{c}_URL") or None, os.environ.get(f"XUNCHA_COUNTY_{c}_TOKEN") or None)
            for c in codes}


GO_LIVE_FILE = "go-live"
"""File in XUNCHA_HOME holding the go-live date `xuncha setup` recorded (YYYY-MM-DD)."""


def go_live(settings: Settings | None = None) -> dt.date:
    """The deployment's go-live date: the first business night the county DAGs schedule, and the first night
    deadlines and missed-export alerts apply to. Nights before it are history, loaded with `xuncha backfill`.

    XUNCHA_GO_LIVE (YYYY-MM-DD) if set, else the date `xuncha setup` recorded in $XUNCHA_HOME/go-live on its first
    run, else today (Asia/Shanghai). Raises ValueError naming the setting for a malformed date.
    """
    settings = settings or get_settings()
    value, where = get_settings().go_live_date, "XUNCHA_GO_LIVE"   # the environment now, as `settings.home` may be older
    if not value:
        path = settings.home / GO_LIVE_FILE
        value, where = (path.read_text(encoding="utf-8").strip(), str(path)) if path.is_file() else (None, "")
    if not value:
        from zoneinfo import ZoneInfo

        return dt.datetime.now(ZoneInfo(LOCAL_TIMEZONE)).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def record_go_live(settings: Settings | None = None) -> dt.date:
    """Fix the go-live date on first set-up (today unless XUNCHA_GO_LIVE says otherwise); later calls keep it."""
    settings = settings or get_settings()
    path = settings.home / GO_LIVE_FILE
    day = go_live(settings)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(day.isoformat() + "\n", encoding="utf-8")
    return day


WAREHOUSE_DB = "xuncha"
AIRFLOW_DB = "airflow"
WAREHOUSE_CONN_ID = "xuncha_warehouse"
"""Airflow connection id of the warehouse (set through AIRFLOW_CONN_XUNCHA_WAREHOUSE)."""


def read_config(path: Path, error: type[Exception], what: str, text: str | None = None):
    """A YAML file of config/, parsed (`text`: its content when the caller has read it already); a missing or
    malformed file raises `error` naming it.

    Parsed by libyaml (PyYAML's CSafeLoader: the same safe types, about 8× faster; a registry of 1,000 counties
    took 0.6 s with the pure-Python loader, docs/performance.md), the pure-Python SafeLoader where PyYAML was built
    without it."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8") if text is None else text
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
