"""`airflow dags test` of several DAGs, one after another, in one process (the demo's county DAGs).

What `airflow dags test DAG_ID` does (airflow.cli.commands.dag_command.dag_test: the DAG from its bundle, then
`DAG.test()` with the logical date now), for each DAG id in turn. One interpreter: Airflow and Great Expectations are
imported once, not once per county, and no two processes write the same DAGs into the metadata database at once
(concurrent `dags test` processes each re-sync the whole bundle, and collide on its rows). Each DAG's output is
framed by BEGIN/END lines, which `split` cuts into one log per DAG (then dag_test_logs.write_task_logs per DAG).
The END line also carries the run's note (xuncha.orchestration.run_notes, JSON), so a caller reading the output as
it comes can say each DAG's outcome as its run ends (`ended`).

`python -m xuncha.orchestration.dag_test_runs CONF_JSON DAG_ID…` (in Airflow's environment); exit 0.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

BEGIN = "[XUNCHA DAGS TEST] begin dag_id="
END = re.compile(r"\[XUNCHA DAGS TEST\] end dag_id=(\S+) state=(\S+)(?: note=(.*))?")


def run_all(dag_ids: list[str], conf: dict | None) -> dict[str, str]:
    """Run each DAG once (`DAG.test`, logical date now, run conf `conf`), in order; dag_id -> the run's state
    (`failed` also when the DAG could not be found or the run raised)."""
    from airflow.utils import timezone
    from airflow.utils.cli import get_bagged_dag
    from airflow.utils.providers_configuration_loader import providers_configuration_loaded

    @providers_configuration_loaded
    def one(dag_id: str) -> tuple[str, str]:
        dag = get_bagged_dag(bundle_names=None, dag_id=dag_id)
        run = dag.test(logical_date=timezone.utcnow(), run_conf=conf)
        return str(getattr(run, "state", "failed")), _note(dag_id, getattr(run, "run_id", None))

    states = {}
    for dag_id in dag_ids:
        print(f"{BEGIN}{dag_id}", flush=True)
        note = ""
        try:
            states[dag_id], note = one(dag_id)
        except Exception as exc:  # noqa: BLE001  (one DAG's failure is its own; the next DAG runs)
            print(f"{dag_id}: {type(exc).__name__}: {exc}", flush=True)
            states[dag_id], note = "failed", f"{type(exc).__name__}: {exc}"
        print(f"[XUNCHA DAGS TEST] end dag_id={dag_id} state={states[dag_id]} note={json.dumps(note, ensure_ascii=False)}",
              flush=True)
    return states


def _note(dag_id: str, run_id: str | None) -> str:
    """The note Airflow holds on run `run_id` of `dag_id` (written by the run-notes listener), "" when none."""
    if not run_id:
        return ""
    try:
        from sqlalchemy import select

        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
            return (run.note or "") if run is not None else ""
    except Exception as exc:  # noqa: BLE001  (the note is a courtesy; the run's state stands without it)
        return f"(no note: {type(exc).__name__}: {exc})"


def ended(line: str) -> tuple[str, str, str] | None:
    """(dag_id, state, note) when `line` is a DAG's END line (note "" when it carries none), else None."""
    if not (m := END.search(line)):
        return None
    try:
        note = json.loads(m[3]) if m[3] else ""
    except ValueError:
        note = m[3]
    return m[1], m[2], str(note)


def split(output: Path, folder: Path) -> dict[str, str]:
    """Cut `output` (what run_all printed) into `folder`/<dag_id>.log, one per DAG; dag_id -> the run's state
    (`failed` for a DAG whose END line is missing: the process died)."""
    folder.mkdir(parents=True, exist_ok=True)
    states, current, lines = {}, None, []
    for line in output.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
        if BEGIN in line:
            current, lines = line.split(BEGIN, 1)[1].strip(), []
            states[current] = "failed"
            continue
        if m := END.search(line):
            states[m[1]] = m[2]
            (folder / f"{m[1]}.log").write_text("".join(lines), encoding="utf-8")
            current = None
            continue
        if current is not None:
            lines.append(line)
    if current is not None:
        (folder / f"{current}.log").write_text("".join(lines), encoding="utf-8")
    return states


def main(argv: list[str] | None = None) -> int:
    """Entry point: argv = [CONF_JSON, DAG_ID, …]."""
    argv = sys.argv[1:] if argv is None else argv
    run_all(argv[1:], json.loads(argv[0]) or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
