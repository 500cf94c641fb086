"""Readers see no per-county statistics of core (issue 28, migration 0131): logged in as each reader role, the
statistics views, the statistics and size functions and pg_class's size columns are refused, while the loader
(and the owner) still read them and a reader still reads its own mart rows and the catalog's names."""

from __future__ import annotations

import psycopg2
import psycopg2.errors
import pytest
from conftest import query
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.extract import inbox
from xuncha.load import pipeline
from xuncha.warehouse import db

PARTITION = "findings_410302"
LEAKS = [
    "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = %(p)s",
    "SELECT n_live_tup FROM pg_stat_all_tables WHERE relname = %(p)s",
    "SELECT n_tup_ins FROM pg_stat_xact_user_tables WHERE relname = %(p)s",
    "SELECT heap_blks_read FROM pg_statio_user_tables WHERE relname = %(p)s",
    "SELECT idx_tup_read FROM pg_stat_user_indexes WHERE relname = %(p)s",
    "SELECT reltuples FROM pg_class WHERE relname = %(p)s",
    "SELECT relpages FROM pg_class WHERE relname = %(p)s",
    "SELECT * FROM pg_class WHERE relname = %(p)s",
    "SELECT pg_stat_get_live_tuples(oid) FROM pg_class WHERE relname = %(p)s",
    "SELECT pg_stat_get_tuples_inserted(oid) FROM pg_class WHERE relname = %(p)s",
    "SELECT pg_relation_size(oid) FROM pg_class WHERE relname = %(p)s",
    "SELECT pg_total_relation_size(oid) FROM pg_class WHERE relname = %(p)s",
    "SELECT pg_table_size(oid) FROM pg_class WHERE relname = %(p)s",
]


def _as(url: str, sql: str):
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, {"p": PARTITION})
        return cur.fetchall()


@pytest.fixture(scope="module")
def loaded(warehouse, settings, tmp_path_factory):
    """410302 with 60 findings in core, analysed (reltuples set) and its statistics flushed (the loading backends
    have ended)."""
    root = tmp_path_factory.mktemp("stats")
    reg = registry.default()
    export = write_export(root, "410302", "410302-20190315-01", "2019-03-15", slice_rows("410302", n_findings=60))
    [r] = pipeline.Ingestor(reg, url=warehouse, move=False).ingest_many([inbox.receive(export)], reg.get("410302"))
    assert r.status in ("loaded", "duplicate")
    query(warehouse, f"ANALYZE core.{PARTITION}")
    return warehouse


@pytest.mark.parametrize("sql", LEAKS)
def test_a_reader_cannot_read_a_county_partitions_statistics(loaded, settings, sql):
    assert _as(loaded, sql), "the owner sees the partition's statistics (so the test can fail)"
    for url in (db.reader_url(settings), db.reader_url(settings, county="410302"), db.reader_url(settings, county="410303")):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            _as(url, sql)


def test_the_loader_and_the_owner_still_read_the_statistics_and_readers_the_names(loaded, settings):
    for url in (loaded, db.warehouse_url(settings)):
        [(live, tuples)] = _as(url, "SELECT s.n_live_tup, c.reltuples FROM pg_stat_user_tables s "
                                    "JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = 'core' AND s.relname = %(p)s")
        assert live >= 60 and tuples >= 60
    for url in (db.reader_url(settings), db.reader_url(settings, county="410302")):
        names = {n for (n,) in _as(url, "SELECT relname FROM pg_class WHERE relnamespace = 'mart'::regnamespace "
                                        "AND relkind IN ('r', 'p', 'v')")}
        assert "findings_by_category" in names
        assert _as(url, "SELECT count(*) FROM mart.findings_by_category WHERE %(p)s IS NOT NULL") is not None
        assert _as(url, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'mart'")[0][0] > 0
