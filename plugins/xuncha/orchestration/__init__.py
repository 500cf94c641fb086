"""Orchestration: everything that imports Airflow, by role as in Airflow's providers.

- `hooks`: Airflow connections and object storage, for the library's pulls, person key and warehouse.
- `sensors`: the county's `ingest` operator (CountyNightOperator) and its trigger, waiting deferred for the export
  until its deadline.
- `notifications`: Airflow notifiers (SMTP, chat webhook) configured by connection id.
- `assets`: the Assets a load and a night emit, the marts consume.
- `county_dags`, `nightly`, `run_notes`, `backfills`: the county DAGs (xuncha_county_<code>) and the night's DAG
  (xuncha_night): their making from the registry, planning, verdicts, naming, run notes and per-county backfills.
- `dag_test_runs`: `airflow dags test` of several DAGs in one process (the demo, the e2e test).
- `env`, `preload`, `cluster`, `deployment`, `dag_test_logs`: how Airflow is configured, preloaded, run as
  processes, deployed and demoed.
- `ui`, `incidents_page`: the Airflow UI plugin's app (report, quarantine pages, incidents page).
- `health`: the health DAG's check task (incidents notified through `notifications`).
DAG files (dags/) and Airflow plugin files (plugins/*.py) import from here and from the stages; the stages never
import Airflow themselves.
"""
