"""P3 nightly fan-out: one night of delta exports through the real DAGs (`airflow dags test`), embedded default.

Two cases, each with its own XUNCHA_HOME (own embedded PostgreSQL, own Airflow metadata database):

- units: the 17 seed systems active in 2016 (洛阳市 and its 16 units; 嵩县 410325 and 洛宁县 410328 pulled over
  HTTP from a CountyServer, the rest from landing folders);
- synth: the same 17 plus K synthetic counties (419001 …, landing delivery), each with its own registry entry
  (a separate XUNCHA_CONFIG) and a clone of one county-level unit's night export (the 16 units in turn, so the
  mix matches; county code, export id and ids rewritten, SHA-256s recomputed).

Set-up, untimed, in a child process (`python bench/fanout.py _setup`): server, migrations, Airflow metadata and
pools, the nights before NIGHT loaded with the Ingestor (the timed night refers to inspections and rounds of
earlier nights), a mart refresh. The synth case starts from a copy of that data directory and clones each
synthetic county's earlier rows in SQL from its source unit (core and history, ids re-prefixed). So the timed
part is one delta night on top of a loaded warehouse.

Timed (issue 23: one DAG per county): `airflow dags test` of every county DAG (`xuncha_county_<code>`, Param
`night` = NIGHT, one after another in one process: xuncha.orchestration.dag_test_runs), then `airflow dags test xuncha_marts`. Before it, untimed for the
figure but measured: `airflow dags test xuncha_night` for the night before (the fixed cost of one `airflow dags
test`: process start, imports, DAG parsing, judging the night). Each county's `DAG.test` re-syncs the DAG bundle,
so this row measures `dags test`, not the scheduler (P3s does). Afterwards every export of the
night must be `loaded` in audit.batches; per-task durations come from Airflow's task_instance table.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NIGHT = dt.date(2016, 11, 15)          # an ordinary Tuesday of the demo window; preloaded from the term's start
TERM_START = dt.date(2016, 10, 1)
SYNTH_BASE = 419000                    # synthetic codes 419001 …: no Luoyang (4103xx) code collides

P3_DETAIL: dict = {}


# ---------------------------------------------------------------------------------------------- the child

def _setup_child(gen: Path, night: dt.date, pairs: list[tuple[str, str]]) -> None:
    """Untimed set-up inside the case's environment; prints a JSON line (url, preload counts)."""
    import logging

    from xuncha import registry
    from xuncha.orchestration import env as airflow_env
    from xuncha.warehouse import db
    from xuncha.extract import inbox
    from xuncha.metrics import marts as metrics
    from xuncha.warehouse import migrate
    from xuncha.load import pipeline

    logging.getLogger("xuncha").setLevel(logging.WARNING)
    t = time.perf_counter()
    url = db.owner_url()
    migrate.migrate(url)
    airflow_env.init_airflow()
    t_init = time.perf_counter() - t
    reg = registry.default()
    ingestor = pipeline.Ingestor(reg, url, move=False)
    counts: dict[str, int] = {}
    t = time.perf_counter()
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit.batches")
        preloaded = cur.fetchone()[0] > 0    # the data directory is a copy of an earlier case's, taken after set-up
    for unit in sorted(p for p in gen.iterdir() if p.is_dir() and not preloaded):
        dirs = [a for a in inbox.find(unit) if a.night < night.isoformat()]
        for r in ingestor.ingest_many(dirs, reg.get(unit.name)):
            counts[r.status] = counts.get(r.status, 0) + 1
            if r.status not in ("loaded", "duplicate"):
                raise RuntimeError(f"preload: {unit.name} {r.export_id} {r.status}: {[str(p) for p in r.problems[:3]]}")
    t_preload = time.perf_counter() - t
    t = time.perf_counter()
    if pairs:
        _clone_rows(url, pairs)
    t_clone = time.perf_counter() - t
    t = time.perf_counter()
    metrics.refresh(url)                # the marts up to the night before: the timed refresh takes one night
    t_marts = time.perf_counter() - t
    print(json.dumps({"url": url, "preload": counts, "preloaded_copy": preloaded, "init_s": t_init, "preload_s": t_preload, "clone_s": t_clone,
                      "marts_s": t_marts}))


