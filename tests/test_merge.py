"""sql/load/merge.sql on a real PostgreSQL: which staged row wins, which core row it meets, what history gets."""

from __future__ import annotations

import pytest
from conftest import query

from xuncha.warehouse import db
from xuncha.load import merge as loading
from xuncha.normalize import typed
from xuncha.spec import load_spec

STAGING = "staging.b990001_findings"

# (county_code, finding_id, updated_at day, withdrawn_at day) already in core; A1 continues P1.
CORE = [
    ("A1", "k_old", 5, None), ("A1", "k_eq", 5, None), ("A1", "k_new", 5, None),
    ("A1", "k_wd_eq", 5, 6), ("A1", "k_wd_old", 5, 6), ("A1", "k_wd_new", 5, 6),
    ("P1", "p_new", 5, None), ("P1", "p_old", 5, None), ("P1", "p_wd_eq", 5, 6),
    ("P1", "both", 5, None), ("A1", "both", 4, None), ("Z9", "other", 1, None),
]
# (finding_id as sent, updated_at day): summary is s<row_no>
STAGED = [
    ("k_old", 4), ("k_eq", 5), ("k_new", 6), ("k_wd_eq", 5), ("k_wd_old", 4), ("k_wd_new", 7), ("p_new", 9),
    ("p_old", 1), ("both", 8), ("p_wd_eq", 5), ("fresh", 2), ("dup", 2), ("dup", 3), ("dup", 1), ("dup2", 3),
    ("dup2", 3), (" other ", 9), ("k_new", 5),
]


def _ts(day):
    return None if day is None else f"2024-01-{day:02d}T00:00:00Z"


@pytest.fixture
def staged(clean):
    with db.connect(clean) as conn, conn.cursor() as cur:
        for county, key, updated, withdrawn in CORE:
            cur.execute("INSERT INTO core.findings VALUES (%s, %s, 'I1', 'SL1', '2024-01-01', 'core', %s, %s, 7)",
                        (county, key, _ts(updated), _ts(withdrawn)))
        cur.execute(f"DROP TABLE IF EXISTS {STAGING}")
        cur.execute(f"""CREATE UNLOGGED TABLE {STAGING} (row_no bigint GENERATED ALWAYS AS IDENTITY, finding_id text,
                        inspection_id text, category text, found_date text, summary text, updated_at text)""")
        for n, (key, day) in enumerate(STAGED, start=1):
            cur.execute(f"INSERT INTO {STAGING} (finding_id, inspection_id, category, found_date, summary, updated_at) "
                        "VALUES (%s, ' I2 ', 'SL2', '2024-02-01', %s, %s)", (key, f"s{n}", f"2024-01-{day:02d}T08:00:00+08:00"))
        typed.cast_once(cur, STAGING, load_spec().entity("findings"))   # as staging.stage_export does
    yield clean
    query(clean, f"DROP TABLE IF EXISTS {STAGING}")


def _merge(url, lineage, batch_id):
    with db.connect(url) as conn, conn.cursor() as cur:
        return loading.merge(cur, load_spec().entity("findings"), STAGING, "A1", lineage, batch_id)


