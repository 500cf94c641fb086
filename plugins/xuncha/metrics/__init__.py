"""Metrics: the marts (sql/marts/*.sql) computed as of a day, their descriptions and their parameters.

Owns refreshing and reading the marts (`marts`), the metric dictionary 指标字典 (`dictionary`, sql/marts/*.yml)
and the metric parameters (`config`, config/metrics.yml). May import the root definitions and `warehouse/`.
"""