def _clone_rows(url: str, pairs: list[tuple[str, str]]) -> None:
    """Core and history rows of each (code, source): the source unit's rows under the synthetic code, ids
    re-prefixed as in the cloned exports."""
    from xuncha.warehouse import db

    with db.connect(url) as conn, conn.cursor() as cur:
        # the synthetic counties' own partitions first, as their first load would have made them
        # (50 a transaction: each county's new partitions hold their locks until commit)
        codes = [c for c, _ in pairs]
        for i in range(0, len(codes), 50):
            cur.execute("SELECT core.add_county(c) FROM unnest(%s::text[]) c", (codes[i:i + 50],))
            conn.commit()
        cur.execute("""SELECT table_schema, table_name, array_agg(column_name::text ORDER BY ordinal_position),
                              array_agg(data_type::text ORDER BY ordinal_position)
                         FROM information_schema.columns
                        WHERE table_schema IN ('core', 'history')
                          AND table_name IN (SELECT table_name FROM information_schema.columns
                                              WHERE table_schema = 'core' AND column_name = 'county_code')
                          AND NOT (SELECT relispartition FROM pg_class WHERE oid = format('%I.%I', table_schema, table_name)::regclass)
                        GROUP BY 1, 2""")
        for schema, table, cols, types in cur.fetchall():
            exprs = []
            for c, ty in zip(cols, types):
                if c == "county_code":
                    exprs.append("s.code")
                elif ty == "text" and c.endswith("_id"):
                    exprs.append(f"replace({c}, s.src || '-', s.code || '-')")
                else:
                    exprs.append(c)
            cur.execute(f"INSERT INTO {schema}.{table} ({', '.join(cols)}) "
                        f"SELECT {', '.join(exprs)} FROM {schema}.{table} t "
                        f"JOIN unnest(%(codes)s::text[], %(srcs)s::text[]) s(code, src) ON t.county_code = s.src",
                        {"codes": [c for c, _ in pairs], "srcs": [src for _, src in pairs]})
    with db.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


def _stop_child() -> None:
    from xuncha.warehouse import embedded

    embedded.stop()


# ----------------------------------------------------------------------------------------- the bench side

def _case_env(home: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WAREHOUSE_URL", "AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW_CONN_XUNCHA_WAREHOUSE",
                        "XUNCHA_PGDATA", "XUNCHA_LANDING", "XUNCHA_ARCHIVE", "XUNCHA_QUARANTINE")}
    # Go-live at the term's start: the county DAGs' start_date follows it, and `dags test` of a night before the
    # start_date runs no task at all (the night "succeeds" with nothing loaded).
    env |= {"XUNCHA_HOME": str(home), "XUNCHA_CONFIG": str(config), "GX_ANALYTICS_ENABLED": "False",
            "XUNCHA_GO_LIVE": TERM_START.isoformat(),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "plugins"), env.get("PYTHONPATH")) if p)}
    env.setdefault("XUNCHA_PERSON_KEY", "bench-person-key-0123456789abcdef")
    return env


def _settings(env: dict[str, str]):
    """xuncha.settings for `env` (read from os.environ, so swapped in for the call)."""
    from xuncha.settings import get_settings

    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        return get_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _child(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__)), *args], env=env, check=True, stdout=subprocess.PIPE,
                         cwd=ROOT).stdout.decode()
    return json.loads(out.strip().splitlines()[-1]) if out.strip() else {}


def _write_config(config: Path, synth: list[str]) -> None:
    config.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "metrics.yml", config / "metrics.yml")
    text = (ROOT / "config" / "counties.yml").read_text(encoding="utf-8")
    if synth:
        text += "  # P3 benchmark: synthetic counties, clones of one landing unit\n" + "".join(
            f'  - {{code: "{c}", name: 合成县{int(c) - SYNTH_BASE:03d}, level: county}}\n' for c in synth)
    config.joinpath("counties.yml").write_text(text, encoding="utf-8")


def _clone_export(src: Path, dest_root: Path, code: str, source: str) -> None:
    """`src` (one night export of `source`) as county `code`'s: county code, export id and ids rewritten."""
    from xuncha.extract import manifest as manifest_mod

    raw = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    raw["county_code"] = code
    raw["export_id"] = raw["export_id"].replace(source, code, 1)
    dest = dest_root / code / raw["export_id"]
    dest.mkdir(parents=True)
    for f in raw["files"]:
        if f["format"] == "xlsx":
            _rewrite_xlsx(src / f["path"], dest / f["path"], f"{source}-", f"{code}-")
        else:   # csv (UTF-8 or GB18030: ASCII bytes are single bytes in both) and jsonl
            (dest / f["path"]).write_bytes((src / f["path"]).read_bytes().replace(f"{source}-".encode(), f"{code}-".encode()))
        f["sha256"] = manifest_mod.sha256_of(dest / f["path"])
    (dest / "manifest.json").write_text(json.dumps(raw, ensure_ascii=False, indent=2), encoding="utf-8")


