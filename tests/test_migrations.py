"""Warehouse migrations on a real PostgreSQL: applied in order, once, recorded, and equal to the spec."""

from __future__ import annotations

import shutil

import pytest
from conftest import query

from xuncha.warehouse import migrate
from xuncha.spec import load_spec


def test_migrations_apply_in_order_and_are_recorded(fresh_db):
    applied = migrate.migrate(fresh_db)
    assert [m.version for m in applied] == [m.version for m in migrate.discover()]
    rows = query(fresh_db, "SELECT version, name FROM audit.schema_migrations ORDER BY version")
    assert rows == [(m.version, m.path.name) for m in migrate.discover()]
    schemas = {r[0] for r in query(fresh_db, "SELECT nspname FROM pg_namespace")}
    assert {"staging", "core", "history", "mart", "audit"} <= schemas


def test_applying_migrations_twice_is_a_no_op(fresh_db):
    migrate.migrate(fresh_db)
    before = query(fresh_db, "SELECT version, checksum, applied_at FROM audit.schema_migrations ORDER BY 1")
    assert migrate.migrate(fresh_db) == []
    assert query(fresh_db, "SELECT version, checksum, applied_at FROM audit.schema_migrations ORDER BY 1") == before


def test_an_edited_applied_migration_is_refused(fresh_db, tmp_path):
    d = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, d)
    migrate.migrate(fresh_db, d)
    first = sorted(d.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
        migrate.migrate(fresh_db, d)


def test_a_failing_migration_leaves_nothing_behind(fresh_db, tmp_path):
    d = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, d)
    (d / "9999_broken.sql").write_text("CREATE TABLE core.half_done (x int);\nSELECT no_such_function();\n")
    with pytest.raises(migrate.MigrationError, match="9999_broken.sql"):
        migrate.migrate(fresh_db, d)
    assert query(fresh_db, "SELECT to_regclass('core.half_done')") == [(None,)]
    assert 9999 not in migrate.applied_versions(fresh_db)


def test_core_and_history_tables_match_the_spec(warehouse):
    """The typed core tables are the spec's columns (plus bookkeeping): spec and schema cannot drift."""
    bookkeeping = {"county_code": "text", "withdrawn_at": "timestamp with time zone", "batch_id": "bigint"}
    pg_names = {"text": "text", "date": "date", "timestamptz": "timestamp with time zone", "integer": "integer",
                "numeric(16,2)": "numeric"}
    for entity in load_spec().entities.values():
        cols = dict(query(warehouse, """SELECT column_name, data_type FROM information_schema.columns
                                         WHERE table_schema = 'core' AND table_name = %s""", (entity.name,)))
        expected = {c.name: pg_names[c.pg_type] for c in entity.columns} | bookkeeping
        assert cols == expected, entity.name
        hist = {r[0] for r in query(warehouse, """SELECT column_name FROM information_schema.columns
                                                    WHERE table_schema = 'history' AND table_name = %s""", (entity.name,))}
        assert hist == set(expected) | {"change", "recorded_at"}
        pk = [r[0] for r in query(warehouse, """
            SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)""",
                                          (f"core.{entity.name}",))]
        assert pk == ["county_code", entity.key]


def test_repeatable_objects_are_applied_once_and_again_when_their_file_changes(fresh_db, tmp_path):
    d = tmp_path / "repeatable"
    shutil.copytree(migrate.REPEATABLE_DIR, d)
    migrate.migrate(fresh_db, repeatable_dir=d)
    first = dict(query(fresh_db, "SELECT name, applied_at FROM audit.repeatable_migrations"))
    assert set(first) == {r.name for r in migrate.discover_repeatable(d)} and "mart.clues_as_of.sql" in first
    migrate.migrate(fresh_db, repeatable_dir=d)
    assert dict(query(fresh_db, "SELECT name, applied_at FROM audit.repeatable_migrations")) == first
    f = d / "mart.day_end.sql"
    f.write_text(f.read_text().replace("RETURN ((d + 1)::timestamp", "RETURN ((d + 2)::timestamp"))
    migrate.migrate(fresh_db, repeatable_dir=d)
    again = dict(query(fresh_db, "SELECT name, applied_at FROM audit.repeatable_migrations"))
    assert [n for n in again if again[n] != first[n]] == ["mart.day_end.sql"]
    assert query(fresh_db, "SELECT mart.day_end('2020-01-01') = '2020-01-03 00:00+08'") == [(True,)]


def test_a_failing_repeatable_object_keeps_the_previous_definition(fresh_db, tmp_path):
    d = tmp_path / "repeatable"
    shutil.copytree(migrate.REPEATABLE_DIR, d)
    migrate.migrate(fresh_db, repeatable_dir=d)
    f = d / "mart.clues_as_of.sql"
    f.write_text(f.read_text().replace("FROM core.clues c\n", "FROM core.no_such_table c\n", 1))
    with pytest.raises(migrate.MigrationError, match="mart.clues_as_of.sql"):
        migrate.migrate(fresh_db, repeatable_dir=d)
    assert query(fresh_db, "SELECT count(*) FROM mart.clues_as_of(ARRAY['2020-01-01'::date])") == [(0,)]
    assert migrate.applied_repeatable(fresh_db)["mart.clues_as_of.sql"] == migrate.Repeatable(
        migrate.REPEATABLE_DIR / "mart.clues_as_of.sql").checksum


def test_the_as_of_functions_have_one_file_each_and_no_migration_redefines_them():
    names = {r.name for r in migrate.discover_repeatable()}
    for entity in load_spec().entities:
        assert f"mart.{entity}_as_of.sql" in names
    later = [m.path.name for m in migrate.discover() if m.version > 13 and "_as_of" in m.sql]
    assert later == []
