"""Metrics: the marts (sql/marts/*.sql) computed as of a day, their descriptions and their parameters.

Owns refreshing and reading the marts (`marts`; a refresh of every unit on two connections: `parallel`) and their
lists (台账, `mart.ledger_*`), the days a loaded batch can change in them (`reach`: late, corrected and withdrawing nights), published editions
(`editions`: immutable, recomputable as known at their time), the metric dictionary 指标字典 (`dictionary`, sql/marts/*.yml)
and the metric parameters (`config`, config/metrics.yml). May import the root definitions and `warehouse/`.
"""
