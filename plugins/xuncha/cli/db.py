"""`xuncha db …`: the warehouse database — embedded server, migrations, URLs per role."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from xuncha.cli import console, db_app, err, friendly


@db_app.command("start")
@friendly
def db_start():
    """Start the embedded PostgreSQL server (created on first use; a no-op if running)."""
    from xuncha.warehouse import embedded
    from xuncha.settings import get_settings

    if not get_settings().embedded:
        err.print("WAREHOUSE_URL is set: the embedded server is not used.")
        raise typer.Exit(1)
    st = embedded.start()
    console.print(f"embedded PostgreSQL running (pid {st.pid}), data in {st.pgdata}")


@db_app.command("stop")
@friendly
def db_stop():
    """`make down`: stop what `make up` may have left running (its Airflow services, found by this AIRFLOW_HOME;
    xuncha.orchestration.stack.stop_services), then the embedded server cleanly (data is kept), saying each step."""
    import time

    from xuncha.orchestration import stack
    from xuncha.settings import get_settings
    from xuncha.warehouse import embedded

    started, s = time.monotonic(), get_settings()
    if not stack.stop_services(str(s.airflow_home), lambda line: console.print(line)):
        console.print("Airflow: no service of this checkout running")
    st = embedded.status(s)
    if not st.running:
        console.print(f"embedded PostgreSQL: not running ({st.pgdata})")
        return
    sessions = embedded.sessions(st)
    console.print(f"stopping the embedded PostgreSQL (pid {st.pid}, data kept in {st.pgdata}): fast shutdown"
                  + (f", ending {sessions} open session(s)" if sessions else "") + ", then its checkpoint …")
    embedded.stop(s)
    console.print(f"stopped in {time.monotonic() - started:.0f} s")


@db_app.command("status")
@friendly
def db_status():
    """Where the warehouse is, whether it runs, which migrations are applied (exit 1 if it is down), and which
    notification channels are configured (the line `xuncha up` prints)."""
    from xuncha.warehouse import db
    from xuncha.warehouse import embedded
    from xuncha.warehouse import migrate
    from xuncha.settings import get_settings

    s = get_settings()
    if s.embedded:
        st = embedded.status(s)
        console.print(f"embedded server: {'running, pid ' + str(st.pid) if st.running else 'stopped'} ({st.pgdata})")
        if not st.running:
            raise typer.Exit(1)
    url = db.warehouse_url(s, start_embedded=False)
    console.print(f"warehouse: {db.redacted(url)}")
    with db.connect(db.owner_url(s, start_embedded=False)) as conn:
        done = migrate.applied(conn)
    pending = [m.path.name for m in migrate.discover() if m.version not in done]
    console.print(f"migrations applied: {len(done)}; pending: {', '.join(pending) or 'none'}")
    _notifications(s)


def _notifications(settings) -> None:
    """The notification line of `xuncha up` (xuncha.orchestration.notifications.status_line), Airflow's
    environment applied so its connections are found."""
    from xuncha import registry
    from xuncha.orchestration import env as airflow_env

    airflow_env.apply(settings)
    from xuncha.orchestration import notifications

    on, line = notifications.status_line(registry.default())
    (console if on else err).print(line if on else f"[bold yellow]{line}[/]", soft_wrap=True)


@db_app.command("url")
@friendly
def db_url(reader: Annotated[bool, typer.Option("--reader", help="The report consumers' role xuncha_reader (mart only).")] = False,
           county: Annotated[Optional[str], typer.Option(help="That county's reader (its own mart rows).")] = None,
           owner: Annotated[bool, typer.Option("--owner", help="The role that migrates.")] = False,
           fmt: Annotated[Optional[str], typer.Option("--format", help="Print only one URL: `psql` (libpq, for psql and "
                                                      "BI tools) or `sqlalchemy` (pandas, Python).")] = None):
    """Print a warehouse URL: the loader's (the pipeline's) SQLAlchemy URL by default (starts the embedded server if
    needed). For a reader (--reader, --county) both, each named: `psql` (psql "postgresql://…") and `sqlalchemy`;
    `--format psql` prints the psql one alone, for `psql "$(xuncha db url --reader --format psql)"`."""
    from xuncha.warehouse import db

    url = db.owner_url() if owner else db.reader_url(county=county) if reader or county else db.warehouse_url()
    if fmt not in (None, "psql", "sqlalchemy"):
        raise ValueError(f"--format {fmt!r}: use psql or sqlalchemy")
    if fmt == "psql":
        print(db.libpq_url(url))
    elif fmt == "sqlalchemy" or not (reader or county):
        print(url)
    else:
        print(f"psql        {db.libpq_url(url)}")
        print(f"sqlalchemy  {url}")


@db_app.command("migrate")
@friendly
def db_migrate():
    """Apply pending warehouse migrations (sql/migrations); running it again is a no-op."""
    from xuncha.warehouse import migrate

    done = migrate.migrate(say=lambda line: err.print(f"[yellow]{line}[/]", soft_wrap=True))
    console.print("applied: " + ", ".join(m.path.name for m in done) if done else "warehouse schema is up to date")
