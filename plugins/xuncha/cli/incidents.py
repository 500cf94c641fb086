"""`xuncha incidents list|ack|resolve` (audit.incidents) and `xuncha notify test` (every notification channel)."""

from __future__ import annotations

import getpass
from typing import Annotated, Optional

import typer
from rich.table import Table

from xuncha.cli import app, console, err, friendly

incidents_app = typer.Typer(help="Incidents 事件: one per county and kind, open → acknowledged → resolved.",
                            no_args_is_help=True)
notify_app = typer.Typer(help="Notification channels 通知渠道 (Airflow connections and county contacts).",
                         no_args_is_help=True)
app.add_typer(incidents_app, name="incidents")
app.add_typer(notify_app, name="notify")


def _airflow_env() -> None:
    """Airflow's environment in this process, so connections defined in Airflow (or AIRFLOW_CONN_*) are found."""
    from xuncha.orchestration import env as airflow_env

    airflow_env.apply()


@incidents_app.command("list")
@friendly
def incidents_list(
    all_: Annotated[bool, typer.Option("--all", help="Resolved incidents too (newest 500).")] = False,
    county: Annotated[Optional[str], typer.Option(help="Only this county code.")] = None,
):
    """Open and acknowledged incidents, critical first (exit code 0 whether or not there are any)."""
    from xuncha.monitor import incidents
    from xuncha.monitor.findings import local_time

    states = ("open", "acknowledged", "resolved") if all_ else ("open", "acknowledged")
    rows = incidents.listing(None, states, county)
    if not rows:
        console.print("no incidents" + ("" if all_ else " open") + " (无未解决事件)")
        return
    t = Table("id", "county", "kind", "severity", "state")
    for head in ("first seen", "last seen"):   # local time with its offset, as the page 事件与县区状态 shows it
        t.add_column(head, no_wrap=True)
    for head in ("seen", "summary"):
        t.add_column(head)
    for i in rows:
        state = i["state"] + (f" by {i['acknowledged_by']}" if i["state"] == "acknowledged" else "") + \
            (f" by {i['resolved_by']}" if i["state"] == "resolved" else "")
        t.add_row(str(i["incident_id"]), i["county_code"], i["kind"], i["severity"], state,
                  local_time(i["first_seen"]), local_time(i["last_seen"]), str(i["seen_count"]), i["summary"])
    console.print(t)


@incidents_app.command("ack")
@friendly
def incidents_ack(
    incident_id: Annotated[int, typer.Argument(help="Incident id (xuncha incidents list).")],
    note: Annotated[str, typer.Option(help="What you are doing about it.")] = "",
    by: Annotated[Optional[str], typer.Option(help="Who acknowledges (default: your login name).")] = None,
):
    """Acknowledge an open incident ("seen, I am on it"): it is no longer escalated and no longer fails the health run."""
    from xuncha.monitor import incidents

    row = incidents.ack(None, incident_id, by or getpass.getuser(), note)
    console.print(f"incident #{incident_id} acknowledged by {row['acknowledged_by']} ({row['county_code']} {row['kind']})")


@incidents_app.command("resolve")
@friendly
def incidents_resolve(
    incident_id: Annotated[int, typer.Argument(help="Incident id (xuncha incidents list).")],
    reason: Annotated[str, typer.Option(help="Why it is resolved (sent to those notified).")],
    by: Annotated[Optional[str], typer.Option(help="Who resolves (default: your login name).")] = None,
):
    """Resolve an incident by hand and notify its audiences; if the condition persists, the next health run opens a
    new one."""
    from xuncha import registry
    from xuncha.monitor import incidents, notices
    from xuncha.settings import get_settings

    event = incidents.resolve(None, incident_id, by or getpass.getuser(), reason)
    _airflow_env()
    from xuncha.orchestration import notifications

    sent = notices.deliver(None, [event], registry.default(), notifications.deliver, get_settings().ui_url)
    console.print(f"incident #{incident_id} resolved; {sum(s['ok'] for s in sent)} notification(s) sent"
                  + "".join(f"\n[red]failed[/] {s['channel']} {s['target']}: {s['error']}" for s in sent if not s["ok"]))


@notify_app.command("test")
@friendly
def notify_test():
    """Send a test message through every configured channel (operators' e-mail and chat, each county contact's) and
    say which failed: one line per channel and the summary on stdout, the failure (or "none configured") on stderr;
    exit code 1 if any failed or none is configured."""
    from xuncha import registry

    _airflow_env()
    from xuncha.orchestration import notifications

    results = notifications.test_all(registry.default())
    if not results:
        err.print("[yellow]no notification channel is configured[/]: " + notifications.OFF_HINT)
        raise typer.Exit(1)
    for r in results:
        mark = "[green]ok[/]    " if r["ok"] else "[red]FAILED[/]"
        console.print(f"{mark} {r['audience']:<10} {r['channel']:<5} {r['target']}" + ("" if r["ok"] else f": {r['error']}"),
                      soft_wrap=True)
    failed = [r for r in results if not r["ok"]]
    if failed:   # the results above on stdout; the error on stderr
        err.print(f"[red]{len(failed)} of {len(results)} notification channel(s) failed[/]: "
                  + ", ".join(f"{r['audience']} {r['channel']} {r['target']}" for r in failed), soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"all {len(results)} notification channel(s) work", soft_wrap=True)
