"""Normalize: an export's files streamed into staging tables, as text, then trimmed and typed in one pass.

Owns parsing CSV and JSON Lines (`parsing`), XLSX (`xlsx`, python-calamine), the cast pass (`typed`), staging one
export (`staging`) and person data hashed before it is written (`privacy`). May import the root definitions and
`extract/`; the person key's Airflow connection comes from `orchestration.hooks`.
"""
