"""`xuncha`: the operator's command line. Every command has --help; errors exit non-zero with one clear line.

This module holds `app`, the shared helpers (`friendly`, `console`, `err`, `_date`) and the original commands.
New command groups go in a module of their own in this package (`from xuncha.cli import app, friendly`);
every module here is imported when the CLI loads.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from typing import Annotated, Optional

import typer
from rich.columns import Columns
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Xuncha 巡察数据平台 — inspection oversight data integration on Airflow.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
db_app = typer.Typer(help="The warehouse database: embedded server and migrations.", no_args_is_help=True)
spec_app = typer.Typer(help="The county export specification and its validation suites.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(spec_app, name="spec")
# Wide enough for the report tables when output goes to a file or CI log (a terminal uses its own width).
console = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True)


def friendly(fn):
    """Turn expected failures into one red line and exit code 1 (tracebacks with XUNCHA_DEBUG=1)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            from xuncha.settings import get_settings

            if get_settings().debug:
                raise
            err.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from None

    return wrapper


# -- set-up and Airflow --------------------------------------------------------------------------------

@app.command()
@friendly
def setup(quiet_connections: Annotated[bool, typer.Option(hidden=True)] = False):
    """Everything before a first run: database, warehouse migrations, Airflow metadata and pools, the go-live
    date (first run: today, or XUNCHA_GO_LIVE) and pulled counties' connections (XUNCHA_COUNTY_<CODE>_URL/_TOKEN).
    Its first line (and so `xuncha demo`'s and `xuncha up`'s) is the resolved XUNCHA_HOME (settings.home_line)."""
    from xuncha import settings
    from xuncha.orchestration import env as airflow_env
    from xuncha.warehouse import db
    from xuncha.orchestration import deployment
    from xuncha.warehouse import migrate

    console.print(settings.home_line(), soft_wrap=True, highlight=False)   # first, before anything is written there
    db.warehouse_url()
    migrate.migrate(say=lambda line: err.print(f"[yellow]{line}[/]", soft_wrap=True))
    airflow_env.init_airflow()
    go_live = settings.record_go_live()
    console.print(f"set up: warehouse migrated, Airflow initialised; go-live {go_live} (earlier nights: xuncha backfill)")
    for c in deployment.configure_county_connections():
        if c.status == "missing" and not quiet_connections:   # the demo serves its pulled counties itself
            err.print(f"[yellow]pulled county {c.code}: no connection {c.conn_id}[/] — "
                      f"{deployment.connection_fix(c.code)} again")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@friendly
def airflow(ctx: typer.Context):
    """Run the Airflow CLI with Xuncha's environment, e.g. `xuncha airflow dags list`.

    `dags trigger` of a paused DAG is refused with a sentence saying how to go on (its run would wait queued, and
    Airflow says nothing); `--queue-while-paused` (ours, removed before Airflow sees it) triggers it anyway."""
    from xuncha.orchestration import deployment
    from xuncha.orchestration import env as airflow_env

    args = list(ctx.args)
    anyway = "--queue-while-paused" in args
    args = [a for a in args if a != "--queue-while-paused"]
    if not anyway and (why := deployment.paused_trigger(args)):
        err.print(why, soft_wrap=True)
        raise typer.Exit(1)
    raise typer.Exit(airflow_env.run_airflow(args, check=False).returncode)


# -- data ----------------------------------------------------------------------------------------------

