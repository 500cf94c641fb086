"""A file's row rules answered in one pass (issue 26): the verdicts Great Expectations then reads.

Each `unexpected_rows_expectation` of a suite (xuncha.validate.suites) is an SQL query over `{batch}` that returns
the failing rows as (row_no, value). GX runs every such expectation as its own query, and twice (a count, then the
rows: `unexpected_rows_query.row_count` and `.table`), so a findings file was scanned 14 times for its 7 rules,
with the person-data prefilter, castability and the reference lookups evaluated twice per value.

`answer` evaluates all of them before GX runs and writes what they find into one small UNLOGGED table,
`<view>__rules` (seq, rule, row_no, value, column_name, why): one row per failing (row, rule), in the order the rule's own query
returns them. A rule of the form `SELECT row_no, <value> AS value FROM {batch} WHERE <condition>` (every rule of
the suites but the key's uniqueness) is folded into one scan of the staged rows (two, on two connections at once,
for a large file) that evaluates each condition once per row and each value only where its condition holds; any other rule (the uniqueness aggregate) is run once,
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


PARALLEL_ROWS = 50_000
"""A file with at least this many rows has its rules answered on two connections (below it one scan is a few
milliseconds, and the second connection would cost more than it saves)."""


def jobs(view: str, queries: list[tuple[int, str]], scans: int = 1) -> list[str]:
    """The INSERT … SELECT bodies `answer` runs for the rule queries (index, SQL with `{batch}` unresolved):
    "(columns) SELECT …" answering one or more rules. The rules that are one row filter are dealt alternately into
    `scans` fused scans (rules of a kind stand next to each other in a suite, so each scan gets its share of the
    costly ones, e.g. the person-data rule of each free-text column); every other rule is a statement of its own.
    The fused scans come first (the longest)."""
    folded, alone = [], []
    for index, query in queries:
        sql = query.format(batch=view)
        parts = row_condition(sql, view)
        if parts:
            folded.append((index, *parts))
        else:
            # A rule over several columns also returns each row's column_name and why (suites.as_issued_expectation).
            alone.append(f"(rule, row_no, value, column_name, why) SELECT {int(index)}, q.row_no, q.value::text, "
                         f"to_jsonb(q) ->> 'column_name', to_jsonb(q) ->> 'why' FROM ({sql}) q")
    fused = [folded[k::scans] for k in range(max(1, scans))]
    return [f"(rule, row_no, value) {fused_select(view, part)}" for part in fused if part] + alone


def answer(connect, view: str, table: str, queries: list[tuple[int, str]], workers: int = 2) -> None:
    """Evaluate the rule queries (index in the suite, SQL with `{batch}` and our placeholders already resolved,
    braces as GX formats them) over `view` and write their failing rows to a new UNLOGGED `table` (schema.name):
    seq (the order to read them in), rule (the index), row_no, value (text), and column_name and why when the
    rule's query returns them (a rule over several columns), else NULL. Rules that are one row filter share a scan;
    the others run one each.

    `connect()` returns a new DB-API connection (closed here). A file of PARALLEL_ROWS rows or more has its
    statements (`jobs`, two fused scans) run on up to `workers` connections at once (issue 26, P1: one backend
    answered them while the second core idled once the merge beside it had ended). Each rule is answered by one
    statement, so its rows' seq still rises in the order its own query returns them. Errors propagate (a rule that
    cannot run is a defect of the suite); the table is then left for the caller to drop."""
    from concurrent.futures import ThreadPoolExecutor

    def run(statements: list[str], first: bool = False) -> bool:
        conn = connect()
        try:
            with conn.cursor() as cur:
                if first:   # the table, then (one connection: a small file) every rule
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
                    cur.execute(f"CREATE UNLOGGED TABLE {table} (seq bigint GENERATED ALWAYS AS IDENTITY, "
                                f"rule int NOT NULL, row_no bigint, value text, column_name text, why text)")
                    cur.execute(f"SELECT count(*) FROM (SELECT FROM {view} LIMIT {PARALLEL_ROWS}) n")
                    if cur.fetchone()[0] >= PARALLEL_ROWS and workers > 1:
                        conn.commit()
                        return False
                for statement in statements:
                    cur.execute(statement)
            conn.commit()
            return True
        finally:
            conn.close()

    if run([f"INSERT INTO {table} {body}" for body in jobs(view, queries)], first=True):
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="row-rules") as pool:
        for done in [pool.submit(run, [f"INSERT INTO {table} {body}"]) for body in jobs(view, queries, scans=workers)]:
            done.result()


def verdict_query(table: str, index: int) -> str:
    """The unexpected_rows_query GX runs for rule `index`: its failing rows from `answer`'s table, in the order
    the rule's own query gives them. `{batch}` (the staged view the verdicts were computed on) is named in a comment
    so GX's query check knows the query belongs to the batch."""
    return (f"SELECT v.row_no, v.value, v.column_name, v.why FROM {table} v WHERE v.rule = {int(index)} ORDER BY v.seq "
            f"/* verdicts of {{batch}} */")
