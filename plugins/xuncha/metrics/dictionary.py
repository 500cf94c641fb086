"""The metric dictionary (指标字典): one description per mart, `sql/marts/<name>.yml`, beside `<name>.sql`.

Each description (schema: plugins/xuncha/schemas/mart.schema.json, dbt-style) gives the mart's grain, key,
columns with Chinese labels and units, formula, the parameters of config/metrics.yml it uses, output checks
(numerator ≤ denominator, parts add up) and `depends_on` (refresh order). From these files are generated:

- `docs/metrics.md` (with the prose of docs/metrics.in.md around the per-mart sections);
- `sql/repeatable/mart_comments.sql`: the tables' and columns' `COMMENT ON`, applied by the migration runner
  whenever it changes (xuncha.warehouse.migrate, repeatable objects);
- the refresh order of xuncha.metrics.marts and the headers of the workbook and the report.

`xuncha dictionary --write` regenerates both files; tests/test_metric_dictionary.py fails when they drift from
the descriptions, or when a description and its table disagree.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from xuncha.settings import PROJECT_ROOT, SQL_DIR

MARTS_DIR = SQL_DIR / "marts"
SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "mart.schema.json"
DOCS_TEMPLATE = PROJECT_ROOT / "docs" / "metrics.in.md"
DOCS_PATH = PROJECT_ROOT / "docs" / "metrics.md"
COMMENTS_PATH = SQL_DIR / "repeatable" / "mart_comments.sql"
HEADLINE = "term_headline"
"""The mart a reader sees first (`xuncha metrics` without --mart, the workbook's first sheet)."""
UNITS = {"date": "日期", "timestamp": "时间", "code": "代码", "text": "文本", "number": "编号", "year": "年", "count": "个", "persons": "人",
         "share": "%", "boolean": "是/否", "CNY": "元", "months": "月", "days": "天"}
"""Units of the descriptions, as the Chinese unit printed after a header (share: stored 0–1, shown as %)."""


class DictionaryError(ValueError):
    """A mart description is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Column:
    """One column of a mart: `name` in SQL, `label` its Chinese header, `unit` one of UNITS."""
    name: str
    label: str
    unit: str
    description: str

    @property
    def header(self) -> str:
        """The Chinese header with its unit, e.g. 巡察覆盖率（%）; codes, text and dates carry none."""
        if self.unit in ("code", "text", "date", "timestamp", "number", "boolean", "year"):
            return self.label
        suffix = f"（{UNITS[self.unit]}）"
        return self.label if self.label.endswith(suffix) else self.label + suffix   # 起（月）, not 起（月）（月）


@dataclass(frozen=True)
class Explains:
    """A figure a ledger (台账) explains: per `by` columns, the ledger's rows matching `rows` (SQL, None = all)
    number sum(`figure`) of mart.`mart` rows matching `where` (SQL, None = all). `label` is the figure's Chinese
    name (the report's drill-down names the list by it)."""
    mart: str
    figure: str
    label: str
    by: tuple[str, ...]
    where: str | None = None
    rows: str | None = None


@dataclass(frozen=True)
class Mart:
    """A mart's description (sql/marts/<name>.yml): the table is mart.<name>, filled by <name>.sql."""
    name: str
    title: str
    title_en: str
    grain: str
    key: tuple[str, ...]
    dated: bool
    description: str
    formula: str
    parameters: tuple[str, ...]
    depends_on: tuple[str, ...]
    columns: tuple[Column, ...]
    checks: tuple[dict, ...]
    example: dict | None
    path: Path
    explains: tuple[Explains, ...] = ()

    @property
    def is_ledger(self) -> bool:
        """A ledger (台账): a list of the rows behind figures of other marts (its description has `explains`)."""
        return bool(self.explains)

    @property
    def sql_path(self) -> Path:
        """The mart's SQL file, beside its description: sql/marts/<name>.sql."""
        return self.path.with_suffix(".sql")

    @property
    def table(self) -> str:
        """The qualified table name, `mart.<name>`."""
        return f"mart.{self.name}"

    def column(self, name: str) -> Column:
        """The described column `name`; StopIteration when the mart has none of that name."""
        return next(c for c in self.columns if c.name == name)


def _validate(raw, path: Path) -> None:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.absolute_path) or "(top)"
        raise DictionaryError(f"{path.name}: {where}: {e.message}")


def parse(path: Path) -> Mart:
    """Read and validate one description; errors name the file and the key (DictionaryError)."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DictionaryError(f"{path.name}: not valid YAML: {exc}") from None
    _validate(raw, path)
    if raw["name"] != path.stem:
        raise DictionaryError(f"{path.name}: name {raw['name']!r} is not the file's name")
    if not path.with_suffix(".sql").exists():
        raise DictionaryError(f"{path.name}: no {path.stem}.sql beside it")
    cols = tuple(Column(**c) for c in raw["columns"])
    names = [c.name for c in cols]
    if len(set(names)) != len(names):
        raise DictionaryError(f"{path.name}: columns: listed twice: {sorted({n for n in names if names.count(n) > 1})}")
    for ref in list(raw["key"]) + [v for chk in raw["checks"] for v in _refs(chk)]:
        if ref not in names:
            raise DictionaryError(f"{path.name}: key/checks name {ref!r}, which is not a column")
    return Mart(name=raw["name"], title=raw["title"], title_en=raw["title_en"], grain=raw["grain"], key=tuple(raw["key"]),
                dated=raw["dated"], description=raw["description"], formula=raw["formula"],
                parameters=tuple(raw["parameters"]), depends_on=tuple(raw.get("depends_on", ())), columns=cols,
                checks=tuple(raw["checks"]), example=raw.get("example"), path=path,
                explains=tuple(Explains(**(e | {"by": tuple(e["by"])})) for e in raw.get("explains", ())))


def _refs(check: dict) -> list[str]:
    return [v for k, v in check.items() if k != "parts"] + list(check.get("parts", ()))


@functools.cache
def _load(directory: Path) -> dict[str, Mart]:
    marts = {p.stem: parse(p) for p in sorted(directory.glob("*.yml"))}
    for p in sorted(directory.glob("*.sql")):
        if p.stem not in marts:
            raise DictionaryError(f"{p.name}: no description {p.stem}.yml beside it")
    ordered: dict[str, Mart] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in chain:
            raise DictionaryError(f"depends_on cycle: {' → '.join(chain + (name,))}")
        for dep in marts[name].depends_on:
            if dep not in marts:
                raise DictionaryError(f"{name}.yml: depends_on names {dep!r}, which has no description")
            visit(dep, chain + (name,))
        ordered[name] = marts[name]

    for name in marts:
        visit(name, ())
    return ordered


def marts(directory: Path = MARTS_DIR) -> dict[str, Mart]:
    """Every mart by name, in refresh order (a mart after those it depends_on, otherwise by name)."""
    return dict(_load(directory))


def get(name: str) -> Mart:
    """One mart's description; an unknown name raises DictionaryError listing the known ones."""
    found = marts()
    if name not in found:
        raise DictionaryError(f"no mart {name!r}; marts are: {', '.join(sorted(found))}")
    return found[name]


# -- generated files ---------------------------------------------------------------------------------------

def _sql_literal(text: str) -> str:
    return "'" + " ".join(text.split()).replace("'", "''") + "'"


def render_comments(found: dict[str, Mart] | None = None) -> str:
    """`COMMENT ON` for every mart table and column (sql/repeatable/mart_comments.sql)."""
    found = found or marts()
    out = ["-- GENERATED from sql/marts/*.yml by `xuncha dictionary --write`: do not edit; edit the .yml instead.",
           "-- Re-applied by the migration runner whenever this file changes (repeatable, xuncha.warehouse.migrate)."]
    for m in sorted(found.values(), key=lambda m: m.name):
        out.append("")
        out.append(f"COMMENT ON TABLE {m.table} IS {_sql_literal(f'{m.title} — {m.title_en}. One row = {m.grain}. {m.formula}')};")
        for c in m.columns:
            unit = "" if c.unit in ("code", "text") else f" [{c.unit}]"
            out.append(f"COMMENT ON COLUMN {m.table}.{c.name} IS {_sql_literal(f'{c.label}{unit}: {c.description}')};")
    return "\n".join(out) + "\n"


def _section(m: Mart) -> str:
    lines = [f"## {m.title} — {m.title_en} (`{m.table}`)", "",
             f"- **Definition.** {m.description}",
             f"- **Formula.** {m.formula}",
             f"- **Parameters.** {', '.join(f'`{p}`' for p in m.parameters) or 'none'}.",
             f"- **SQL.** `sql/marts/{m.name}.sql`; description `sql/marts/{m.name}.yml`"
             + (f"; refreshed after {', '.join(f'`mart.{d}`' for d in m.depends_on)}" if m.depends_on else "") + ".",
             f"- **One row.** {m.grain}. Key: `({', '.join(m.key)})`" + ("" if m.dated else "; not dated (current state)") + "."]
    for chk in m.checks:
        if "rate" in chk:
            lines.append(f"- **Check.** `{chk['numerator']} <= {chk['denominator']}`, `{chk['rate']} = "
                         f"round({chk['numerator']} / {chk['denominator']}, 4)` (NULL when the denominator is 0).")
        elif "parts" in chk:
            lines.append(f"- **Check.** `{' + '.join(chk['parts'])} = {chk['total']}`.")
        else:
            lines.append(f"- **Check.** `{chk['not_above']} <= {chk['limit']}`.")
    for e in m.explains:
        lines.append(f"- **Explains.** {e.label}: `{e.figure}` of `mart.{e.mart}`"
                     + (f" where `{e.where}`" if e.where else "") + f" = the rows" + (f" where `{e.rows}`" if e.rows else "")
                     + f", per `({', '.join(e.by)})` (tested).")
    if m.example:
        lines.append(f"- **Example.** `{m.example['row']}`" + (f" — {' '.join(m.example['note'].split())}" if m.example.get("note") else "") + ".")
    lines += ["", "| column | 中文 | unit | meaning |", "|---|---|---|---|"]
    lines += [f"| `{c.name}` | {c.label} | {c.unit} | {c.description.replace('|', '/')} |" for c in m.columns]
    return "\n".join(lines)


def render_docs(found: dict[str, Mart] | None = None) -> str:
    """docs/metrics.md: docs/metrics.in.md with `<!-- marts -->` replaced by one section per mart."""
    found = found or marts()
    template = DOCS_TEMPLATE.read_text(encoding="utf-8")
    if "<!-- marts -->" not in template:
        raise DictionaryError(f"{DOCS_TEMPLATE.name}: the marker <!-- marts --> is missing")
    order = [HEADLINE] + [n for n in found if n != HEADLINE]
    body = "\n\n".join(_section(found[n]) for n in order if n in found)
    head = ("<!-- GENERATED from docs/metrics.in.md and sql/marts/*.yml by `xuncha dictionary --write`: "
            "edit those, not this file. -->\n")
    return head + template.replace("<!-- marts -->", body)


def stale() -> list[Path]:
    """The generated files that differ from what the descriptions give (empty = in sync)."""
    want = {DOCS_PATH: render_docs(), COMMENTS_PATH: render_comments()}
    return [p for p, text in want.items() if not p.exists() or p.read_text(encoding="utf-8") != text]


def write() -> list[Path]:
    """Regenerate docs/metrics.md and sql/repeatable/mart_comments.sql; return the files that changed."""
    changed = stale()
    COMMENTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOCS_PATH.write_text(render_docs(), encoding="utf-8")
    COMMENTS_PATH.write_text(render_comments(), encoding="utf-8")
    return changed


def check_queries(m: Mart) -> list[tuple[str, str]]:
    """The output checks as (label, SQL counting the rows that break it) over mart.<name>."""
    out = []
    for chk in m.checks:
        if "rate" in chk:
            n, d, r = chk["numerator"], chk["denominator"], chk["rate"]
            out.append((f"{n} <= {d} and {r} = {n}/{d}",
                        f"SELECT count(*) FROM {m.table} WHERE {n} > {d} "
                        f"OR {r} IS DISTINCT FROM round({n}::numeric / nullif({d}, 0), 4)"))
        elif "parts" in chk:
            out.append((f"{' + '.join(chk['parts'])} = {chk['total']}",
                        f"SELECT count(*) FROM {m.table} WHERE {' + '.join(chk['parts'])} <> {chk['total']}"))
        else:
            out.append((f"{chk['not_above']} <= {chk['limit']}",
                        f"SELECT count(*) FROM {m.table} WHERE {chk['not_above']} > {chk['limit']}"))
    return out


def explain_queries(m: Mart) -> list[tuple[Explains, str]]:
    """For a ledger, each figure it explains with SQL returning (by..., figure, rows) for day %(as_of)s wherever
    the two differ (no row = the list counts exactly what the figure says)."""
    out = []
    for e in m.explains:
        by = ", ".join(e.by)
        on = " AND ".join(f"f.{c} = l.{c}" for c in e.by)
        sql = (f"SELECT {', '.join(f'coalesce(f.{c}, l.{c})' for c in e.by)}, coalesce(f.n, 0), coalesce(l.n, 0) "
               f"FROM (SELECT {by}, sum({e.figure}) AS n FROM mart.{e.mart} WHERE as_of = %(as_of)s"
               f"{' AND (' + e.where + ')' if e.where else ''} GROUP BY {by}) f "
               f"FULL JOIN (SELECT {by}, count(*) AS n FROM {m.table} WHERE as_of = %(as_of)s"
               f"{' AND (' + e.rows + ')' if e.rows else ''} GROUP BY {by}) l ON {on} "
               f"WHERE coalesce(f.n, 0) <> coalesce(l.n, 0)")
        out.append((e, sql))
    return out