def _print_headline(day: dt.date, rows: list[dict]) -> None:
    from xuncha import registry

    names = {c.code: c.name for c in registry.default().counties}
    heads = [("县区", "county"), ("巡察轮次", "rounds"), ("被巡察单位", "orgs inspected"), ("发现问题", "findings"),
             ("移交问题线索", "clues transferred"), ("党纪政务处分", "sanctions"), ("组织处理", "org. handling"),
             ("留置", "detentions"), ("移送司法机关", "to judiciary"), ("收缴/挽回（元）", "recovered, CNY")]
    counts = ("rounds", "orgs_inspected", "findings", "clues_transferred", "sanctions", "org_handling", "detentions",
              "judicial_transfers")
    if not rows:
        console.print(f"巡察工作情况 — no figures as of {day}: nothing had been loaded by the end of that day")
        return
    for term_no in sorted({r["term_no"] for r in rows}):
        t = Table(*(f"{zh}\n{en}" for zh, en in heads),
                  title=f"巡察工作情况 第{term_no}届 — term {term_no} headline as of {day} (end of day, Asia/Shanghai)",
                  caption="mart.term_headline · a county's row includes the codes it continues (含: 2021 code changes)")
        for col in t.columns[1:]:
            col.justify = "right"
        units = [r for r in rows if r["term_no"] == term_no and r["scope"] == "unit"]
        for r in units:
            label = f"{r['county_name']} {r['county_code']}" + "".join(
                f"\n  含 {names.get(c, '')} {c}" for c in r["source_codes"] if c != r["county_code"])
            t.add_row(label, *(f"{r[k]:,}" for k in counts), f"{r['amount_recovered']:,.2f}", end_section=r is units[-1])
        for r in rows:
            if r["term_no"] == term_no and r["scope"] == "city_total":
                t.add_row("全市 whole city", *(f"{r[k]:,}" for k in counts), f"{r['amount_recovered']:,.2f}", style="bold")
        (console if console.is_terminal else Console(width=160)).print(t)


@app.command()
@friendly
def counties():
    """List the county registry (config/counties.yml) with each county's state now (xuncha.monitor.board, as the page
    事件与县区状态 shows it): its newest loaded night (of its lineage), open incidents and whether it is quarantined or
    stale, or `ended → successor` once its last night is past. When the whole warehouse is behind today (a demo's
    2017 nights) the header line says so. Without a reachable warehouse only the registry is listed (said on stderr)."""
    import datetime as dt

    from xuncha import registry
    from xuncha.monitor import board, nights

    reg, now = registry.default(), dt.datetime.now(dt.timezone.utc)
    try:
        from xuncha.warehouse import db

        url = db.warehouse_url()
        states = {s["code"]: s for s in board.county_states(url, reg, now, include_ended=True)}
        lag = board.lag_line(nights.newest_night(url), now)
    except Exception as exc:   # the registry is still worth listing without a warehouse
        states, lag = None, None
        err.print(f"[yellow]no county state: the warehouse is not reachable ({type(exc).__name__}: {exc})[/]".strip())
    if lag:
        console.print(f"[yellow]{lag}[/]")
    t = Table("code", "name", "level", "delivery", "active", "successor",
              *(("last loaded night", "open incidents", "state") if states is not None else ()))
    for c in reg.counties:
        row = [c.code, c.name, c.level, "http" if c.pulled else "landing", f"{c.active_from} … {c.active_to or ''}",
               c.successor or ""]
        if states is not None:
            st = states.get(c.code)
            word = board.condition(st, now) if st else "—"
            row += [str(st["last_loaded_night"] or "never") if st else "—", str(len(st["open_incidents"])) if st else "—",
                    f"[red]{word}[/]" if word not in ("ok", "—") and not word.startswith("ended") else word]
        t.add_row(*row)
    (console if console.is_terminal else Console(width=160)).print(t)


# -- demo ----------------------------------------------------------------------------------------------