def _rewrite_xlsx(src: Path, dest: Path, old: str, new: str) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(src)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and old in cell.value:
                    cell.value = cell.value.replace(old, new)
    wb.save(dest)


def _night_exports(gen: Path, night: dt.date) -> dict[str, Path]:
    from xuncha.extract import inbox

    out = {}
    for unit in sorted(p for p in gen.iterdir() if p.is_dir()):
        dirs = [a.path for a in inbox.find(unit) if a.night == night.isoformat()]
        if len(dirs) != 1:
            raise RuntimeError(f"{unit.name}: {len(dirs)} exports for {night}, expected 1")
        out[unit.name] = dirs[0]
    return out


def clone_pairs(codes: list[str], units: list[str]) -> list[tuple[str, str]]:
    """(synthetic code, source unit): the county-level units in turn, so the synthetic night has the real mix
    (the city 410300 is left out: it inspects counties' organisations, which refer across codes)."""
    sources = [u for u in units if u != "410300"]
    return [(c, sources[i % len(sources)]) for i, c in enumerate(codes)]


def _task_times(airflow_url: str, dag_id: str) -> dict:
    """The last run of `dag_id` (a LIKE pattern: the last run of each matching DAG) from Airflow's metadata: task
    durations summed per task, the span of the tasks, the runs' state (failed if any failed)."""
    from xuncha.warehouse import db

    last = """(SELECT DISTINCT ON (dag_id) dag_id, run_id FROM dag_run WHERE dag_id LIKE %(d)s ORDER BY dag_id, id DESC)"""
    with db.connect(airflow_url) as conn, conn.cursor() as cur:
        cur.execute(f"""SELECT task_id, count(*), sum(extract(epoch FROM end_date - start_date)),
                               max(extract(epoch FROM end_date - start_date)), array_agg(DISTINCT state::text)
                          FROM task_instance WHERE (dag_id, run_id) IN {last} GROUP BY 1""", {"d": dag_id})
        tasks = {t: {"n": n, "sum_s": float(s or 0), "max_s": float(m or 0), "states": st} for t, n, s, m, st in cur.fetchall()}
        cur.execute(f"""SELECT extract(epoch FROM max(end_date) - min(start_date)) FROM task_instance
                         WHERE (dag_id, run_id) IN {last}""", {"d": dag_id})
        span = cur.fetchone()[0]
        cur.execute(f"SELECT state::text FROM dag_run WHERE (dag_id, run_id) IN {last}", {"d": dag_id})
        states = {r[0] for r in cur.fetchall()}
    return {"tasks": tasks, "tasks_span_s": float(span or 0), "state": "success" if states == {"success"} else "failed"}


