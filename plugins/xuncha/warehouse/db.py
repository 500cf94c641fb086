"""Where the warehouse is, and connections to it.

`warehouse_url()` is the one answer to "which PostgreSQL, as whom?" for the pipeline: WAREHOUSE_URL when set,
otherwise the embedded server (started on demand) as the loader role `xuncha_loader` (migration 0040). Inside
Airflow tasks the URL comes from the Airflow connection `xuncha_warehouse` instead (see xuncha.orchestration.env), so
secrets never live in DAG files. `owner_url()` is the role that migrates (WAREHOUSE_OWNER_URL, else
WAREHOUSE_URL; the embedded server's `postgres`); `reader_url()` / `reader_url(county=…)` are for consumers.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from xuncha.settings import AIRFLOW_DB, WAREHOUSE_DB, Settings, get_settings


def normalise_url(url: str) -> str:
    """Force the psycopg2 driver: under SQLAlchemy 2.1 a bare postgresql:// means psycopg 3."""
    for prefix in ("postgresql+psycopg2://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]!r} (expected postgresql+psycopg2://...)")


def warehouse_url(settings: Settings | None = None, start_embedded: bool = True) -> str:
    """The pipeline's URL: WAREHOUSE_URL (the loader's login on an external server), else the embedded server as
    `xuncha_loader` (password, if any, from XUNCHA_LOADER_PASSWORD)."""
    settings = settings or get_settings()
    if settings.warehouse_url:
        return normalise_url(settings.warehouse_url)
    from xuncha.warehouse import roles

    return roles.role_url(owner_url(settings, start_embedded), roles.LOADER)


def owner_url(settings: Settings | None = None, start_embedded: bool = True) -> str:
    """The URL that migrates (owns the schema): WAREHOUSE_OWNER_URL, else WAREHOUSE_URL, else the embedded server's
    superuser `postgres` over its Unix socket."""
    settings = settings or get_settings()
    if settings.warehouse_owner_url or settings.warehouse_url:
        return normalise_url(settings.warehouse_owner_url or settings.warehouse_url)
    from xuncha.warehouse import embedded

    st = embedded.start(settings) if start_embedded else embedded.status(settings)
    if not st.running:
        raise RuntimeError("the embedded PostgreSQL server is not running: run `xuncha db start`")
    return st.url(WAREHOUSE_DB)


def reader_url(settings: Settings | None = None, county: str | None = None) -> str:
    """URL for report consumers: `xuncha_reader` (every mart row), or with `county` that county's reader
    `xuncha_county_<code>` (its own rows and its predecessors'). Password from XUNCHA_READER_PASSWORD /
    XUNCHA_COUNTY_READER_PASSWORD_<code>; host and database those of the loader's URL."""
    from xuncha.warehouse import roles

    return roles.role_url(warehouse_url(settings), roles.county_role(county) if county else roles.READER)


def airflow_db_url(settings: Settings | None = None) -> str:
    """Airflow's metadata database URL: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, else database `airflow` of the
    embedded server (started if needed)."""
    settings = settings or get_settings()
    if settings.airflow_db_url:
        return settings.airflow_db_url
    from xuncha.warehouse import embedded

    return embedded.start(settings).url(AIRFLOW_DB)


def dsn(url: str) -> str:
    """libpq connection string for psycopg2 from a SQLAlchemy URL (keeps socket hosts and passwords intact)."""
    from sqlalchemy.engine import make_url

    u = make_url(normalise_url(url))
    parts = {
        "dbname": u.database,
        "user": u.username,
        "password": u.password,
        "host": u.host or u.query.get("host"),
        "port": u.port,
    }
    for key, value in u.query.items():
        if key != "host":
            parts[key] = value
    return " ".join(f"{k}='{_escape(str(v))}'" for k, v in parts.items() if v not in (None, ""))


def libpq_url(url: str) -> str:
    """`url` (SQLAlchemy, postgresql+psycopg2://…) as a libpq URI (postgresql://…) that psql, pg_dump and BI tools
    take as is: same user, password, host (a Unix-socket directory stays in ?host=), port, database and options."""
    from sqlalchemy.engine import make_url

    u = make_url(normalise_url(url)).set(drivername="postgresql")
    return (u if u.password else u._replace(password=None)).render_as_string(hide_password=False)  # no bare "user:@"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


@contextmanager
def connect(url: str | None = None, autocommit: bool = False) -> Iterator["psycopg2.extensions.connection"]:  # noqa: F821
    """A psycopg2 connection (the loader needs its COPY support); commits on success, rolls back on error."""
    import psycopg2

    conn = psycopg2.connect(dsn(url or warehouse_url()), application_name="xuncha")
    conn.autocommit = autocommit
    try:
        yield conn
        if not autocommit:
            conn.commit()
    except BaseException:
        if not autocommit:
            conn.rollback()
        raise
    finally:
        conn.close()


def redacted(url: str) -> str:
    """The URL with its password hidden, for printing."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return u.render_as_string(hide_password=bool(u.password))
