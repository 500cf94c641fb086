"""The embedded server: reused while running, stopped cleanly, and its data survives a restart."""

from __future__ import annotations

from conftest import query

from xuncha.warehouse import embedded


def test_stop_then_start_keeps_the_data(warehouse, settings):
    query(warehouse, "CREATE TABLE IF NOT EXISTS audit.survives_restart (x int)")
    query(warehouse, "INSERT INTO audit.survives_restart VALUES (42)")
    pid = embedded.status(settings).pid
    assert embedded.stop(settings) is True
    assert embedded.status(settings).running is False
    assert embedded.stop(settings) is False  # stopping a stopped server is harmless
    st = embedded.start(settings)
    assert st.running and st.pid != pid
    assert query(warehouse, "SELECT x FROM audit.survives_restart") == [(42,)]
    query(warehouse, "DROP TABLE audit.survives_restart")


def test_start_reuses_a_running_server(warehouse, settings):
    first = embedded.start(settings)
    again = embedded.start(settings)
    assert again.pid == first.pid and again.url() == first.url()


def test_the_server_holds_the_warehouse_and_airflow_databases(warehouse, settings):
    dbs = {r[0] for r in query(warehouse, "SELECT datname FROM pg_database")}
    assert {"xuncha", "airflow"} <= dbs
    assert query(warehouse, "SHOW server_version_num")[0][0] >= "180000"
