"""Load: a validated export published into core in one transaction, or quarantined whole with its report.

Owns a county's night, the one entry point every caller uses (`county_night`), the pipeline receive → stage →
validate → publish (`pipeline`), what happens to one export (`batch`; its ledger rows are
`warehouse.batch_ledger`'s), the merge SQL (`merge`), publishing (`publish`), the guards on what one export may do
(`guards`), re-delivery and one export's trouble (`resilience`), the quarantine report (`quarantine`) and the
archive/quarantine moves (`moves`). May import every stage before it, `warehouse/` and `monitor/`; never Airflow.
"""
