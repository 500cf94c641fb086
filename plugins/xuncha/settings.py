"""Every setting Xuncha reads, in one place. All come from the environment; README lists them.

Nothing here touches the network or a database: importing it is free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The checkout: `plugins/xuncha/settings.py` → two levels up."""
SQL_DIR = PROJECT_ROOT / "sql"
"""All SQL: migrations/, load/ (staging → core), marts/."""
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
"""Great Expectations suites, one JSON file per entity."""


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    home: Path
    """XUNCHA_HOME: project-local state (embedded database, Airflow home, landing and quarantine areas)."""
    pgdata: Path
    """XUNCHA_PGDATA: data directory of the embedded PostgreSQL server."""
    warehouse_url: str | None
    """WAREHOUSE_URL: an external PostgreSQL ≥ 14 for the warehouse; unset = the embedded server."""
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
    data_docs: str = "failures"
    """XUNCHA_DATA_DOCS: which exports get Great Expectations Data Docs pages: failures (default), all, off."""
    alert_webhook: str | None = None
    """XUNCHA_ALERT_WEBHOOK: a URL every operator alert is also POSTed to as JSON (e.g. a chat robot); unset = none."""
    person_key: str | None = field(default=None, repr=False)
    """XUNCHA_PERSON_KEY: the key person references are hashed with; unset = the Airflow connection
    `xuncha_person_key`, or (embedded default only) a local key file (xuncha.privacy)."""
    debug: bool = False
    """XUNCHA_DEBUG: any non-empty value makes the CLI show tracebacks instead of one red line."""

    @property
    def embedded(self) -> bool:
        """True when the warehouse is the embedded PostgreSQL server (WAREHOUSE_URL unset)."""
        return self.warehouse_url is None


def get_settings() -> Settings:
    """The settings as the environment says now (read afresh on every call: cheap, and tests change it)."""
    home = _path("XUNCHA_HOME", PROJECT_ROOT / ".xuncha")
    return Settings(
        home=home,
        pgdata=_path("XUNCHA_PGDATA", home / "pgdata"),
        warehouse_url=os.environ.get("WAREHOUSE_URL") or None,
        airflow_db_url=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or None,
        airflow_home=_path("AIRFLOW_HOME", home / "airflow"),
        landing=_path("XUNCHA_LANDING", home / "landing"),
        quarantine=_path("XUNCHA_QUARANTINE", home / "quarantine"),
        archive=_path("XUNCHA_ARCHIVE", home / "archive"),
        config_dir=_path("XUNCHA_CONFIG", PROJECT_ROOT / "config"),
        data_docs=os.environ.get("XUNCHA_DATA_DOCS") or "failures",
        alert_webhook=os.environ.get("XUNCHA_ALERT_WEBHOOK") or None,
        person_key=os.environ.get("XUNCHA_PERSON_KEY") or None,
        debug=bool(os.environ.get("XUNCHA_DEBUG")),
    )


WAREHOUSE_DB = "xuncha"
AIRFLOW_DB = "airflow"
WAREHOUSE_CONN_ID = "xuncha_warehouse"
"""Airflow connection id of the warehouse (set through AIRFLOW_CONN_XUNCHA_WAREHOUSE)."""


def read_config(path: Path, error: type[Exception], what: str):
    """A YAML file of config/, parsed; a missing or malformed file raises `error` naming it."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
