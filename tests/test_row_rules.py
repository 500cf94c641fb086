"""A file's row rules answered in one pass (issue 26, xuncha.validate.row_rules) find exactly what each rule's own
query finds: the same rows, values and order, for every rule of every suite, on messy staged rows in real
PostgreSQL (blanks, bad dates, impossible dates, timestamps after the export's time, person data, placeholder and
full-width ids, repeated keys, references to rows of the export, of core, and to nothing)."""

from __future__ import annotations

import datetime as dt
import random

import psycopg2
import pytest

from xuncha.normalize import typed
from xuncha.spec import ENTITY_ORDER, load_spec
from xuncha.validate import row_rules
from xuncha.validate.suites import load_suite
from xuncha.validate.validation import resolve
from xuncha.warehouse import db

BOUND = dt.datetime(2024, 6, 2, 3, 0, tzinfo=dt.timezone.utc)
LINEAGE = ("410302",)

POOL = {
    "date": ["2019-03-15", "2019-3-15", "2019-02-30", "2024-06-01", "15/03/2019", "", "  2019-03-16 "],
    "timestamp": ["2019-03-15T20:00:00+08:00", "2999-01-01T00:00:00+08:00", "2024-06-02T10:00:00+08:00",
                  "2019-03-15 20:00", "not a time", "2024-06-02T11:00:01+08:00"],
    "integer": ["1", "-3", "99999999999", "abc", "4.5", "0"],
    "decimal": ["12000.50", "-1", "1e3", "12000.505", "x", "100000000000000000"],
    "string": ["当事人身份证号410302198001011230，已谈话", "联系电话13812345678", "编号 410325-F0001", "正常文本",
               "卡号6222021234567894转入", "None", "Ｆ全角", "违规资金 12345678.90 元", "????"],
    "id": ["ID-1", "ID-2", "ID-3", "MISSING-9", "None", "N/A", "ＩＤ全角", "13812345678", "ID-1", "4.1E+11"],
}


def _value(rnd: random.Random, column) -> str | None:
    if rnd.random() < 0.12:
        return None
    if column.type == "code":
        return rnd.choice(["01", "02", "99", "x"])
    if column.pattern or column.ref or column.name.endswith("_id"):
        return rnd.choice(POOL["id"])
    kind = {"date": "date", "timestamp": "timestamp", "integer": "integer", "decimal": "decimal"}.get(column.type, "string")
    return rnd.choice(POOL[kind])


@pytest.fixture(scope="module")
def staged(warehouse):
    """Every entity's view of 400 seeded messy rows, as xuncha.validate.groups.relations makes them; the same views
    stand for `{export.<entity>}` (so some references resolve and some do not)."""
    spec = load_spec()
    rnd = random.Random(26)
    views = {}
    with db.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        for entity in ENTITY_ORDER:
            e = spec.entity(entity)
            table = f"staging.rr_test_{entity}"
            cols = ", ".join(f"{c} text" for c in e.column_names)
            cur.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
            cur.execute(f"CREATE TABLE {table} (row_no bigint, {cols})")
            rows = [(i, *[_value(rnd, c) for c in e.columns]) for i in range(1, 401)]
            cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * (len(e.columns) + 1))})", rows)
            typed.cast_once(cur, table, e)   # trimmed text and the typed copies the castability rules read
            cur.execute(f"CREATE VIEW {table}_v AS SELECT 7::bigint AS batch_id, '{BOUND.isoformat()}'::timestamptz "
                        f"AS updated_at_bound, t.* FROM {table} t")
            views[entity] = f"{table}_v"
        yield views
        for entity in ENTITY_ORDER:
            cur.execute(f"DROP TABLE IF EXISTS staging.rr_test_{entity} CASCADE")


