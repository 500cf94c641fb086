"""Each row written once (issue 16) on a real PostgreSQL: core holds the current version of a key, history only the
versions a newer one superseded (sql/load/merge.sql, withdraw.sql, late.sql; migration 0090), and the as-of
functions give, on every day, the rows they gave when history held every version."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

from conftest import query

from xuncha.warehouse import db
from xuncha.load import merge as loading
from xuncha.warehouse import migrate
from xuncha.normalize import typed
from xuncha.spec import load_spec

STAGING = "staging.b990016_findings"
COLS = "county_code, finding_id, inspection_id, category, found_date, summary, updated_at, withdrawn_at, batch_id"
DAYS = [dt.date(2023, 12, 31) + dt.timedelta(days=i) for i in range(8)]   # 2023-12-31 … 2024-01-07


def _at(day: int, hour: int = 10) -> str:
    return f"2024-01-{day:02d}T{hour:02d}:00:00+08:00"


def _stage(cur, rows):
    """A staged findings file: rows of (finding_id, summary, updated_at); summary names the version (K1v2)."""
    cur.execute(f"DROP TABLE IF EXISTS {STAGING}")
    cur.execute(f"""CREATE UNLOGGED TABLE {STAGING} (row_no bigint GENERATED ALWAYS AS IDENTITY, finding_id text,
                    inspection_id text, category text, found_date text, summary text, updated_at text)""")
    for key, summary, updated in rows:
        cur.execute(f"INSERT INTO {STAGING} (finding_id, inspection_id, category, found_date, summary, updated_at) "
                    "VALUES (%s, 'I1', 'SL1', '2024-01-01', %s, %s)", (key, summary, updated))
    typed.cast_once(cur, STAGING, load_spec().entity("findings"))   # as staging.stage_export does


def _night(url, county, lineage, batch, rows, snapshot_at=None):
    """One export in its own transaction, as the pipeline publishes it: merge, then (full snapshot) withdraw."""
    entity = load_spec().entity("findings")
    with db.connect(url) as conn, conn.cursor() as cur:
        _stage(cur, rows)
        load = loading.merge(cur, entity, STAGING, county, lineage, batch)
        if snapshot_at:
            load = dataclasses.replace(load, withdrawn=loading.withdraw_absent(
                cur, entity, STAGING, lineage, batch, dt.datetime.fromisoformat(snapshot_at)))
        cur.execute(f"DROP TABLE {STAGING}")
    return load


def _core(url):
    return query(url, f"SELECT {COLS} FROM core.findings ORDER BY 1, 2")


def _history(url):
    return query(url, f"SELECT {COLS}, change FROM history.findings ORDER BY finding_id, recorded_at, batch_id")


def _as_of(url):
    return query(url, "SELECT as_of, finding_id, summary FROM mart.findings_as_of(%s::date[]) ORDER BY 1, 2", (DAYS,))


# The versions in force at the end of each day (Asia/Shanghai) in the nights of test_..._written_once below.
EXPECTED = {
    DAYS[0]: [],
    DAYS[1]: ["K1v1", "K2v1", "K3v1"],
    DAYS[2]: ["K1v2", "K2v2", "K3v1", "K4v1"],
    DAYS[3]: ["K1v2", "K2v3", "K3v1", "K4v1"],
    DAYS[4]: ["K1v2", "K2v3", "K4v1"],                 # K3 withdrawn by the snapshot of day 4, 23:00
    DAYS[5]: ["K1v2", "K2v3", "K3v2", "K4v1"],         # re-sent after the withdraw
    DAYS[6]: ["K1v2", "K2v3", "K3v2", "K4v1"],
    DAYS[7]: ["K1v2", "K2v3", "K3v2", "K4v1"],
}

# The as-of rule of migration 0010 over every version (history and core's current one, recorded last): the
# reference the core-first as-of functions must equal.
ALL_VERSIONS_AS_OF = """
    WITH v AS (
        SELECT county_code, finding_id, summary, withdrawn_at, updated_at, batch_id, recorded_at FROM history.findings
        UNION ALL
        SELECT county_code, finding_id, summary, withdrawn_at, updated_at, batch_id, 'infinity' FROM core.findings
    ), w AS (
        SELECT v.*, coalesce(withdrawn_at, updated_at) AS valid_from,
               min(coalesce(withdrawn_at, updated_at)) OVER (PARTITION BY county_code, finding_id ORDER BY recorded_at, batch_id
                                                          ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS valid_to
          FROM v
    )
    SELECT d, finding_id, summary FROM w, unnest(%s::date[]) d
     WHERE valid_from < mart.day_end(d) AND (valid_to IS NULL OR valid_to >= mart.day_end(d)) AND withdrawn_at IS NULL
     ORDER BY 1, 2"""


def test_a_row_is_written_once_and_history_holds_exactly_the_superseded_versions(clean):
    # Night 1, county P1: three fresh keys. Core only; history gets nothing.
    load = _night(clean, "P1", ("P1",), 1, [("K1", "K1v1", _at(1)), ("K2", "K2v1", _at(1)), ("K3", "K3v1", _at(1))])
    assert (load.inserted, load.updated) == (3, 0)
    assert query(clean, "SELECT count(*) FROM history.findings") == [(0,)], "a fresh insert writes no history row"
    night1 = _core(clean)

    # Night 2, A1 continuing P1 (2021 codes: 410322 → 410308): K1 and K2 updated, K4 new. History gets exactly
    # the two versions superseded, as core held them (P1's code, batch 1), once; the new versions stay P1's rows.
    load = _night(clean, "A1", ("A1", "P1"), 2, [("K1", "K1v2", _at(2)), ("K2", "K2v3", _at(3)), ("K4", "K4v1", _at(2))])
    assert (load.inserted, load.updated) == (1, 2)
    assert _history(clean) == [r + ("insert",) for r in night1 if r[1] in ("K1", "K2")]
    assert query(clean, "SELECT county_code, finding_id, summary, batch_id FROM core.findings ORDER BY 2") == [
        ("P1", "K1", "K1v2", 2), ("P1", "K2", "K2v3", 2), ("P1", "K3", "K3v1", 1), ("A1", "K4", "K4v1", 2)]

    # Night 3, a full snapshot generated on day 4 at 23:00: K2's day-2 version arrives late (older than core's),
    # K3 is gone (withdrawn), K1 and K4 unchanged. History: the late version with its own batch, and K3's live
    # version that the withdraw superseded; the withdrawn version is core's row.
    before = {r[1]: r for r in _core(clean)}
    load = _night(clean, "A1", ("A1", "P1"), 3, [("K1", "K1v2", _at(2)), ("K2", "K2v2", _at(2)), ("K4", "K4v1", _at(2))],
                  snapshot_at=_at(4, 23))
    assert (load.inserted, load.updated, load.late, load.withdrawn) == (0, 0, 1, 1)
    history = _history(clean)
    assert [(h[1], h[5], h[8], h[9]) for h in history] == [
        ("K1", "K1v1", 1, "insert"), ("K2", "K2v1", 1, "insert"), ("K2", "K2v2", 3, "update"), ("K3", "K3v1", 1, "insert")]
    assert history[3] == before["K3"] + ("insert",)
    assert query(clean, "SELECT summary, withdrawn_at IS NOT NULL, batch_id FROM core.findings WHERE finding_id = 'K3'") == [
        ("K3v1", True, 3)]

    # Night 4: K3 re-sent after the withdraw. The withdrawn version moves to history (change 'withdraw', batch 3).
    withdrawn = {r[1]: r for r in _core(clean)}["K3"]
    _night(clean, "A1", ("A1", "P1"), 4, [("K3", "K3v2", _at(5))])
    assert _history(clean)[-1] == withdrawn + ("withdraw",)
    assert query(clean, "SELECT count(*) FROM history.findings") == [(5,)]

    # Replays change nothing: the same nights again write no history row.
    _night(clean, "A1", ("A1", "P1"), 5, [("K1", "K1v2", _at(2)), ("K2", "K2v2", _at(2)), ("K3", "K3v2", _at(5))])
    assert query(clean, "SELECT count(*) FROM history.findings") == [(5,)]

    # As of every day: the versions in force, equal to the all-versions rule of 0010 (history then core).
    got = _as_of(clean)
    assert {d: [s for day, _, s in got if day == d] for d in DAYS} == EXPECTED
    assert got == query(clean, ALL_VERSIONS_AS_OF, (DAYS,))
    # one county's codes only: P1's rows (K1-K3) and A1's (K4) come apart by county_code
    assert query(clean, "SELECT DISTINCT finding_id FROM mart.findings_as_of(%s::date[], ARRAY['A1']) ORDER BY 1",
                 (DAYS,)) == [("K4",)]


def test_migration_0090_keeps_the_closed_versions_and_every_as_of_row(fresh_db, tmp_path):
    # A warehouse before 0090, with the as-of functions of 0013 (history holds every version, the current one too).
    old = tmp_path / "migrations"
    old.mkdir()
    for m in migrate.discover():
        if m.version < 90:
            shutil.copy(m.path, old / m.path.name)
    migrate.migrate(fresh_db, old, repeatable_dir=None)
    # Every version as the old loader wrote it: K1 v1 → v2; K2 v1, v3, then v2 late (placed between); K3 v1, withdrawn
    # on day 4, re-sent v2; K4 v1 only; K5 v1 then withdrawn (its current version is the withdraw).
    t0 = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
    versions = [  # (key, summary, updated day, withdrawn (day, hour), batch, change, recorded_at minute)
        ("K1", "K1v1", 1, None, 1, "insert", 1), ("K1", "K1v2", 2, None, 2, "update", 2),
        ("K2", "K2v1", 1, None, 1, "insert", 1), ("K2", "K2v3", 3, None, 2, "update", 2),
        ("K2", "K2v2", 2, None, 3, "update", 1.5),
        ("K3", "K3v1", 1, None, 1, "insert", 1), ("K3", "K3v1", 1, (4, 23), 3, "withdraw", 3),
        ("K3", "K3v2", 5, None, 4, "update", 4),
        ("K4", "K4v1", 2, None, 2, "insert", 2),
        ("K5", "K5v1", 1, None, 1, "insert", 1), ("K5", "K5v1", 1, (3, 23), 3, "withdraw", 3),
    ]
    with db.connect(fresh_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT core.add_county('P1')")
        last = {}
        for key, summary, day, wd, batch, change, minute in versions:
            row = ("P1", key, "I1", "SL1", "2024-01-01", summary, _at(day), _at(*wd) if wd else None, batch)
            cur.execute(f"INSERT INTO history.findings ({COLS}, change, recorded_at) VALUES "
                        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        row + (change, t0 + dt.timedelta(minutes=minute)))
            if key not in last or minute > last[key][0]:
                last[key] = (minute, row)
        for _, row in last.values():
            cur.execute(f"INSERT INTO core.findings ({COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
    before = _as_of(fresh_db)
    closed = [h for h in _history(fresh_db) if (h[1], h[5], h[7] is None) not in
              {("K1", "K1v2", True), ("K2", "K2v3", True), ("K3", "K3v2", True), ("K4", "K4v1", True), ("K5", "K5v1", False)}]

    assert [m.version for m in migrate.migrate(fresh_db)] == [m.version for m in migrate.discover() if m.version >= 90]
    assert _history(fresh_db) == closed and len(closed) == 6, "exactly the current versions left history"
    assert _as_of(fresh_db) == before, "as of every day, the same rows"
    assert {d: [s for day, _, s in before if day == d] for d in DAYS} == EXPECTED | {
        DAYS[1]: ["K1v1", "K2v1", "K3v1", "K5v1"], DAYS[2]: ["K1v2", "K2v2", "K3v1", "K4v1", "K5v1"]}
