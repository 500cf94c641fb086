"""Xuncha (巡察数据汇聚): county exports in, a trusted warehouse and its marts out.

The tree is the architecture; each folder's `__init__` says what it owns and what it may import.

- definitions at the root: `settings` (every setting, from the environment), `registry` (config/counties.yml),
  `errors` (a `Problem`: county, file, row, column, rule, value), `text` (trimming and excerpts), `spec/` (the
  export specification), `schemas/` (JSON Schemas of the config files).
- the stages, in the order an export meets them (as dlt's `extract/`, `normalize/`, `load/`):
  `extract/` receive → `normalize/` stage and type → `validate/` Great Expectations → `load/` publish or quarantine;
  `warehouse/` the PostgreSQL they write to; `metrics/` the marts computed from it; `reports/` what consumers
  read; `monitor/` health checks and alerts.
- `intake/`: the push intake (推送接收) and the county self-check (自检).
- `orchestration/`: everything that imports Airflow (DAG helpers, the sensor and its trigger, Assets, hooks,
  notifications, the UI plugin's app, running the stack). Nothing outside it imports Airflow
  (tests/test_layout.py); the library works and is tested without a scheduler.
- `cli/`: the `xuncha` command, a thin shell over the same calls.
"""