@app.command()
@friendly
def demo(
    from_: Annotated[str, typer.Option("--from", help="First night of the demo window (from the term's start: later nights refer to earlier ones).")] = "2016-10-01",
    to: Annotated[str, typer.Option(help="Last night of the demo window (by 2017-02 every mart has rows: "
                                         "rectification from 2016-12, outcomes from 2017-01, surveys from 2017-02).")] = "2017-02-28",
    profile: Annotated[str, typer.Option(help="Generator profile.")] = "seed",
):
    """The main job on the embedded default: a window of seed nights from all county systems through the real DAGs."""
    import secrets
    import shutil

    from xuncha import registry
    from xuncha.orchestration import env as airflow_env
    from xuncha.orchestration import backfills, dag_test_logs, nightly
    from xuncha.warehouse import db
    from xuncha_sim.countyserver import CountyServer
    from xuncha_sim.generator import generate as run
    from xuncha.settings import get_settings

    setup(quiet_connections=True)
    settings = get_settings()
    start, end = _date(from_), _date(to)
    reg = registry.default()
    # The county systems of the window: most drop files into their landing folder, two are pulled over HTTP.
    systems = settings.home / "demo" / "county-systems"
    shutil.rmtree(systems, ignore_errors=True)
    truth = run(systems, profile=profile, start=start, end=end, progress=sys.stderr.isatty())
    pulled = {c.code: c for c in reg.counties if c.pulled}
    for unit in sorted(p for p in systems.iterdir() if p.is_dir() and p.name not in pulled):
        for export in unit.iterdir():
            if not (settings.landing / unit.name / export.name).exists():
                shutil.copytree(export, settings.landing / unit.name / export.name)
    console.print(f"county systems wrote {truth['exports']:,} exports for {start} … {end}: "
                  f"{len(pulled)} served over HTTP ({', '.join(c.label for c in pulled.values())}), the rest in {settings.landing}")
    tokens = {code: secrets.token_urlsafe(16) for code in pulled}
    logs = settings.home / "demo"
    # The demo replays a window of the 2016 term as a deployment that went live on its first night (deadlines apply);
    # the go-live `xuncha setup` recorded for `make up` is not changed. Each county's DAG runs now (real start
    # times) for the night `end` (Param `night`), taking in every night waiting, longest backlog first.
    live = {"XUNCHA_GO_LIVE": start.isoformat()}
    night = {"night": end.isoformat()}
    dag_ids = [nightly.county_dag_id(c) for c in backfills.order(reg, end, end)]
    with CountyServer(systems, tokens) as server:
        env = dict(live)
        for code, token in tokens.items():
            env |= airflow_env.county_connection_env(reg.get(code).delivery["http"]["conn_id"], server.url, token)
        console.print(f"{len(dag_ids)} county DAGs for the night of {end} (every waiting night, oldest first; "
                      f"a few minutes) … logs: {logs}")
        done = _CountyLines(reg, len(dag_ids))
        codes = airflow_env.dags_test_many(dag_ids, logs, night, env=env, on_end=done)
    red = [reg.get(d.removeprefix("xuncha_county_")).label for d, rc in codes.items() if rc]
    if red:
        console.print(f"red (their runs failed, reason first in the verdict task's log and the run note): {', '.join(red)}")
    console.print(f"DAG xuncha_night (judges every night {start} … {end}) … log: {logs / 'xuncha_night.log'}")
    airflow_env.dags_test("xuncha_night", None, night | {"from": start.isoformat()}, env=live,
                          log=logs / "xuncha_night.log", check=False)
    console.print("  " + _nights_verdict(start, end, reg), soft_wrap=True, highlight=False)
    console.print(f"DAG xuncha_marts (refreshes the marts, writes the report) … log: {logs / 'xuncha_marts.log'}")
    rc = airflow_env.dags_test("xuncha_marts", None, night, env=live, log=logs / "xuncha_marts.log", check=False)
    if rc:
        raise RuntimeError(f"DAG xuncha_marts failed (exit {rc}); its log: {logs / 'xuncha_marts.log'}")
    console.print("  marts refreshed: success")
    for dag_id in [*dag_ids, "xuncha_night", "xuncha_marts"]:
        dag_test_logs.write_task_logs(logs / f"{dag_id}.log", dag_id)   # each task's log where the UI reads it
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM audit.batches GROUP BY 1 ORDER BY 1")
        batches = ", ".join(f"{n:,} {s}" for s, n in cur.fetchall())
        cur.execute("SELECT " + " + ".join(f"(SELECT count(*) FROM core.{e})" for e in truth["row_counts"]))
        rows = cur.fetchone()[0]
    console.print(f"warehouse: {rows:,} core rows; exports so far: {batches}")
    _demo_tables(end)


def _nights_verdict(start: dt.date, end: dt.date, reg) -> str:
    """xuncha_night's verdict over the demo's window, judged as it was (go-live = the window's first night): 'nights A
    … B (N): R red, G green — loaded 已入库 …' (xuncha.monitor.nights.nights_text's first line)."""
    import os

    from xuncha.monitor import nights

    before = os.environ.get("XUNCHA_GO_LIVE")
    os.environ["XUNCHA_GO_LIVE"] = start.isoformat()
    try:
        return nights.nights_text(nights.states(start, end, reg=reg)).splitlines()[0]
    finally:
        if before is None:
            os.environ.pop("XUNCHA_GO_LIVE", None)
        else:
            os.environ["XUNCHA_GO_LIVE"] = before


