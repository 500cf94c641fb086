"""A file's row rules answered in one pass (issue 26): the verdicts Great Expectations then reads.

Each `unexpected_rows_expectation` of a suite (xuncha.validate.suites) is an SQL query over `{batch}` that returns
the failing rows as (row_no, value). GX runs every such expectation as its own query, and twice (a count, then the
rows: `unexpected_rows_query.row_count` and `.table`), so a findings file was scanned 14 times for its 7 rules,
with the person-data prefilter, castability and the reference lookups evaluated twice per value.

`answer` evaluates all of them before GX runs and writes what they find into one small UNLOGGED table,
`<view>__rules` (seq, rule, row_no, value, column_name, why): one row per failing (row, rule), in the order the rule's own query
returns them. A rule of the form `SELECT row_no, <value> AS value FROM {batch} WHERE <condition>` (every rule of
the suites but the key's uniqueness) is folded into a single scan of the staged rows that evaluates each condition
once per row and each value only where its condition holds; any other rule (the uniqueness aggregate) is run once,
its rows inserted. `verdict_query(table, index)` is then what GX runs for the expectation: its rows out of that
table, so GX still decides success, counts, samples, severities and Data Docs; the rule's own SQL goes with it in
its meta (`rule_sql`). The rule's meaning does not change: the fold keeps SQL's WHERE semantics (a condition that
is NULL does not fail the row) and the value expression is the rule's own.
"""

from __future__ import annotations

import re

_SIMPLE = re.compile(r"^\s*SELECT\s+row_no\s*,\s*(?P<value>.+?)\s+AS\s+value\s+FROM\s+(?P<table>\S+)\s+WHERE\s+(?P<where>.+?)\s*$",
                     re.IGNORECASE | re.DOTALL)
_TOP_LEVEL_CLAUSE = re.compile(r"\b(GROUP\s+BY|ORDER\s+BY|HAVING|LIMIT|OFFSET|UNION|EXCEPT|INTERSECT|WINDOW|FETCH)\b",
                               re.IGNORECASE)


def _top_level(sql: str) -> str:
    """`sql` with every parenthesised part and string literal blanked: what remains is the top level."""
    out, depth, quoted = [], 0, False
    for ch in sql:
        if quoted:
            quoted = ch != "'"
            out.append(" ")
        elif ch == "'":
            quoted = True
            out.append(" ")
        elif ch == "(":
            depth += 1
            out.append(" ")
        elif ch == ")":
            depth -= 1
            out.append(" ")
        else:
            out.append(" " if depth else ch)
    return "".join(out)


def row_condition(query: str, view: str) -> tuple[str, str] | None:
    """(value expression, condition) of a rule query already formatted with `{batch}` = `view`, when it is one
    row filter over `view` (`SELECT row_no, <value> AS value FROM <view> WHERE <condition>`, nothing after the
    condition at top level); else None (the rule is run as written)."""
    m = _SIMPLE.match(query)
    if not m or m.group("table") != view:
        return None
    value, where = m.group("value"), m.group("where")
    if _TOP_LEVEL_CLAUSE.search(_top_level(where)) or "," in _top_level(value) or _TOP_LEVEL_CLAUSE.search(_top_level(value)):
        return None
    return value, where


def fused_select(view: str, rules: list[tuple[int, str, str]]) -> str:
    """One SELECT over `view` answering every (index, value expression, condition) of `rules`: (rule, row_no,
    value) for each row and rule whose condition is true, in the view's row order, then by the rules' order.
    Each condition is evaluated once per row (a fenced subquery), each value only for the rules the row fails."""
    flags = ", ".join(f"coalesce(({where}), false) AS xr_{i}" for i, _, where in rules)
    any_fails = " OR ".join(f"s.xr_{i}" for i, _, _ in rules)
    values = ", ".join(f"({i}, s.xr_{i}, CASE WHEN s.xr_{i} THEN ({value})::text END)" for i, value, _ in rules)
    return (f"SELECT r.rule, s.row_no, r.value FROM (SELECT *, {flags} FROM {view} OFFSET 0) s "
            f"CROSS JOIN LATERAL (VALUES {values}) r(rule, fails, value) WHERE ({any_fails}) AND r.fails")


def answer(cur, view: str, table: str, queries: list[tuple[int, str]]) -> None:
    """Evaluate the rule queries (index in the suite, SQL with `{batch}` and our placeholders already resolved,
    braces as GX formats them) over `view` and write their failing rows to a new UNLOGGED `table` (schema.name):
    seq (the order to read them in), rule (the index), row_no, value (text), and column_name and why when the
    rule's query returns them (a rule over several columns), else NULL. Rules that are one row filter share a
    single scan; the others run one each. Errors propagate (a rule that cannot run is a defect of the suite)."""
    cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE UNLOGGED TABLE {table} (seq bigint GENERATED ALWAYS AS IDENTITY, rule int NOT NULL, "
                f"row_no bigint, value text, column_name text, why text)")
    folded, alone = [], []
    for index, query in queries:
        sql = query.format(batch=view)
        parts = row_condition(sql, view)
        if parts:
            folded.append((index, *parts))
        else:
            alone.append((index, sql))
    for index, sql in alone:
        # A rule over several columns also returns each row's column_name and why (suites.as_issued_expectation).
        cur.execute(f"INSERT INTO {table} (rule, row_no, value, column_name, why) SELECT {int(index)}, q.row_no, "
                    f"q.value::text, to_jsonb(q) ->> 'column_name', to_jsonb(q) ->> 'why' FROM ({sql}) q")
    if folded:
        cur.execute(f"INSERT INTO {table} (rule, row_no, value) {fused_select(view, folded)}")


def verdict_query(table: str, index: int) -> str:
    """The unexpected_rows_query GX runs for rule `index`: its failing rows from `answer`'s table, in the order
    the rule's own query gives them. `{batch}` (the staged view the verdicts were computed on) is named in a comment
    so GX's query check knows the query belongs to the batch."""
    return (f"SELECT v.row_no, v.value, v.column_name, v.why FROM {table} v WHERE v.rule = {int(index)} ORDER BY v.seq "
            f"/* verdicts of {{batch}} */")
