"""An Airflow deployment as processes on this machine: what docker-compose.yml runs in containers, without them.

`LocalCluster` starts Redis (Celery's broker, Debian's `redis-server`), then Airflow's scheduler, dag-processor,
triggerer and API server, and N Celery workers told apart by `airflow celery worker --celery-hostname` (or no
worker: the LocalExecutor with a given parallelism), all on the project's settings (xuncha.orchestration.env) and
its PostgreSQL. It drives them only through Airflow's REST API v2 (a JWT from the simple auth manager's
`POST /auth/token`), as an operator would: unpause, backfill a range of nights, read task instances.
Every process is started in its own session and `stop()` (or leaving the `with` block) ends each process
group it started, killing what does not stop in 20 s. Used by tests/test_scaleout.py and P3 of bench/run.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from xuncha.orchestration import env as airflow_env
from xuncha.settings import Settings, get_settings

DAG_IDS = ("xuncha_night", "xuncha_marts")
ADMIN_PASSWORD = "xuncha-local-admin"
"""Password of the local cluster's `admin` (loopback only, its own AIRFLOW_HOME): written to the passwords file."""


HOLD_ENV = "XUNCHA_CLUSTER_HOLD_SCHEDULE"
"""Set to 1 in a LocalCluster's services (scheduled=False): plugins/airflow_local_settings.py then installs
hold_schedule as Airflow's dag_policy."""


def hold_schedule(dag) -> None:
    """Cluster policy of LocalCluster: the scheduler starts no run by itself. Time-based DAGs (neither scheduled on
    assets nor unschedulable; the Task SDK's timetables have no `periodic`) get catchup off and a start date in 2099,
    their tasks too (the scheduler starts from the earliest of them), so no past or current night is scheduled.
    Backfills still run every task (their runs ignore start dates), as do manual runs without a logical date; a
    manual run with a logical date before 2099 would skip every task. Asset-scheduled DAGs run as their assets change."""
    if dag.timetable.asset_condition is None and getattr(dag.timetable, "can_be_scheduled", True):
        dag.catchup = False
        dag.start_date = dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)
        for t in dag.tasks:
            t.start_date = dag.start_date


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def task_hostname() -> str:
    """[core] hostname_callable for Celery workers that share a machine: the worker's node name as given by
    `airflow celery worker --celery-hostname` while a Celery task runs (the task instance's `hostname`), else
    the machine's FQDN (Airflow's default). In containers, where each worker has its own host name, it changes nothing.
    """
    try:
        from celery import current_task

        name = current_task.request.hostname if current_task else None
    except ImportError:
        name = None
    return name or socket.getfqdn()


@dataclass
class Service:
    """One running Airflow service of a LocalCluster: its name (scheduler, api-server, worker-<node>…), its
    process and the file its output goes to."""
    name: str
    proc: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.proc.poll() is None


