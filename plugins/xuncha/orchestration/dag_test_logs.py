"""Task logs for runs made by `airflow dags test` (the demo), written where the Airflow UI reads them.

`dags test` runs every task in its own process and prints all logs to one stream, so the UI shows "Log file not
found" for those runs. `write_task_logs` cuts that stream at Airflow's own markers ("[DAG TEST] starting
task_id=… map_index=…" … "[DAG TEST] end task …") and writes each task's part to the file the UI opens:
`<base_log_folder>/` + Airflow's default `[logging] log_filename_template`
(dag_id=…/run_id=…/task_id=…/[map_index=…/]attempt=N.log). Plain lines are shown as they are by the UI's file
task handler.
"""

from __future__ import annotations

import re
from pathlib import Path

from xuncha.settings import Settings, get_settings

START = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
END = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")


def base_log_folder(settings: Settings | None = None) -> Path:
    """Airflow's [logging] base_log_folder: AIRFLOW__LOGGING__BASE_LOG_FOLDER, else $AIRFLOW_HOME/logs."""
    settings = settings or get_settings()
    return Path(settings.airflow_log_folder or settings.airflow_home / "logs")


def split(output: str) -> dict[tuple[str, int], list[str]]:
    """(task_id, map_index) -> the lines between its start and end markers (both included)."""
    parts: dict[tuple[str, int], list[str]] = {}
    current = None
    for line in output.splitlines(keepends=True):
        if m := START.search(line):
            current = parts.setdefault((m[1], int(m[2])), [])
        if current is not None:
            current.append(line)
        if END.search(line):
            current = None
    return parts


def write_task_logs(output: Path, dag_id: str, logical_date: str | None = None, settings: Settings | None = None) -> list[Path]:
    """Write each task's log of the newest run of `dag_id` at `logical_date` (ISO 8601; None: its newest run) from
    `output` (what `airflow dags test` printed); returns the files written. Tasks without a part in `output` get none."""
    from xuncha.warehouse import db

    settings = settings or get_settings()
    with db.connect(db.airflow_db_url(settings)) as conn, conn.cursor() as cur:
        cur.execute("""SELECT r.run_id FROM dag_run r WHERE r.dag_id = %s
                          AND (%s::timestamptz IS NULL OR r.logical_date = %s::timestamptz)
                        ORDER BY r.id DESC LIMIT 1""", (dag_id, logical_date, logical_date))
        row = cur.fetchone()
        if row is None:
            return []
        run_id = row[0]
        cur.execute("SELECT task_id, map_index, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s",
                    (dag_id, run_id))
        tries = {(t, m): n for t, m, n in cur.fetchall()}
    parts = split(output.read_text(encoding="utf-8", errors="replace"))
    written = []
    for (task_id, map_index), lines in parts.items():
        if (task_id, map_index) not in tries:
            continue
        path = base_log_folder(settings) / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            path /= f"map_index={map_index}"
        path /= f"attempt={max(tries[(task_id, map_index)], 1)}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(lines), encoding="utf-8")
        written.append(path)
    return written
