"""Soak: N generated nights of every county system through the county DAGs' own task code, with faults injected.

Per night, as the county DAGs (xuncha_county_<code>) do: the night's exports arrive (landing folders are copied in;
the two pulled counties are served by a real county HTTP system on loopback; late deliveries arrive two nights
late), `nightly.plan` lists the systems due, and each system's ingest (xuncha.load.county_night.run, what its DAG's
`ingest` task runs) takes everything waiting. Faults on top of the generator's own (checksum, encoding, schema drift, duplicates, late
and wrong-county deliveries, ...):
- kill: the county's ingest runs in its own process and gets SIGKILL at a random moment, then the task is retried;
- restart: PostgreSQL is stopped (fast shutdown) while a county's ingest runs, started again, and the task retried.
At the end the warehouse must equal the generator's ground truth (truth.json: live rows per entity in the window;
every quarantine fault quarantined, its correction loaded; each export id loaded at most once), and no text column
of core or history may hold person data in clear (`person_data_in_clear`; `make soak` scans the seed window).

The marts are refreshed as `xuncha_marts` does: for a county right after some of its loads (its core Asset event)
and for every pending county after each night (the `night` event); at the end the incremental series must equal a
full recompute (tests/marts_compare.py: `marts_differences`). A quarantine opens its incident at once, as the
county DAG's `ingest` task does (xuncha.monitor.health.on_quarantine), and each morning the health run (what
`xuncha_health` runs) sees the night: a county with a night still quarantined (none of its exports loaded) must
have its quarantine incident open — one corrected in the same run needs none — and at the end no incident may be
open (`incidents`).

`run(...)` returns the summary; `python tests/soak.py --nights 30 --profile seed` is `make soak`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

_NIGHT = re.compile(r"-(\d{8})-")
REJECTED = """SELECT DISTINCT b.county_code FROM audit.batches b
               WHERE b.status = 'quarantined' AND b.business_date <= %(night)s AND b.business_date > %(night)s - %(window)s
                 AND NOT EXISTS (SELECT FROM audit.batches l WHERE l.county_code = b.county_code AND l.status = 'loaded'
                                    AND l.business_date = b.business_date)"""
"""The county systems with a night whose exports were quarantined and none loaded: each must have an open
quarantine incident after the morning's health run."""
INGEST = ("import sys, datetime; from xuncha import registry; from xuncha.load import county_night; "
          "county_night.run(registry.load(), sys.argv[1], datetime.date.fromisoformat(sys.argv[2]))")


def _night_of(folder: Path) -> dt.date | None:
    m = _NIGHT.search(folder.name)
    return dt.datetime.strptime(m.group(1), "%Y%m%d").date() if m else None


