"""Intake: what county systems use directly.

Owns the push intake (`server`, 推送接收: POST an export over HTTP, its state by GET) and the county self-check
(`selfcheck`, 自检: one export through ingestion's own checks with no warehouse). May import every stage; starting
a county's run inside Airflow goes through `orchestration.nightly`.
"""