@pytest.mark.parametrize("lineage, inserted, updated", [
    (("A1",), {"A1": ["dup", "dup2", "fresh", "other", "p_new", "p_old", "p_wd_eq"]},
     {"A1": ["both", "k_new", "k_wd_eq", "k_wd_new"]}),
    (("A1", "P1"), {"A1": ["dup", "dup2", "fresh", "other"]},
     {"A1": ["both", "k_new", "k_wd_eq", "k_wd_new"], "P1": ["p_new", "p_wd_eq"]}),
])
def test_merge_matches_the_lineage_and_keeps_the_newest_row(staged, lineage, inserted, updated):
    n_ins, n_upd = sum(map(len, inserted.values())), sum(map(len, updated.values()))
    load = _merge(staged, lineage, 42)
    assert (load.staged, load.inserted, load.updated) == (14, n_ins, n_upd)

    changed = {(c, k) for part in (inserted, updated) for c, keys in part.items() for k in keys}
    rows = query(staged, "SELECT county_code, finding_id, inspection_id, summary, withdrawn_at, batch_id FROM core.findings")
    by_key = {(c, k): (i, s, w, b) for c, k, i, s, w, b in rows}
    assert len(rows) == len(CORE) + n_ins
    for key, (insp, summary, withdrawn, batch) in by_key.items():
        if key in changed:  # trimmed, last row of its key in the file, live again, this batch
            assert (insp, withdrawn, batch) == ("I2", None, 42)
        else:
            assert (summary, batch) == ("core", 7)
    # last row per key wins: by updated_at, then by row number
    assert by_key[("A1", "dup")][1] == "s13" and by_key[("A1", "dup2")][1] == "s16"
    assert by_key[("A1", "k_new")][1] == "s3"
    # a key under the county's own code and a predecessor's: the county's own row is the one updated
    assert by_key[("P1", "both")][1] == "core" and by_key[("A1", "both")][1] == "s9"

    # History gets each superseded version once (issue 16): a fresh insert writes none; an update moves core's old
    # row there as it was (its batch 7, 'withdraw' when it was withdrawn, else 'insert': the key had no earlier
    # version); a version older than core's (late.sql) goes there with this batch, closed by core's current one.
    late = {(c, k) for c, k, day, _ in CORE if c in lineage and any(
        s.strip() == k and d < day for s, d in STAGED) and (c, k) not in changed and k != "both"}
    history = query(staged, "SELECT county_code, finding_id, change, summary, withdrawn_at IS NOT NULL, batch_id "
                            "FROM history.findings ORDER BY 1, 2")
    withdrawn = {(c, k) for c, k, _, w in CORE if w is not None}
    expected = sorted([(c, k, "withdraw" if (c, k) in withdrawn else "insert", "core", (c, k) in withdrawn, 7)
                       for c, keys in updated.items() for k in keys]
                      + [(c, k, "update") for c, k in late])
    assert [h if h[2] != "update" else h[:3] for h in history] == expected
    assert all(h[3].startswith("s") and not h[4] and h[5] == 42 for h in history if h[2] == "update")
    assert load.late == len(late) and not {(c, k) for c, k, *_ in history} & {(c, k) for c, keys in inserted.items() for k in keys}

    again = _merge(staged, lineage, 43)  # the same file once more: nothing changes
    assert (again.staged, again.inserted, again.updated) == (14, 0, 0)
    assert query(staged, "SELECT count(*) FROM history.findings") == [(n_upd + len(late),)]


def test_a_full_snapshot_withdraws_only_keys_it_no_longer_holds(staged):
    import datetime as dt

    lineage = ("A1", "P1")
    _merge(staged, lineage, 42)  # every staged key is now live under A1 or P1, ' other ' as 'other'
    with db.connect(staged) as conn, conn.cursor() as cur:
        n = loading.withdraw_absent(cur, load_spec().entity("findings"), STAGING, lineage, 42,
                                    dt.datetime(2024, 1, 31, tzinfo=dt.timezone.utc))
    # live before: k_old, k_eq, p_old and the changed keys; the snapshot holds all of them. Z9's row is no lineage's.
    assert n == 0
    query(staged, f"DELETE FROM {STAGING} WHERE finding_id IN ('k_old', 'p_old')")
    with db.connect(staged) as conn, conn.cursor() as cur:
        n = loading.withdraw_absent(cur, load_spec().entity("findings"), STAGING, lineage, 43,
                                    dt.datetime(2024, 1, 31, tzinfo=dt.timezone.utc))
    assert n == 2
    # the withdrawn version is core's row now; the live version it supersedes (batch 7, the key's first: its late
    # version of batch 42 does not count as earlier) moved to history, once
    assert query(staged, "SELECT county_code, finding_id, batch_id FROM core.findings WHERE withdrawn_at IS NOT NULL "
                         "AND batch_id = 43 ORDER BY 1") == [("A1", "k_old", 43), ("P1", "p_old", 43)]
    assert query(staged, "SELECT county_code, finding_id, change, summary, withdrawn_at, batch_id FROM history.findings "
                         "WHERE finding_id IN ('k_old', 'p_old') AND batch_id = 7 ORDER BY 1") == [
        ("A1", "k_old", "insert", "core", None, 7), ("P1", "p_old", "insert", "core", None, 7)]
