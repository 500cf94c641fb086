"""docker-compose.yml cannot run here (no Docker engine); check it describes the topology we test without containers."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_airflow_3_services_on_one_postgres():
    services = compose()["services"]
    assert set(services) == {"postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler",
                             "airflow-dag-processor", "airflow-triggerer"}
    assert services["postgres"]["image"].startswith("postgres:")
    for name in set(services) - {"postgres"}:
        svc = services[name]
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy", name
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["WAREHOUSE_URL"].startswith("postgresql+psycopg2://")
        assert "${XUNCHA_PERSON_KEY" in env["XUNCHA_PERSON_KEY"], "secrets come from the environment"
        mounts = {v.split(":")[1] for v in svc["volumes"] if v.startswith("./")}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/sql", "/opt/airflow/expectations"} <= mounts
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert "8080:8080" in services["airflow-apiserver"]["ports"]


def test_compose_mounts_match_the_checkout_layout():
    """plugins/ is mounted beside sql/ and expectations/, where the package looks for them (settings.PROJECT_ROOT)."""
    from xuncha import settings

    assert settings.SQL_DIR == settings.PROJECT_ROOT / "sql"
    assert settings.EXPECTATIONS_DIR == settings.PROJECT_ROOT / "expectations"
    for v in compose()["x-airflow-common"]["volumes"]:
        if v.startswith("./"):
            assert (ROOT / v.split(":")[0][2:]).exists(), v
    init_sql = compose()["services"]["postgres"]["volumes"][1].split(":")[0]
    assert "CREATE DATABASE airflow" in (ROOT / init_sql).read_text()


def test_no_secret_is_written_in_the_compose_file():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${POSTGRES_PASSWORD:?" in text
    for line in text.splitlines():
        if "PASSWORD:" in line and "${" not in line:
            raise AssertionError(f"literal password: {line.strip()}")