def _night_batches(url: str, night: dt.date) -> dict:
    from xuncha.warehouse import db

    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT status, count(*), count(DISTINCT county_code),
                              sum(extract(epoch FROM finished_at - started_at)), sum(loaded_rows)
                         FROM audit.batches WHERE business_date = %s GROUP BY 1""", (night,))
        by = {s: {"exports": n, "counties": c, "pipeline_s": float(p or 0), "rows": int(r or 0)} for s, n, c, p, r in cur.fetchall()}
        cur.execute("SELECT count(*) FROM audit.deadline_misses WHERE business_date = %s", (night,))
        misses = cur.fetchone()[0]
        cur.execute("SELECT count(*), count(DISTINCT as_of) FROM mart.refresh_log WHERE as_of = %s", (night,))
        units, days = cur.fetchone()
    return {"by_status": by, "deadline_misses": misses, "marts_units_for_night": units}


class Case:
    """One XUNCHA_HOME: its registry, set-up (untimed), and the timed night."""

    def __init__(self, name: str, home: Path, gen: Path, night: dt.date, synth: list[str]):
        from xuncha import registry

        self.name, self.home, self.gen, self.night = name, home, gen, night
        shutil.rmtree(home, ignore_errors=True)
        self.config = home / "config"
        _write_config(self.config, synth)
        self.env = _case_env(home, self.config)
        self.settings = _settings(self.env)
        self.reg = registry.load(self.config / "counties.yml")
        self.pulled = {c.code for c in self.reg.counties if c.pulled}
        self.exports = _night_exports(gen, night)
        self.pairs = clone_pairs(synth, list(self.exports))
        self.expected = len(self.exports) + len(synth)
        planned = [c for c in self.reg.active(night) if c.exports_on(night)]
        assert len(planned) == self.expected, (len(planned), self.expected)

    def setup(self, pgdata_from: Path | None = None) -> None:
        if pgdata_from:
            # cp -a keeps owners: as root, pgserver runs PostgreSQL as the user `pgserver`, which owns the data.
            self.settings.pgdata.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-a", str(pgdata_from), str(self.settings.pgdata)], check=True)
        print(f"  [{self.name}] set-up (untimed): server, migrations, Airflow db, "
              + (f"nights {TERM_START} … {self.night - dt.timedelta(days=1)} preloaded" if not pgdata_from
                 else "the preloaded data directory copied")
              + (f", {len(self.pairs)} synthetic counties cloned from {len({s for _, s in self.pairs})} units" if self.pairs else "")
              + " …", flush=True)
        self.setup_info = _child(["_setup", str(self.gen), self.night.isoformat(), *(f"{c}:{s}" for c, s in self.pairs)], self.env)
        served = self.home / "county-systems"
        for code, d in self.exports.items():
            shutil.copytree(d, (served if code in self.pulled else self.settings.landing) / code / d.name)
        for code, source in self.pairs:
            _clone_export(self.exports[source], self.settings.landing, code, source)

    def reg_codes(self) -> list[str]:
        """The codes of the case's registry (its XUNCHA_CONFIG) that export on its night."""
        return [c.code for c in self.reg.active(self.night) if c.exports_on(self.night)]

    def stop(self) -> None:
        if (self.settings.pgdata / "PG_VERSION").exists():
            subprocess.run([sys.executable, str(Path(__file__)), "_stop"], env=self.env, cwd=ROOT, check=False)

    def run(self) -> dict:
        from xuncha.orchestration import env as airflow_env
        from xuncha.warehouse import db
        from xuncha_sim.countyserver import CountyServer

        night, name = self.night, self.name
        tokens = {code: f"bench-token-{code}" for code in self.pulled}
        logs = self.home / "logs"
        logs.mkdir(exist_ok=True)
        overrides = {k: self.env[k] for k in ("XUNCHA_HOME", "XUNCHA_CONFIG", "XUNCHA_GO_LIVE")}
        url = db.owner_url(self.settings)                 # (re)starts the case's server if it was stopped
        airflow_url = db.airflow_db_url(self.settings)
        with CountyServer(self.home / "county-systems", tokens) as server:
            for code, token in tokens.items():
                overrides |= airflow_env.county_connection_env(self.reg.get(code).delivery["http"]["conn_id"], server.url, token)
            # The fixed cost of a night's `airflow dags test` runs: xuncha_night for the night before (already loaded).
            t = time.perf_counter()
            airflow_env.dags_test("xuncha_night", conf={"night": (night - dt.timedelta(days=1)).isoformat()},
                                  settings=self.settings, env=overrides, log=logs / "night-empty.log", check=False)
            t_empty = time.perf_counter() - t
            empty = _task_times(airflow_url, "xuncha_night")
            print(f"  [{name}] fixed cost: xuncha_night {t_empty:.1f} s", flush=True)
            # The night: `airflow dags test` of each county DAG (issue 23), in one process, logical date now.
            t = time.perf_counter()
            codes = airflow_env.dags_test_many([f"xuncha_county_{c}" for c in self.reg_codes()], logs / "counties",
                                               {"night": night.isoformat()}, settings=self.settings, env=overrides)
            t_nightly = time.perf_counter() - t
            nightly = _task_times(airflow_url, "xuncha_county_%")
            nightly["exit_codes"] = {d: rc for d, rc in codes.items() if rc}
            t = time.perf_counter()
            airflow_env.dags_test("xuncha_marts", settings=self.settings, env=overrides, log=logs / "marts.log")
            t_marts = time.perf_counter() - t
            marts = _task_times(airflow_url, "xuncha_marts")
        batches = _night_batches(url, night)
        loaded = batches["by_status"].get("loaded", {}).get("exports", 0)
        bad = {s: v["exports"] for s, v in batches["by_status"].items() if s != "loaded"}
        ok = loaded == self.expected and not bad and nightly["state"] == "success" and marts["state"] == "success"
        ti = nightly["tasks"]
        print(f"  [{name}] {self.expected} counties: nightly {t_nightly:.1f} s + marts {t_marts:.1f} s = {t_nightly + t_marts:.1f} s; "
              f"{loaded}/{self.expected} exports loaded{f', NOT loaded: {bad}' if bad else ''}; tasks: "
              + ", ".join(f"{k} {v['n']}x {v['sum_s']:.1f} s" for k, v in sorted(ti.items()))
              + f"; refresh {marts['tasks'].get('refresh', {}).get('sum_s', 0):.1f} s", flush=True)
        if not ok:
            raise RuntimeError(f"P3 {name}: the night did not load cleanly ({loaded}/{self.expected} loaded, {bad}, "
                               f"nightly {nightly['state']}, marts {marts['state']}); logs in {logs}")
        return {"counties": self.expected, "synthetic": len(self.pairs), "clone_sources": sorted({s for _, s in self.pairs}),
                "setup": self.setup_info, "t_empty": t_empty, "t_nightly": t_nightly, "t_marts": t_marts,
                "empty_tasks": empty, "nightly_tasks": nightly, "marts_tasks": marts, "batches": batches, "home": str(self.home)}


