"""Monitor: what an operator must hear about, found without Airflow.

Owns the health checks of the hourly xuncha_health DAG (`health`: freshness, overdue tasks and clues, quarantines)
and alerts recorded in audit.alerts (`alerts`). May import the root definitions, `warehouse/` and `metrics/`;
sending goes through `orchestration.notifications`.
"""