class _CountyLines:
    """The demo's progress: one line per county DAG as its run ends, '  (3/17) 嵩县 410325: green — took in 151
    night(s) …, 151 export(s) loaded (41 s)' or '… RED — reason' (the run's note, xuncha.orchestration.run_notes)."""

    def __init__(self, reg, total: int):
        import time

        self.reg, self.total, self.n, self.clock, self.last = reg, total, 0, time.monotonic, time.monotonic()

    def __call__(self, dag_id: str, state: str, note: str) -> None:
        import re

        from rich.markup import escape

        now, self.n = self.clock(), self.n + 1
        county = self.reg.get(dag_id.removeprefix("xuncha_county_"))
        text = escape(re.sub(r"^night \d{4}-\d{2}-\d{2}: ", "", note.strip()))
        if state == "success":
            line = f"[green]green[/] — {text or 'done'}"
        else:
            line = f"[bold red]RED[/] — {re.sub(r'^RED: ', '', text) or 'its run failed: see ' + dag_id + '.log'}"
        console.print(f"  ({self.n}/{self.total}) {county.label}: {line} ({now - self.last:.0f} s)", soft_wrap=True,
                      highlight=False)
        self.last = now


def _demo_tables(day: dt.date) -> None:
    """What a report consumer sees after the demo: the term headline as of the last night, findings by category,
    the rows each mart holds that day, and the Excel workbook of them all."""
    from xuncha.metrics import dictionary as metric_dictionary
    from xuncha.metrics import marts as m
    from xuncha.reports import html, workbook

    m.ensure(as_of=day)
    _print_headline(day, m.headline(as_of=day))
    _print_findings(m.findings_by_category())
    counts = ", ".join(f"{name} {len(m.read_mart(name=name, as_of=day).rows)}" for name in metric_dictionary.marts())
    console.print(f"rows per mart as of {day}: {counts}\n"
                  f"every mart: xuncha metrics --mart NAME --as-of {day} (--list names them); "
                  f"the workbook of all of them: {workbook.build(as_of=day)}")
    report = html.default_folder() / html.file_name(day)   # written by xuncha_marts' report task
    if report.is_file():
        console.print(f"the report 巡察工作数据报告 (one file, opens offline; also in the Airflow UI after make up): {report}")


def _print_findings(rows: list[tuple]) -> None:
    """mart.findings_by_category as one row per county, one column per problem category."""
    from xuncha import registry
    from xuncha.spec import load_spec

    names = {c.code: c.name for c in registry.default().counties}
    cats = list(load_spec().codes["finding_category"])
    t = Table("county 县区", *cats, "total 合计", title="发现问题分类统计 — findings by problem category (mart.findings_by_category)")
    for col in t.columns[1:]:
        col.justify = "right"
    by_county: dict[str, dict[str, int]] = {}
    for code, cat, n, *_ in rows:
        by_county.setdefault(code, {})[cat] = n
    for code, counts in sorted(by_county.items()):
        t.add_row(f"{names.get(code, '')} {code}", *(f"{counts.get(c, 0):,}" for c in cats), f"{sum(counts.values()):,}")
    if by_county:
        totals = [sum(c.get(k, 0) for c in by_county.values()) for k in cats]
        t.add_row("全市 whole city", *(f"{n:,}" for n in totals), f"{sum(totals):,}", style="bold")
    else:
        t.add_row("—", *([""] * len(cats)), "no findings loaded yet")
    console.print(t)
    # The legend: every category's whole name, laid out in columns (an entry never cut; a long one wraps in its cell).
    console.print(Columns([f"[bold]{k}[/] {v.split('·')[-1]}" for k, v in load_spec().codes["finding_category"].items()],
                          padding=(0, 3), title="categories 问题类别"))


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _register_command_modules() -> None:
    """Import every module of this package: each adds its commands to `app` (one module per command group)."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_register_command_modules()

if __name__ == "__main__":
    app()
