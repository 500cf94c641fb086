"""Who can read and write what (migration 0040, xuncha.warehouse.roles): each test logs in as the role it is about.

The suite's server trusts local logins over its Unix socket, so a role logs in by name; what it may do is then
PostgreSQL's privileges and row-level security alone.
"""

from __future__ import annotations

import psycopg2
import psycopg2.errors
import pytest
from conftest import query

from xuncha.warehouse import db
from xuncha.warehouse import roles

DENIED = (psycopg2.errors.InsufficientPrivilege,)
INTERNAL = ("mart.refresh_log", "mart.refresh_watermark", "mart.state_horizon", "mart.state_horizon_batches")
"""The refresh's bookkeeping (migration 0152): the loader's, out of the readers' sight."""


def _as(url: str, sql: str, params=None):
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


@pytest.fixture(scope="module")
def marts(warehouse, settings):
    """Two rows per unit in mart.findings_by_category and mart.clue_disposal: the crosswalk from the registry
    (410381 偃师市 → 410307 偃师区; 410322 孟津县, 410306 吉利区 → 410308 孟津区), written as the loader."""
    from xuncha import registry
    from xuncha.metrics import marts as metrics

    loader = db.warehouse_url(settings)
    codes = ["410302", "410303", "410307", "410381", "410308", "410322", "410306"]
    with db.connect(loader) as conn, conn.cursor() as cur:
        metrics.sync_crosswalk(cur, registry.default())
        cur.execute("DELETE FROM mart.findings_by_category")
        for code in codes:
            cur.execute("INSERT INTO mart.findings_by_category (county_code, category, findings) VALUES (%s, 'A1', 1)",
                        (code,))
    yield codes
    query(warehouse, "DELETE FROM mart.findings_by_category")


