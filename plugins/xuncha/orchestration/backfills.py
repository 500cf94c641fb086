"""Backfills of the county DAGs: history before go-live, or failed nights again, per county or for all of them.

Each county is a DAG, so a backfill of all counties is one Airflow backfill per county DAG, created in one process
(`python -m xuncha.orchestration.backfills`, run by `xuncha backfill` in Airflow's environment), longest backlog
first: the scheduler queues backfill runs in the order they were created, so the county with the most exports
waiting (a successor taking its predecessors' years, P3t in docs/performance.md) starts first instead of running
alone at the end. Airflow's own backfill creation is used (`airflow.models.backfill._create_backfill`, the function
behind `airflow backfill create` and POST /api/v2/backfills).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from xuncha.registry import Registry


def order(reg: Registry, first: dt.date, last: dt.date, only: list[str] | None = None) -> list[str]:
    """County codes to backfill for nights `first` … `last`: active on any of those nights (`only`: these codes;
    KeyError for an unknown one), longest backlog first (xuncha.load.county_night.backlog as of `last`), then
    registry order."""
    from xuncha.load import county_night

    if only:
        for code in only:
            reg.get(code)
    chosen = [c for c in reg.counties if (not only or c.code in only)
              and c.active_from <= last and (c.active_to is None or c.active_to >= first)]
    waiting = {c.code: county_night.backlog(reg, c.code, last) for c in chosen}
    return [c.code for c in sorted(chosen, key=lambda c: -waiting[c.code])]


def paused(dag_ids: list[str]) -> set[str]:
    """Those of `dag_ids` that are paused (Airflow's `dag.is_paused`), in one query. Inside Airflow's environment."""
    from sqlalchemy import select

    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return set(session.scalars(select(DagModel.dag_id).where(DagModel.dag_id.in_(dag_ids), DagModel.is_paused)))


def create(codes: list[str], start: str, end: str, max_active_runs: int = 1, dry_run: bool = False,
           queue_while_paused: bool = False) -> list[dict]:
    """One Airflow backfill per county DAG of `codes` (in that order) for logical dates `start` … `end` (ISO, any offset;
    given to Airflow in UTC, so run ids are one form),
    reprocessing failed runs; [{"dag_id", "backfill_id" | "runs" (dry run) | "error" | "skipped": "paused"}].
    A paused county DAG is skipped unless `queue_while_paused` (its backfill runs would wait queued, unsaid, until it
    is unpaused: issue 23's trial), as `xuncha airflow dags trigger` refuses one. Inside Airflow's environment."""
    from airflow.models.backfill import NoBackfillRunsToCreate, ReprocessBehavior, _create_backfill, _do_dry_run
    from airflow.utils.session import create_session

    from xuncha.orchestration.nightly import county_dag_id

    # In UTC: Airflow names a backfill's first run after the from_date as given and the rest after UTC logical dates
    # (issue 23's trial: backfill__2017-02-21T00:00:00+08:00, then backfill__2017-02-21T16:00:00+00:00); in UTC every
    # run id is backfill__<night D>T16:00:00+00:00 for a county in China (its run at D+1 00:00 local, in UTC).
    begin, finish = (dt.datetime.fromisoformat(x).astimezone(dt.timezone.utc) for x in (start, end))
    out = []
    held = set() if queue_while_paused else paused([county_dag_id(c) for c in codes])
    for code in codes:
        dag_id = county_dag_id(code)
        if dag_id in held:
            out.append({"dag_id": dag_id, "skipped": "paused"})
            continue
        try:
            if dry_run:
                with create_session() as session:
                    infos = _do_dry_run(dag_id=dag_id, from_date=begin, to_date=finish, reverse=False,
                                        reprocess_behavior=ReprocessBehavior.FAILED, dag_run_conf=None, session=session)
                out.append({"dag_id": dag_id, "runs": len(list(infos))})
                continue
            b = _create_backfill(dag_id=dag_id, from_date=begin, to_date=finish, max_active_runs=max_active_runs,
                                 reverse=False, dag_run_conf=None, triggering_user_name="xuncha backfill",
                                 reprocess_behavior=ReprocessBehavior.FAILED)
            out.append({"dag_id": dag_id, "backfill_id": b.id})
        except NoBackfillRunsToCreate as exc:
            out.append({"dag_id": dag_id, "error": str(exc)})
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m xuncha.orchestration.backfills START END CODE… [--max-active-runs N] [--dry-run]
    [--queue-while-paused]`: print create()'s result as JSON."""
    ap = argparse.ArgumentParser(prog="xuncha.orchestration.backfills")
    ap.add_argument("start")
    ap.add_argument("end")
    ap.add_argument("codes", nargs="+")
    ap.add_argument("--max-active-runs", type=int, default=1)
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--queue-while-paused", action="store_true")
    a = ap.parse_args(argv)
    print(json.dumps(create(a.codes, a.start, a.end, a.max_active_runs, a.dry_run, a.queue_while_paused)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