@pytest.mark.parametrize("workers", [1, 2], ids=["one connection", "two connections"])
@pytest.mark.parametrize("entity", ENTITY_ORDER)
def test_one_pass_finds_exactly_the_rows_each_rule_query_finds(warehouse, staged, entity, workers, monkeypatch):
    """Also on two connections at once (a large file's way: here every file counts as large), where each rule's rows
    must still come back in its own query's order."""
    monkeypatch.setattr(row_rules, "PARALLEL_ROWS", 1)
    rules = [(i, resolve(e["kwargs"]["unexpected_rows_query"], staged, LINEAGE))
             for i, e in enumerate(load_suite(entity)["expectations"]) if e["type"] == "unexpected_rows_expectation"]
    assert rules
    view, verdicts = staged[entity], f"staging.rr_test_{entity}__rules"
    failing = 0
    with db.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        row_rules.answer(lambda: psycopg2.connect(db.dsn(warehouse)), view, verdicts, rules, workers=workers)
        for index, query in rules:
            cur.execute(f"SELECT row_no, value::text, to_jsonb(q) ->> 'column_name', to_jsonb(q) ->> 'why' "
                        f"FROM ({query.format(batch=view)}) q")
            own = cur.fetchall()
            cur.execute(row_rules.verdict_query(verdicts, index).format(batch=view))
            assert cur.fetchall() == own, (entity, index, query)
            failing += len(own)
        cur.execute(f"DROP TABLE {verdicts}")
    assert failing > 0, "the rows must break some rules for the comparison to mean anything"


@pytest.mark.parametrize("entity", ENTITY_ORDER)
def test_every_row_rule_but_the_keys_uniqueness_shares_the_one_scan(staged, entity):
    for e in load_suite(entity)["expectations"]:
        if e["type"] != "unexpected_rows_expectation":
            continue
        query = resolve(e["kwargs"]["unexpected_rows_query"], staged, LINEAGE).format(batch=staged[entity])
        folded = row_rules.row_condition(query, staged[entity]) is not None
        # Run as written: the key's uniqueness (an aggregate) and issue 27's as-issued rule (already one scan over
        # all its columns, each row with its own column_name and why).
        alone = e["meta"]["rule"].endswith("unique within the file") or "column_name" in query
        assert folded != alone, e["meta"]["rule"]


def test_a_rule_that_is_not_one_row_filter_runs_as_written():
    view = "staging.v"
    assert row_rules.row_condition("SELECT row_no, a AS value FROM staging.v WHERE a IS NULL", view) == ("a", "a IS NULL")
    assert row_rules.row_condition("SELECT row_no, a AS value FROM staging.v WHERE a IS NULL ORDER BY row_no", view) is None
    assert row_rules.row_condition("SELECT row_no, a AS value FROM staging.w WHERE a IS NULL", view) is None
    assert row_rules.row_condition("SELECT row_no, a AS value FROM (SELECT max(row_no) AS row_no, a FROM staging.v "
                                   "GROUP BY a) r", view) is None
    assert row_rules.row_condition("SELECT row_no, a AS value FROM staging.v WHERE a NOT IN (SELECT b FROM t "
                                   "GROUP BY b)", view) == ("a", "a NOT IN (SELECT b FROM t GROUP BY b)")


@pytest.mark.parametrize("entity", ENTITY_ORDER)
def test_castability_read_from_the_typed_copy_fails_what_the_parser_fails(warehouse, staged, entity):
    """The castability rules read the cast pass's `<column>__typed` (issue 26: each value parsed once); on messy
    values they fail exactly the rows PostgreSQL's parser itself fails (staging.is_valid, the rule's earlier form),
    and updated_at's bound the same rows as the bound on the parsed text."""
    spec, view, checked = load_spec().entity(entity), staged[entity], 0
    rules = {e["meta"]["rule"]: e["kwargs"]["unexpected_rows_query"] for e in load_suite(entity)["expectations"]
             if e["type"] == "unexpected_rows_expectation"}
    with db.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        for c in spec.columns:
            rule = [q for r, q in rules.items() if r.startswith(f"{c.name} is a valid {c.type}")]
            if not typed.typed_column(c) or not rule:
                continue
            if c.type_info.valid_as != c.type_info.pg_type:   # decimal: numeric(16,2) is not what the rule parses as
                assert "staging.is_valid" in rule[0], rule[0]
                continue
            assert f"{c.name}__typed" in rule[0], rule[0]
            parser = (f"CASE WHEN staging.is_valid({c.name}, 'timestamptz') THEN {c.name}::timestamptz > updated_at_bound "
                      f"ELSE true END" if c.name == "updated_at" else f"NOT staging.is_valid({c.name}, '{c.type_info.valid_as}')")
            cur.execute(f"SELECT row_no FROM ({rule[0].format(batch=view)}) q ORDER BY 1")
            typed_rows = cur.fetchall()
            cur.execute(f"SELECT row_no FROM {view} WHERE {c.name} IS NOT NULL AND {parser} ORDER BY 1")
            assert typed_rows == cur.fetchall() and typed_rows, (entity, c.name)
            checked += 1
    assert checked, "every entity has updated_at"