def test_the_pipeline_default_is_the_loader(settings, warehouse):
    assert _as(db.warehouse_url(settings), "SELECT current_user") == [("xuncha_loader",)]
    assert _as(db.reader_url(settings), "SELECT current_user") == [("xuncha_reader",)]
    assert _as(db.reader_url(settings, county="410302"), "SELECT current_user") == [("xuncha_county_410302",)]
    assert _as(warehouse, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [(True,)]
    # no role but the owner can bypass row-level security or make roles
    assert query(warehouse, "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'xuncha\\_%%' "
                            "AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb)") == [(0,)]


@pytest.mark.parametrize("table", ["staging.does_not_matter", "core.findings", "history.findings", "audit.batches",
                                   "audit.alerts", "core.case_outcomes", "history.clues", *INTERNAL])
def test_a_reader_cannot_read_outside_the_mart_tables(settings, warehouse, table):
    for url in (db.reader_url(settings), db.reader_url(settings, county="410302")):
        with pytest.raises((*DENIED, psycopg2.errors.UndefinedTable)) as exc:
            _as(url, f"SELECT * FROM {table} LIMIT 1")
        if table != "staging.does_not_matter":
            assert isinstance(exc.value, DENIED), exc.value


@pytest.mark.parametrize("sql", [
    "INSERT INTO mart.findings_by_category (county_code, category, findings) VALUES ('410302', 'X', 1)",
    "UPDATE mart.findings_by_category SET findings = 0",
    "DELETE FROM mart.findings_by_category",
    "INSERT INTO audit.alerts (kind, county_code, message) VALUES ('quarantined', '410302', 'x')",
    "CREATE TABLE mart.mine (x int)",
    "CREATE TABLE staging.mine (x int)",
    "SELECT core.add_county('999999')",
])
def test_a_reader_writes_nowhere(settings, warehouse, marts, sql):
    for url in (db.reader_url(settings), db.reader_url(settings, county="410302")):
        with pytest.raises(DENIED):
            _as(url, sql)
    assert query(warehouse, "SELECT count(*) FROM mart.findings_by_category") == [(len(marts),)]


def test_the_reader_sees_every_county_and_a_county_reader_only_its_own(settings, marts):
    seen = _as(db.reader_url(settings), "SELECT county_code FROM mart.findings_by_category ORDER BY 1")
    assert sorted(c for (c,) in seen) == sorted(marts)
    own = _as(db.reader_url(settings, county="410302"), "SELECT county_code FROM mart.findings_by_category")
    assert own == [("410302",)]


def test_a_successor_sees_its_predecessors_rows_and_not_the_reverse(settings, marts):
    def seen(code):
        return sorted(c for (c,) in _as(db.reader_url(settings, county=code),
                                        "SELECT DISTINCT county_code FROM mart.findings_by_category"))

    assert seen("410307") == ["410307", "410381"]              # 偃师区 continues 偃师市
    assert seen("410308") == ["410306", "410308", "410322"]    # 孟津区 continues 孟津县 and 吉利区
    assert seen("410381") == ["410381"]
    assert seen("410322") == ["410322"]


def test_a_county_reader_sees_nothing_of_another_county_in_any_mart(settings, warehouse, marts):
    tables = [t for (t,) in query(warehouse, """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'county_code'
        WHERE n.nspname = 'mart' AND c.relkind IN ('r', 'p') AND NOT c.relispartition""")]
    assert "term_headline" in tables and "coverage" in tables
    forced = [t for (t,) in query(warehouse, """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'mart' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relrowsecurity""")]
    assert set(tables) <= set(forced), "every mart keyed on a county has row-level security"
    url = db.reader_url(settings, county="410302")
    for t in tables:
        if f"mart.{t}" not in INTERNAL:      # those it cannot read at all (test above)
            assert _as(url, f"SELECT count(*) FROM mart.{t} WHERE county_code <> '410302'") == [(0,)], t


@pytest.mark.parametrize("sql", [
    "DROP TABLE core.findings",
    "ALTER TABLE core.findings ADD COLUMN extra text",
    "ALTER TABLE audit.batches DROP COLUMN error",
    "TRUNCATE core.findings",
    "CREATE TABLE core.mine (x int)",
    "CREATE TABLE mart.mine (x int)",
    "DROP TABLE mart.coverage",
    "DROP SCHEMA history CASCADE",
    "CREATE ROLE intruder",
    "ALTER TABLE mart.coverage DISABLE ROW LEVEL SECURITY",
])
def test_the_loader_cannot_drop_or_alter_a_table(settings, warehouse, sql):
    with pytest.raises(DENIED):
        _as(db.warehouse_url(settings), sql)
    assert query(warehouse, "SELECT to_regclass('core.findings') IS NOT NULL") == [(True,)]


def test_the_loader_loads_an_export_and_refreshes_the_marts(clean, settings, tmp_path):
    """Everything the pipeline does, as the loader: partitions of a new county (through core.add_county), staging,
    Great Expectations, publish, archive; then a mart refresh."""
    from exports import slice_rows, write_export

    from xuncha import registry
    from xuncha.metrics import marts as metrics
    from xuncha.load import pipeline

    reg = registry.default()
    export = write_export(tmp_path, "410323", "410323-20190315-01", "2019-03-15", slice_rows("410323"))
    loader = db.warehouse_url(settings)
    [r] = pipeline.Ingestor(reg, url=loader, move=False).ingest_many([export], reg.get("410323"))
    assert r.status == "loaded", r.problems
    assert query(clean, "SELECT count(*) > 0 FROM core.rounds WHERE county_code = '410323'") == [(True,)]
    metrics.refresh(loader, ["410323"])
    assert _as(db.reader_url(settings, county="410323"),
               "SELECT count(*) > 0 FROM mart.term_headline WHERE county_code = '410323'") == [(True,)]


def test_passwords_come_from_the_environment(warehouse, monkeypatch):
    monkeypatch.setenv("XUNCHA_READER_PASSWORD", "from-the-env-123")
    with db.connect(warehouse, autocommit=True) as conn:
        roles.sync(conn, ["410302"])
    [(has_pw,)] = query(warehouse, "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'xuncha_reader'")
    assert has_pw
    assert "from-the-env-123" in db.reader_url()
    monkeypatch.delenv("XUNCHA_READER_PASSWORD")
    query(warehouse, "ALTER ROLE xuncha_reader PASSWORD NULL")
    assert ":from-the-env" not in db.reader_url()