@dataclass
class LocalCluster:
    """Airflow's services as processes. `workers`: Celery node names (CeleryExecutor); empty: the LocalExecutor."""

    home: Path
    workers: list[str] = field(default_factory=list)
    parallelism: int = 8
    worker_concurrency: int = 2
    settings: Settings | None = None
    metadata_url: str | None = None
    """Airflow's metadata database; None: the settings' (database `airflow` of the embedded server)."""
    extra_env: dict[str, str] = field(default_factory=dict)
    init: bool = True
    """Run `airflow db migrate` and set the pools first (False: the metadata database is ready, e.g. a copy)."""
    scheduled: bool = False
    """False: a cluster policy (hold_schedule) keeps the scheduler from starting periodic runs by itself; what runs is
    what is asked through the API (backfills) and what assets trigger. True: the DAGs' own schedules."""
    dag_ids: tuple[str, ...] = DAG_IDS
    """DAGs `start` waits for this cluster's dag-processor to have parsed (add a county's: xuncha_county_<code>)."""
    services: dict[str, Service] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.settings = self.settings or get_settings()
        self.logs = self.home / "service-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._token: str | None = None
        self.redis_port = free_port() if self.workers else None

    # -- environment ----------------------------------------------------------------------------------------

    def environ(self) -> dict[str, str]:
        """The environment of every service: Xuncha's Airflow settings plus the executor, ports and timings."""
        home = self.home / "airflow"
        home.mkdir(parents=True, exist_ok=True)
        base = dict(os.environ) | {"AIRFLOW_HOME": str(home)}
        if self.metadata_url:
            base["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.metadata_url
        env = airflow_env.airflow_environ(self.settings, base=base)
        pw_file = home / "local_cluster_passwords.json"
        pw_file.write_text(json.dumps({"admin": ADMIN_PASSWORD}), encoding="utf-8")
        env |= {
            HOLD_ENV: "0" if self.scheduled else "1",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": env.get("AIRFLOW__API_AUTH__JWT_SECRET") or os.urandom(24).hex(),
            "AIRFLOW__API__SECRET_KEY": env.get("AIRFLOW__API__SECRET_KEY") or os.urandom(24).hex(),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "xuncha.orchestration.cluster.task_hostname",
            # Two cores shared by every service and task: give the API server time to answer (default 5 s).
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        }
        if self.workers:
            broker = f"redis://127.0.0.1:{self.redis_port}/0"
            env |= {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": broker,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            }
        else:
            env["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
        return env | self.extra_env

    # -- processes ------------------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Service:
        log = self.logs / f"{name}.log"
        fh = log.open("ab")
        try:
            proc = subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=self.home, start_new_session=True)
        finally:
            fh.close()
        svc = self.services[name] = Service(name, proc, log)
        return svc

    def start(self, timeout: float = 240) -> "LocalCluster":
        """Redis (for Celery), Airflow's metadata and pools, then every service; returns once the API answers,
        the DAGs are parsed and each Celery worker is ready. RuntimeError (naming the log) if one dies."""
        env = self.environ()
        started = dt.datetime.now(dt.timezone.utc)
        if self.workers:
            self._spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", str(self.home)], env)
        if self.init:
            airflow_env.run_airflow(["db", "migrate"], self.settings, env=env, log=self.logs / "db-migrate.log")
            airflow_env.run_airflow(["pools", "set", "xuncha_ingest", "4", "Concurrent county loads"], self.settings,
                                    env=env, log=self.logs / "pools.log")
        airflow = str(airflow_env.airflow_bin())
        self._spawn("api-server", [airflow, "api-server", "--port", str(self.port), "--host", "127.0.0.1"], env)
        self._spawn("scheduler", [airflow, "scheduler"], env)
        self._spawn("dag-processor", [airflow, "dag-processor"], env)
        self._spawn("triggerer", [airflow, "triggerer"], env)
        for name in self.workers:
            self._spawn(f"worker-{name}", [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h",
                                           "--concurrency", str(self.worker_concurrency), "--skip-serve-logs",
                                           "--without-mingle", "--without-gossip"], env)
        deadline = time.monotonic() + timeout
        self._wait(lambda: self._get("/api/v2/monitor/health", auth=False) is not None, deadline, "the API server")
        # Parsed by this cluster's dag-processor (a copied metadata database has older rows: their next run dates
        # were computed with another configuration, and unpausing on them would schedule from there).
        self._wait(lambda: all(self._parsed_since(dag_id, started) for dag_id in self.dag_ids), deadline, "the DAGs to be parsed")
        for name in self.workers:
            log = self.services[f"worker-{name}"].log
            self._wait(lambda log=log: b" ready." in log.read_bytes(), deadline, f"Celery worker {name}")
        return self

    def _parsed_since(self, dag_id: str, when: dt.datetime) -> bool:
        dag = self._get(f"/api/v2/dags/{dag_id}")
        parsed = (dag or {}).get("last_parsed_time")
        return bool(parsed) and dt.datetime.fromisoformat(parsed.replace("Z", "+00:00")) >= when

    def _wait(self, check, deadline: float, what: str) -> None:
        while True:
            self.check_alive()
            try:
                if check():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}; logs in {self.logs}")
            time.sleep(1)

    def check_alive(self, allow: set[str] = frozenset()) -> None:
        """RuntimeError naming the first service that exited unexpectedly (and its log)."""
        for svc in self.services.values():
            if svc.name not in allow and not svc.alive():
                tail = svc.log.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise RuntimeError(f"{svc.name} exited ({svc.proc.returncode}); {svc.log}:\n{tail}")

    def processes(self) -> list[int]:
        """Every live process this cluster started: its services and all they started, including the task
        processes Airflow's supervisor puts in process groups of their own (found by working directory)."""
        out = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if Path(os.readlink(entry / "cwd")).is_relative_to(self.home):
                        out.append(int(entry.name))
                except OSError:
                    pass
        return out

    def _tree(self, pid: int) -> list[int]:
        """`pid` and its descendants (by parent pid, whatever their process group)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        tree, todo = [], [pid]
        while todo:
            p = todo.pop()
            tree.append(p)
            todo.extend(children.get(p, []))
        return tree

    def kill(self, name: str) -> None:
        """SIGKILL a service and every process under it, task processes included: a machine lost mid-task."""
        svc = self.services[name]
        for pid in self._tree(svc.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        svc.proc.wait(30)

    def stop(self) -> None:
        """End every process this cluster started: SIGTERM to each service's group, SIGKILL to whatever is left
        after 20 s (task processes in groups of their own too)."""
        for svc in reversed(list(self.services.values())):
            if svc.alive():
                try:
                    os.killpg(svc.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + 20
        for svc in self.services.values():
            try:
                svc.proc.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for _ in range(3):
            left = self.processes()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        for svc in self.services.values():
            svc.proc.wait(10)

    def __enter__(self) -> "LocalCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- REST API v2 ----------------------------------------------------------------------------------------

    def token(self) -> str:
        """A JWT from the simple auth manager (POST /auth/token), cached."""
        import httpx

        if self._token is None:
            r = httpx.post(f"{self.url}/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=30)
            r.raise_for_status()
            self._token = r.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kw) -> dict:
        """One REST API v2 call; the JSON answer. httpx.HTTPStatusError (with the body) on an error status."""
        import httpx

        for attempt in range(5 if method == "GET" else 1):   # reads are retried: a starved API server answers late
            try:
                r = httpx.request(method, f"{self.url}{path}", headers={"Authorization": f"Bearer {self.token()}"},
                                  timeout=120, **kw)
                break
            except httpx.TransportError:
                if attempt == (4 if method == "GET" else 0):
                    raise
                time.sleep(5)
        if r.is_error:
            raise httpx.HTTPStatusError(f"{method} {path}: {r.status_code} {r.text[:500]}", request=r.request, response=r)
        return r.json() if r.content else {}

    def _get(self, path: str, auth: bool = True):
        import httpx

        try:
            if not auth:
                r = httpx.get(f"{self.url}{path}", timeout=10)
                return r.json() if r.status_code == 200 else None
            return self.api("GET", path)
        except httpx.HTTPError:
            return None

    def unpause(self, *dag_ids: str) -> None:
        """Unpause each DAG (PATCH /api/v2/dags/{dag_id}); raises httpx.HTTPStatusError for an unknown id."""
        for dag_id in dag_ids:
            self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def backfill(self, dag_id: str, first: str, last: str, conf: dict | None = None, max_active_runs: int = 1) -> int:
        """A bounded backfill (POST /api/v2/backfills) of the runs whose logical dates lie in [first, last]; its id."""
        body = {"dag_id": dag_id, "from_date": first, "to_date": last, "max_active_runs": max_active_runs,
                "dag_run_conf": conf or {}, "reprocess_behavior": "none"}
        return self.api("POST", "/api/v2/backfills", json=body)["id"]

    def wait_backfill(self, backfill_id: int, timeout: float, allow_dead: set[str] = frozenset()) -> dict:
        """Block until the backfill has completed; its REST representation."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive(allow_dead)
            b = self.api("GET", f"/api/v2/backfills/{backfill_id}")
            if b["completed_at"]:
                return b
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill {backfill_id} not complete after {timeout:.0f} s; logs in {self.logs}")
            time.sleep(1)

    def dag_runs(self, dag_id: str) -> list[dict]:
        """The DAG's runs as the REST API gives them (GET …/dagRuns), oldest first, at most 100."""
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "id"})["dag_runs"]

    def night_refresh(self, before: set[str] = frozenset()) -> dict | None:
        """The ended `xuncha_marts` run (REST representation; not one of the run ids in `before`) that xuncha_night's
        `night` Asset triggered: the night's last refresh (xuncha.orchestration.assets.NIGHT); None yet."""
        from xuncha.orchestration.assets import NIGHT

        for r in self.dag_runs("xuncha_marts"):
            if r["dag_run_id"] in before or r["state"] not in ("success", "failed"):
                continue
            events = self.api("GET", f"/api/v2/dags/xuncha_marts/dagRuns/{r['dag_run_id']}/upstreamAssetEvents")
            if any(e["uri"] == NIGHT.uri for e in events["asset_events"]):
                return r
        return None

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of the run (mapped ones included), current tries; paged, as the API returns at most
        [api] maximum_page_limit (100) per request."""
        out: list[dict] = []
        while True:
            page = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                            params={"limit": 100, "offset": len(out)})
            out += page["task_instances"]
            if not page["task_instances"] or len(out) >= page["total_entries"]:
                return out

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[dict]:
        """Every try of one task instance, oldest first (GET …/taskInstances/{task}/{map_index}/tries)."""
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries")["task_instances"]
