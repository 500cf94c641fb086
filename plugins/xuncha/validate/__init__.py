"""Validate: the "audit" of write-audit-publish, Great Expectations on the staged tables.

Owns the suites (`suites`, expectations/<entity>.json), running them (`validation`; a file's row rules answered in
one pass by `row_rules`, whose verdicts GX reads) and validating a county's
staged exports in groups, bisecting a failing group (`groups`). May import the root definitions, `normalize/` and
`warehouse` (results are recorded per batch in the batch ledger); never Airflow, never `load/` (it calls
validate; `load.batch.InFlight` is named for annotations only).
"""
