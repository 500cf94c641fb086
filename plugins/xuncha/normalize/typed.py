"""Cast once (issue 16): each staged file is trimmed and typed in one set-based pass, right after staging.

A file arrives in staging as text (xuncha.normalize.parsing: COPY, or Python rows for XLSX, JSON Lines and person columns).
`cast_once` rewrites that table once, into the table validation and the merge both read:
- every spec column as trimmed text (staging.trimmed, migration 0020: the one definition of trimmed text), which
  Great Expectations audits as sent (strict formats need the text: PostgreSQL reads `2019-3-5` as a date);
- beside each column whose core type is not text, `<column>__typed`: the trimmed text cast to that type, NULL
  when it is blank or PostgreSQL cannot read it (staging.is_valid with the core type itself, so `numeric(16,2)`
  overflow is NULL too, not an error). A bad value is never an error here: the suites find it, by row and column.
The merge (sql/load/merge.sql, late.sql) reads the typed columns as they are (`merge_value`): no second trim and
no cast while it competes with validation for the cores. Before this, values were trimmed when validation copied
them into its own table (per validation run) and trimmed and cast again in the merge's `src` CTE.
"""

from __future__ import annotations

from xuncha.spec import Column, Entity

SUFFIX = "__typed"


def typed_column(column: Column) -> str | None:
    """The name of the column's typed copy (`<name>__typed`), or None when its core type is text."""
    return None if column.type_info.pg_type == "text" else column.name + SUFFIX


def merge_value(column: Column) -> str:
    """What the merge selects for `column` from a table `cast_once` made: the typed copy, else the trimmed text."""
    return typed_column(column) or column.name


PARALLEL = ("parallel_setup_cost", "parallel_tuple_cost", "work_mem")
"""Settings cast_once changes for its one statement (and restores): PostgreSQL's parallel workers for a large file."""


def cast_once(cur, table: str, entity: Entity) -> None:
    """Replace staging table `table` (schema.name; row_no + every spec column as text) by its trimmed and typed
    version, under the same name: row_no, every column trimmed, and `<column>__typed` for non-text columns.

    One scan of the staged rows and one write (an UNLOGGED table, as staging is), then ANALYZE so the suites'
    plans see real row counts, in one transaction (its own when the connection is in autocommit). Trimming is
    most of the cost (staging.trimmed, about 2 µs a value), so a file larger than min_parallel_table_scan_size
    (8 MB) is read by PostgreSQL's parallel workers as well as the backend: `parallel_tuple_cost` and
    `parallel_setup_cost` are 0 for this statement, since the planner does not count the trimming and would keep
    the scan serial (issue 26). The rows are written in row_no order (Gather Merge of the workers' sorted parts;
    `work_mem` 256 MB keeps those sorts in memory), the order a serial scan gave: every "first rows" sample the
    suites take comes out as before. Raises nothing for bad values (they become NULL in the typed copy); a
    database error propagates (the transaction rolled back)."""
    schema, name = table.split(".")
    name = name.strip('"')   # parsing.staging_table quotes it
    trimmed = {c: f"staging.trimmed({c})" for c in entity.column_names}
    # No fence around the trims: a subquery kept whole (OFFSET 0) cannot run in the workers. A typed column trims
    # its text again, which costs less than the serial scan did.
    typed = "".join(f", CASE WHEN staging.is_valid({trimmed[c.name]}, '{c.type_info.pg_type}') THEN "
                    f"{trimmed[c.name]}::{c.type_info.pg_type} END AS {typed_column(c)}"
                    for c in entity.columns if typed_column(c))
    tmp = f'{schema}."{name}__t"'
    own = cur.connection.autocommit
    if own:
        cur.execute("BEGIN")
    try:
        cur.execute("SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0; SET LOCAL work_mem = '256MB'")
        cur.execute(f"DROP TABLE IF EXISTS {tmp}")
        cur.execute(f"CREATE UNLOGGED TABLE {tmp} AS SELECT row_no, "
                    f"{', '.join(f'{t} AS {c}' for c, t in trimmed.items())}{typed} FROM {table} ORDER BY row_no")
        cur.execute("; ".join(f"SET LOCAL {p} TO DEFAULT" for p in PARALLEL))
        cur.execute(f"DROP TABLE {table}")
        cur.execute(f'ALTER TABLE {tmp} RENAME TO "{name}"')
        cur.execute(f"ANALYZE {table}")
        if own:
            cur.execute("COMMIT")
    except BaseException:
        if own:
            cur.execute("ROLLBACK")
        raise
