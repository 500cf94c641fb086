"""A migration run whose inputs did not change is skipped after one query (issue 26, P5), and only then.

xuncha.warehouse.migration_state: `migrate(skip_if_current=True)` (what `xuncha ingest` calls) skips the lock, the
checksums and `roles.sync` when the last full run recorded the same files, registry and roles code; a full run
(`xuncha db migrate`) still repairs anything changed by hand. On the suite's real PostgreSQL.
"""

from __future__ import annotations

import shutil

from conftest import query

from xuncha.warehouse import migrate, migration_state

_GRANTED = "SELECT has_table_privilege('xuncha_reader', 'mart.term_headline', 'SELECT')"


def test_an_unchanged_warehouse_skips_the_run_and_a_full_run_repairs_what_was_changed_by_hand(warehouse):
    migrate.migrate(warehouse)
    query(warehouse, "REVOKE SELECT ON mart.term_headline FROM xuncha_reader")
    try:
        assert migrate.migrate(warehouse, skip_if_current=True) == []
        assert query(warehouse, _GRANTED) == [(False,)], "skipped: roles.sync (audit.apply_access) did not run"
    finally:
        migrate.migrate(warehouse)
    assert query(warehouse, _GRANTED) == [(True,)], "the full run re-applied the grants"


def test_a_new_migration_file_is_applied_even_when_skipping_is_allowed(fresh_db, tmp_path):
    d = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, d)
    migrate.migrate(fresh_db, d)
    assert migrate.migrate(fresh_db, d, skip_if_current=True) == []
    (d / "0999_probe.sql").write_text("CREATE TABLE audit.probe_0999 (x int);\n", encoding="utf-8")
    applied = migrate.migrate(fresh_db, d, skip_if_current=True)
    assert [m.version for m in applied] == [999]
    assert query(fresh_db, "SELECT to_regclass('audit.probe_0999') IS NOT NULL") == [(True,)]
    [(recorded,)] = query(fresh_db, "SELECT fingerprint FROM audit.migration_state")
    assert recorded == migration_state.fingerprint(migrate.discover(d), migrate.discover_repeatable())


def test_the_fingerprint_changes_with_any_file_the_registry_or_the_roles_code(tmp_path):
    migrations, repeatables = migrate.discover(), migrate.discover_repeatable()
    registry = tmp_path / "counties.yml"
    registry.write_text("counties: []\n", encoding="utf-8")
    base = migration_state.fingerprint(migrations, repeatables, registry)
    assert migration_state.fingerprint(migrations, repeatables, registry) == base
    assert migration_state.fingerprint(migrations[:-1], repeatables, registry) != base
    assert migration_state.fingerprint(migrations, repeatables[:-1], registry) != base
    registry.write_text("counties: []\n# a county added\n", encoding="utf-8")
    assert migration_state.fingerprint(migrations, repeatables, registry) != base


def test_a_skipped_run_still_sets_role_passwords_from_the_environment(warehouse, monkeypatch):
    migrate.migrate(warehouse)
    query(warehouse, "ALTER ROLE xuncha_reader PASSWORD NULL")
    monkeypatch.setenv("XUNCHA_READER_PASSWORD", "from-the-env-456")
    try:
        assert migrate.migrate(warehouse, skip_if_current=True) == []
        [(has_pw,)] = query(warehouse, "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'xuncha_reader'")
        assert has_pw
    finally:
        monkeypatch.delenv("XUNCHA_READER_PASSWORD")
        query(warehouse, "ALTER ROLE xuncha_reader PASSWORD NULL")