def p3(work: Path, quick: bool) -> None:
    import bench_rows as run
    fmt = run.fmt
    from xuncha_sim.generator import generate

    k = 20 if quick else 180
    print(f"\nP3 nightly fan-out: night {NIGHT}, the seed units, then + {k} synthetic counties", flush=True)
    gen = work / "p3-seed"
    shutil.rmtree(gen, ignore_errors=True)
    t = time.perf_counter()
    generate(gen, profile="seed", start=TERM_START, end=NIGHT, progress=False)
    print(f"  generated the seed nights {TERM_START} … {NIGHT} in {time.perf_counter() - t:.0f} s (untimed)", flush=True)
    a = Case("units", work / "p3-units", gen, NIGHT, [])
    b = Case("synth", work / "p3-synth", gen, NIGHT, [str(SYNTH_BASE + i) for i in range(1, k + 1)])
    try:
        a.setup()
        a.stop()                                   # the preloaded warehouse, copied as the synth case's starting point
        b.setup(pgdata_from=a.settings.pgdata)
        b.stop()                                   # one server at a time during the timed runs
        ra = a.run()
        a.stop()
        rb = b.run()
    finally:
        a.stop()
        b.stop()
    na, nb = ra["counties"], rb["counties"]
    wall_a = ra["t_nightly"] + ra["t_marts"]
    fixed = (ra["t_empty"] + rb["t_empty"]) / 2
    per_a = (ra["t_nightly"] - fixed) / na
    per_b = (rb["t_nightly"] - fixed) / nb
    pipe_b = rb["batches"]["by_status"]["loaded"]["pipeline_s"] / nb
    over_b = per_b - pipe_b
    marg = (rb["t_nightly"] - ra["t_nightly"]) / (nb - na)
    run.row(f"P3 {na} systems: nightly + marts DAG runs (s)", fmt(wall_a), "120", f"{wall_a / 120:.2f}x", "<= 120 s", wall_a <= 120)
    run.row(f"P3 overhead per county at {nb} (s)", fmt(over_b), fmt(per_b), f"{over_b / per_b:.2f}x", "<= 5 s", over_b <= 5)
    run.row(f"P3 linear: s/county at {nb} vs at {na}", fmt(per_b), fmt(per_a), f"{per_b / per_a:.2f}x", "<= 1.5x",
            per_b / per_a <= 1.5)
    P3_DETAIL.update(night=NIGHT.isoformat(), units=ra, synth=rb, fixed_s=fixed, per_county_s={str(na): per_a, str(nb): per_b},
                     marginal_s_per_county=marg, pipeline_s_per_county=pipe_b, overhead_s_per_county=over_b,
                     wall_units_s=wall_a)
    print(f"  fixed {fixed:.1f} s per nightly `dags test`; per county {per_a:.2f} s at {na}, {per_b:.2f} s at {nb}; "
          f"marginal {marg:.2f} s/county; in-process pipeline {pipe_b:.2f} s/county; marts {ra['t_marts']:.1f} s at {na}, "
          f"{rb['t_marts']:.1f} s at {nb}", flush=True)
    shutil.rmtree(gen, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1] == "_setup":
        gen, night, *pairs = sys.argv[2:]
        _setup_child(Path(gen), dt.date.fromisoformat(night), [tuple(p.split(":")) for p in pairs])
    elif sys.argv[1] == "_stop":
        _stop_child()
