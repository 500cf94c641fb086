"""`xuncha up` (the Airflow stack on a port) and `xuncha backfill` (history before go-live, bounded)."""

from __future__ import annotations

from typing import Annotated

import typer

from xuncha.cli import _date, app, console, err, friendly


READY_TIMEOUT = 300.0
"""How long `xuncha up` waits for the API server to answer before saying it did not (seconds; its first start on 2
busy cores took about 45 s)."""


@app.command()
@friendly
def up(port: Annotated[int, typer.Option(help="Port of the Airflow UI and API (every URL that follows from it is set).")] = 8080):
    """Start Airflow (scheduler, dag-processor, triggerer, API server) on http://localhost:PORT; works from any shell.

    Prints the address and login once the API server answers (/api/v2/monitor/health). Ctrl-C, SIGTERM or `make down`
    (from another shell) stops every process it started (xuncha.orchestration.stack.supervise) and exits 0 with a
    `stopped` line; a real failure exits non-zero."""
    from xuncha.orchestration import env as airflow_env
    from xuncha.orchestration import deployment, stack
    from xuncha.cli import setup
    from xuncha.settings import get_settings, go_live

    setup()
    env = deployment.ui_environ(port)
    user, password = deployment.admin_login(env)
    base = f"http://localhost:{port}"
    console.print(f"AIRFLOW_HOME={get_settings().airflow_home}; each county's DAG runs from go-live {go_live()} "
                  "(unpause the county DAGs, xuncha_night and xuncha_marts in the UI; earlier nights: xuncha backfill).", soft_wrap=True)
    _notification_line(env)
    console.print(f"starting Airflow (scheduler, dag-processor, triggerer, API server) on {base} … (about a minute)")

    def ready(waited: float) -> None:
        console.print(f"Airflow UI: [bold]{base}[/]  login: [bold]{user}[/] / [bold]{password}[/]  "
                      f"(kept in {env['AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE']}; up after {waited:.0f} s). "
                      "Stop with Ctrl-C.", soft_wrap=True)

    def late(waited: float) -> None:
        err.print(f"[bold yellow]the API server did not answer {base}/api/v2/monitor/health within {waited:.0f} s[/]; "
                  f"its log: {get_settings().airflow_home / 'logs'} (Ctrl-C stops everything)", soft_wrap=True)

    stack.wait_until_answers(f"{base}/api/v2/monitor/health", READY_TIMEOUT, ready, late)
    # Not exec: standalone ignores Ctrl-C (its components die, it sleeps on with zombies); the supervisor stops all.
    with stack.foreground():   # `make down` finds this process by the pid file and stops it as Ctrl-C does
        code = stack.supervise([str(airflow_env.airflow_bin()), "standalone"], env,
                               pidfile=get_settings().airflow_home / stack.PIDFILE)
    if code in stack.STOP_STATUSES:   # Ctrl-C, SIGTERM (make down), SIGHUP: a stop asked for, not a failure
        console.print("stopped: every Airflow process it started (the embedded PostgreSQL keeps running; make down stops it)")
    raise typer.Exit(stack.shell_status(code))


def _notification_line(env: dict[str, str]) -> None:
    """Print one line saying which notification channels are configured and to whom, or that none is (then on
    stderr, in yellow); connections are looked up with Airflow's environment."""
    import os

    from xuncha import registry

    os.environ.update({k: v for k, v in env.items() if k.startswith(("AIRFLOW", "XUNCHA"))})
    from xuncha.orchestration import notifications

    on, line = notifications.status_line(registry.default())
    if on:
        console.print(line, soft_wrap=True)
    else:
        err.print(f"[bold yellow]{line}[/]", soft_wrap=True)


@app.command()
@friendly
def backfill(
    from_: Annotated[str, typer.Option("--from", help="First business night (YYYY-MM-DD).")],
    to: Annotated[str, typer.Option(help="Last business night (YYYY-MM-DD), inclusive.")],
    county: Annotated[list[str] | None, typer.Option("--county", help="County code (repeatable); default: every county active in the window.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Only count the runs it would create.")] = False,
    max_active_runs: Annotated[int, typer.Option(help="Nights of one county run at once (1 = strictly oldest first).")] = 1,
    queue_while_paused: Annotated[bool, typer.Option(
        "--queue-while-paused", help="Backfill paused county DAGs too (their runs wait queued until unpaused).")] = False,
):
    """Load history (nights before go-live, or failed nights again) through Airflow's backfill of each county's DAG.

    One backfill per county DAG (xuncha_county_<code>), the longest backlog first; the scheduler runs them
    (`make up`), each county's nights oldest first; nights before go-live raise no missed-deadline alerts. Paused
    county DAGs are skipped and named (their runs would wait queued): unpause them, or `--queue-while-paused`."""
    import json

    from xuncha.orchestration import deployment

    first, last = _date(from_), _date(to)
    proc = deployment.backfill(first, last, dry_run=dry_run, max_active_runs=max_active_runs, counties=county or None,
                               queue_while_paused=queue_while_paused)
    if proc.returncode != 0:
        err.print((proc.stdout + proc.stderr).strip()[-2000:])
        raise typer.Exit(1)
    made = json.loads(proc.stdout.strip().splitlines()[-1])
    nights = (last - first).days + 1
    skipped = [m["dag_id"] for m in made if m.get("skipped")]
    made = [m for m in made if not m.get("skipped")]
    for m in made:
        what = m.get("error") or (f"{m['runs']} run(s)" if dry_run else f"backfill {m['backfill_id']}")
        console.print(f"  {m['dag_id']}: {what}")
    console.print(f"backfill of {len(made)} county DAG(s) {'(dry run) ' if dry_run else ''}for {nights} night(s) "
                  f"{first} … {last}, longest backlog first"
                  + ("" if dry_run else ": created; the scheduler runs them (make up), each county's nights oldest first"))
    if skipped:
        err.print(f"[yellow]skipped {len(skipped)} paused county DAG(s)[/] (their runs would wait queued): "
                  f"{', '.join(skipped)} — unpause them (`xuncha airflow dags unpause DAG_ID` or the UI switch) and "
                  f"backfill again, or add `--queue-while-paused`", soft_wrap=True)
