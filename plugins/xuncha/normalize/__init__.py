"""Normalize: an export's files streamed into staging tables, as text, then trimmed and typed in one pass.

Owns streaming files into staging (`parsing`): CSV text, its encodings and header (`csvtext`), JSON Lines (`jsonl`),
XLSX (`xlsx`, python-calamine; formulas and error cells from the sheet XML, `sheetxml`), the header check and the
staging exception (`columns`), the cast pass (`typed`), staging one export (`staging`) and person data hashed
before it is written (`privacy`). May import the root definitions,
`extract/` and `warehouse/` (the batch ledger); the person key's Airflow connection comes from `orchestration.hooks`.
"""