def run(work: Path, profile: str = "tiny", nights: int = 10, seed: int = 12, kill_rate: float = 0.15,
        restart_rate: float = 0.05, progress=print, generated_only: bool = False) -> dict:
    """Generate `nights` nights of `profile` (all fault kinds) into `work`, run them with kills and restarts, and
    compare with the ground truth. Uses the process's settings (XUNCHA_HOME) and warehouse; returns the summary.
    The first task is always killed and the second always has PostgreSQL restarted under it. `generated_only`:
    run only the systems the profile generates (the tiny profile has a few of the registry's 17)."""
    from xuncha import registry
    from xuncha.orchestration import env as airflow_env
    from xuncha.load import county_night
    from xuncha.warehouse import db
    from xuncha.warehouse import embedded
    from xuncha.warehouse import migrate
    from xuncha.metrics import marts as metrics
    from xuncha.monitor import health, incidents
    from xuncha.monitor.findings import LOCAL, QUARANTINE_WINDOW_NIGHTS
    from conftest import query
    from xuncha.orchestration import nightly
    from xuncha_sim.countyserver import CountyServer
    from xuncha_sim.generator import generate
    from xuncha_sim.generator.profiles import get_profile
    from xuncha.settings import get_settings
    from xuncha.spec import ENTITY_ORDER

    t0 = time.monotonic()
    settings, reg, rng = get_settings(), registry.default(), random.Random(seed)
    events_rng = random.Random(seed + 1)     # apart from `rng`, so the faults fall where they did before
    prof = get_profile(profile)
    start, end = prof.term_start, prof.term_start + dt.timedelta(days=nights - 1)
    systems = work / "county-systems"
    shutil.rmtree(systems, ignore_errors=True)
    truth = generate(systems, profile=profile, faults=["all"], start=start, end=end, progress=False)
    migrate.migrate(db.owner_url(settings))
    url = db.warehouse_url(settings)
    late = {f["export_id"] for f in truth["faults"] if f["kind"] == "late_delivery"}
    units = [u["code"] for u in truth["units"]]
    pulled = {c.code for c in reg.counties if c.pulled}
    tokens = {c: f"soak-token-{c}" for c in pulled}
    served = work / "served"
    shutil.rmtree(served, ignore_errors=True)
    counts = {"kills": 0, "restarts": 0, "retries": 0, "task_runs": 0}
    arrived: set[Path] = set()
    forced = [0.0, kill_rate + restart_rate / 2] if kill_rate > 0 and restart_rate > 0 else []
    events: dict[tuple[str, str], int] = {}
    unreported: set[str] = set()
    sent: list[str] = []

    def send(audience, subject: str, text: str) -> list:
        """The notification edge (xuncha.monitor.notices.Sender): recorded, not sent."""
        sent.append(subject)
        return [("soak", audience.key, None)]

    def arrive(day: dt.date) -> None:
        for unit in sorted(p for p in systems.iterdir() if p.is_dir()):
            for folder in sorted(p for p in unit.iterdir() if p.is_dir()):
                night = _night_of(folder)
                due = night + dt.timedelta(days=2) if folder.name in late else night
                if folder in arrived or night is None or due > day:
                    continue
                target = (served if unit.name in pulled else settings.landing) / unit.name / folder.name
                shutil.copytree(folder, target, dirs_exist_ok=True)
                arrived.add(folder)

    def task(code: str, day: dt.date) -> None:
        """One mapped `ingest` task with its retries; faults strike the first try."""
        fault = rng.random()
        if forced:
            fault = forced.pop(0)
        if fault < kill_rate + restart_rate:
            log, restarted = work / f"ingest-{code}-{day}.log", False
            with log.open("wb") as err:
                proc = subprocess.Popen([sys.executable, "-c", INGEST, code, day.isoformat()],
                                        stdout=subprocess.DEVNULL, stderr=err)
            time.sleep(rng.uniform(0.3, 3.0))
            if proc.poll() is None:
                if fault < kill_rate:
                    proc.send_signal(signal.SIGKILL)
                    counts["kills"] += 1
                else:
                    embedded.stop(settings)
                    proc.kill()
                    embedded.start(settings)
                    counts["restarts"] += 1
                    restarted = True                 # its server went away under it: any end is right
            proc.wait()
            if not restarted and proc.returncode not in (0, -signal.SIGKILL):   # must not hide a broken task
                raise RuntimeError(f"the ingest process of {code} {day} failed by itself: {log.read_text()[-2000:]}")
            counts["task_runs"] += 1
        for attempt in range(3):
            try:
                counts["task_runs"] += 1
                at = dt.datetime.combine(min(day, end) + dt.timedelta(days=1), dt.time(2), LOCAL)  # the task's hour
                county_night.run(registry.load(), code, day, url=url,   # as a county DAG's `ingest`: the incident now
                                 on_quarantine=lambda c: health.on_quarantine(url, reg, c, send, now=at))
                if events_rng.random() < 0.3:          # the county's core Asset event starts a marts run
                    metrics.refresh(url, [code])
                return
            except Exception:
                counts["retries"] += 1
                if attempt == 2:
                    raise
                if settings.embedded:
                    embedded.start(settings)

    with CountyServer(served, tokens) as server:
        for code, token in tokens.items():
            os.environ.update(airflow_env.county_connection_env(reg.get(code).delivery["http"]["conn_id"], server.url, token))
        day = start
        while day <= end + dt.timedelta(days=2):           # two more nights let the late deliveries in
            arrive(day)
            planned = [c["code"] for c in nightly.plan(registry.load(), min(day, end)) if not generated_only or c["code"] in units]
            rng.shuffle(planned)
            for code in planned:
                task(code, day)
            metrics.refresh(url, metrics.pending_counties(url))        # the night's `night` event
            morning = dt.datetime.combine(min(day, end) + dt.timedelta(days=1), dt.time(8), LOCAL)
            waiting = {c for (c,) in query(url, REJECTED, {"night": min(day, end), "window": QUARANTINE_WINDOW_NIGHTS})}
            for ev in health.check(url, reg, send, now=morning).events:
                events[ev.event, ev.incident["kind"]] = events.get((ev.event, ev.incident["kind"]), 0) + 1
            held = [i["county_code"] for i in incidents.listing(url) if i["kind"] == "quarantine"]
            unreported.update(c for c in waiting if not any(c in reg.lineage(h) for h in held))
            progress(f"night {day}: {len(planned)} systems, {counts}")
            day += dt.timedelta(days=1)

    live = {e: query(url, f"SELECT count(*) FROM core.{e} WHERE withdrawn_at IS NULL")[0][0] for e in ENTITY_ORDER}
    statuses = dict(query(url, "SELECT status, count(*) FROM audit.batches GROUP BY 1"))
    twice = query(url, "SELECT export_id FROM audit.batches WHERE status = 'loaded' GROUP BY county_code, export_id "
                       "HAVING count(*) > 1")
    wrong = []
    for f in truth["faults"]:
        got = {s for (s,) in query(url, "SELECT status FROM audit.batches WHERE export_id = %s AND county_code = %s",
                                    (f["export_id"], f["county"]))}
        if f["expect"] == "quarantine" and ("quarantined" not in got or "loaded" in got):
            wrong.append((f["kind"], f["export_id"], sorted(got)))
    # Person data in clear (national ID, mobile, bank card: staging.pii_kind, migration 0041) in any text column.
    text_columns = query(url, """SELECT table_schema, table_name, column_name FROM information_schema.columns
                                  WHERE table_schema IN ('core', 'history') AND data_type = 'text'
                                    AND table_name IN (SELECT relname FROM pg_class WHERE NOT relispartition)""")
    in_clear = {f"{s}.{t}.{c}": n for s, t, c in text_columns
                if (n := query(url, f'SELECT count(*) FROM {s}.{t} WHERE staging.pii_kind("{c}") IS NOT NULL')[0][0])}
    opened = dict(query(url, "SELECT kind, count(*) FROM audit.incidents GROUP BY 1 ORDER BY 1"))
    generated = {c for u in units for c in reg.lineage(u)}
    open_at_end = [f"#{i['incident_id']} {i['kind']} {i['county_code']}: {i['summary']}" for i in incidents.listing(url)
                   if i["county_code"] in generated]     # systems the profile does not generate are stale, rightly
    from marts_compare import differences

    marts_differences = differences(url)
    kinds: dict[str, int] = {}
    for f in truth["faults"]:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    summary = {
        "profile": profile, "nights": nights, "window": [start.isoformat(), end.isoformat()], "systems": len(units),
        "exports_generated": truth["exports"], "batches": statuses,
        "generator_faults": kinds, "generator_faults_unplaced": len(truth.get("faults_unplaced", [])),
        "kills": counts["kills"], "restarts": counts["restarts"], "task_retries": counts["retries"],
        "task_runs": counts["task_runs"],
        "live_rows": live, "truth_rows": truth["window"]["row_counts"],
        "equal_to_truth": live == truth["window"]["row_counts"] and not twice and not wrong,
        "loaded_twice": [e for (e,) in twice], "faults_mishandled": wrong,
        "text_columns_scanned": len(text_columns), "person_data_in_clear": in_clear,
        "marts_equal_full_recompute": not marts_differences, "marts_differences": marts_differences,
        "incidents": {"opened": opened, "health_run_events": {f"{e} {k}": n for (e, k), n in sorted(events.items())},
                      "notifications": len(sent),
                      "open_at_end": open_at_end, "quarantined_without_incident": sorted(unreported)},
        "incidents_as_expected": not open_at_end and not unreported,
        "seconds": round(time.monotonic() - t0, 1),
    }
    return summary


if __name__ == "__main__":   # make soak: its own XUNCHA_HOME and embedded server, like the test suite
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=30)
    ap.add_argument("--profile", default="seed")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--summary", type=Path, default=Path(".xuncha/soak-summary.json"))
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="xuncha-soak-"))
    os.environ["XUNCHA_HOME"] = str(home)
    os.environ.pop("WAREHOUSE_URL", None)
    os.environ.setdefault("XUNCHA_PERSON_KEY", "soak-person-key-0123456789abcdef")
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    sys.path.insert(0, str(Path(__file__).parent))
    from xuncha.warehouse import embedded

    try:
        result = run(home / "work", profile=args.profile, nights=args.nights, seed=args.seed,
                     progress=lambda m: print(m, flush=True))
    finally:
        embedded.stop()
    args.summary.parent.mkdir(parents=True, exist_ok=True)
    args.summary.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    shutil.rmtree(home, ignore_errors=True)
    sys.exit(0 if result["equal_to_truth"] and not result["person_data_in_clear"] and result["marts_equal_full_recompute"]
             and result["incidents_as_expected"] else 1)
