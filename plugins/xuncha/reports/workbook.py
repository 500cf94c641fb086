"""The Excel workbook of the marts (巡察工作数据), in the shape inspection offices circulate tables.

One sheet per mart and per list (台账), the term headline (巡察工作情况) first, then 图表 with the report's main
charts (xlsxwriter charts over the small tables beside them): a title row naming the table and its as-of date, a
frozen header row of Chinese labels with their units once (from the metric dictionary, sql/marts/<name>.yml; the
column's meaning as the header cell's comment), rows in key order with the county's name beside its code (县区名称
beside 县区代码: every header unique), codes shown as their Chinese labels (export spec code lists: 已完成, not
done), and column widths fitted to the text. Printable: A4 landscape, fitted to one page wide, the title and
header rows repeated on every page, the title in the page header. Written with xlsxwriter.

Text is never a formula: every text cell is written as a string (`write_string`, the workbook's
strings_to_formulas/strings_to_urls off), and text starting with `=`, `+`, `-`, `@`, tab or CR also gets Excel's
quote prefix, so editing the cell keeps it text (OWASP, "CSV injection"; the issue's rule).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal
from functools import cache
from pathlib import Path

from xuncha.metrics.dictionary import HEADLINE, Column

RISKY_START = ("=", "+", "-", "@", "\t", "\r")
"""Text starting with one of these would be read as a formula (or a DDE call) by a spreadsheet."""
NUMBER_FORMATS = {"share": "0.00%", "CNY": "#,##0.00", "count": "#,##0", "persons": "#,##0", "days": "#,##0",
                  "months": "0", "year": "0", "number": "0", "date": "yyyy-mm-dd"}
SHEET_NAME_MAX = 31


def workbook_name(as_of: dt.date) -> str:
    """The file name of the workbook of day `as_of`: 巡察工作数据-YYYY-MM-DD.xlsx."""
    return f"巡察工作数据-{as_of.isoformat()}.xlsx"


def timestamp_text(value: dt.datetime) -> str:
    """A timestamp as the workbook shows it: Asia/Shanghai local time to the minute (Excel has no time zones)."""
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def _width(text: str) -> int:
    """Display width in character cells: CJK and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _text(value) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return str(value)


class _Sheet:
    """One mart as one worksheet."""

    def __init__(self, book, formats: dict, table, names: dict[str, str]):
        self.book, self.f, self.table, self.names = book, formats, table, names

    def columns(self) -> list[tuple[Column | None, int | None]]:
        """(column, index in the row) in sheet order; as_of goes to the title; a name column follows county codes."""
        out: list[tuple[Column | None, int | None]] = []
        for i, c in enumerate(self.table.columns):
            if c.name == "as_of":
                continue
            out.append((c, i))
            if c.name in ("county_code", "org_county_code", "source_code") and "county_name" not in \
                    {x.name for x in self.table.columns}:
                label = c.label.removesuffix("代码") + "名称"            # 县区代码 → 县区名称: headers stay unique
                out.append((Column(f"{c.name}:name", label, "text", f"the name of {c.name} (config/counties.yml)"), i))
        return out

    def rows(self) -> list[tuple]:
        rows = list(self.table.rows)
        if self.table.mart.name == HEADLINE:       # units by code, then the whole city, per term
            cols = [c.name for c in self.table.columns]
            scope, term, code = cols.index("scope"), cols.index("term_no"), cols.index("county_code")
            rows.sort(key=lambda r: (r[term], r[scope] == "city_total", r[code]))
        return rows

    def write(self) -> None:
        mart, table = self.table.mart, self.table
        ws = self.book.add_worksheet(mart.title[:SHEET_NAME_MAX])
        cols = self.columns()
        day = f"截至 {table.as_of.isoformat()}（当日终了）" if table.as_of else "当前状态"
        ws.merge_range(0, 0, 0, max(len(cols) - 1, 1), f"{mart.title}（{mart.title_en}）  {day}", self.f["title"])
        ws.set_row(0, 28)
        widths = []
        for j, (c, _) in enumerate(cols):
            ws.write_string(1, j, c.header, self.f["header"])
            ws.write_comment(1, j, f"{c.name}: {c.description}", {"x_scale": 2})
            widths.append(_width(c.header))
        ws.freeze_panes(2, 0)
        _print_layout(ws, f"{mart.title} {day}")
        rows = self.rows()
        for r_i, row in enumerate(rows, start=2):
            for j, (c, i) in enumerate(cols):
                value = row[i]
                if c.name.endswith(":name"):
                    value = self.names.get(value) if value is not None else None
                shown = self._cell(ws, r_i, j, c, value)
                widths[j] = max(widths[j], _width(shown))
        if not rows:
            ws.write_string(2, 0, "（无数据 no rows）")
        ws.write_string(len(rows) + 3, 0, f"一行 one row = {mart.grain}。口径 formula: {' '.join(mart.formula.split())}",
                        self.f["note"])
        for j, w in enumerate(widths):
            ws.set_column(j, j, min(max(w + 2, 8), 40))
        ws.autofilter(1, 0, 1 + len(rows), len(cols) - 1)

    def _cell(self, ws, r: int, j: int, c: Column, value) -> str:
        """Write one value; return the text it shows (for the column width)."""
        if value is None:
            ws.write_blank(r, j, None)
            return ""
        if c.unit == "boolean":
            text = "是" if value else "否"
            ws.write_string(r, j, text, self.f["center"])
            return text
        if isinstance(value, dt.datetime):
            text = timestamp_text(value)
            ws.write_string(r, j, text)
            return text
        if isinstance(value, dt.date):
            ws.write_datetime(r, j, dt.datetime.combine(value, dt.time()), self.f["date"])
            return "yyyy-mm-dd"
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) and c.unit in NUMBER_FORMATS:
            ws.write_number(r, j, float(value), self.f[c.unit])
            return f"{float(value):,.2f}" if c.unit in ("share", "CNY") else f"{value:,}"
        text = _text(value)
        shown = labels()
        if c.name in shown:
            text = shown[c.name].get(text, text)
        ws.write_string(r, j, text, self.f["quoted"] if text.startswith(RISKY_START) else None)
        return text


SCOPE_LABELS = {"unit": "县区", "city_total": "全市"}
"""mart.term_headline `scope` → label: a reporting unit's row, or the whole city's (the report's 全市 row)."""


@cache
def labels() -> dict[str, dict[str, str]]:
    """Coded column → {code: Chinese label}, from where each code is defined: the export spec's code lists
    (xuncha.reports.drill.codes; coverage's org_type 'all' = 全部), the registry's levels (xuncha.registry.LEVEL_LABELS)
    and the headline's scope (SCOPE_LABELS). A code without a label is shown as is."""
    from xuncha.registry import LEVEL_LABELS
    from xuncha.reports.drill import codes

    out = codes()
    out["org_type"] = {**out["org_type"], "all": "全部"}
    out["level"] = dict(LEVEL_LABELS)
    out["scope"] = dict(SCOPE_LABELS)
    return out


def _print_layout(ws, title: str) -> None:
    """A4 landscape, one page wide (as many long as needed), title and header rows on every page, the title and
    page numbers in the page header and footer."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0, 1)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_header(f"&C{title.replace('&', '&&')}")
    ws.set_footer("&C第 &P 页 / 共 &N 页")


def write_workbook(path: Path, tables: list, names: dict[str, str] | None = None) -> Path:
    """Write `tables` (xuncha.metrics.marts.MartTable, the headline first) as one workbook at `path`.

    `names` maps county codes to names (a name column follows each county code). Returns `path`.
    """
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                           "strings_to_numbers": False})
    formats = {
        "title": book.add_format({"bold": True, "font_size": 14, "align": "left", "valign": "vcenter"}),
        "header": book.add_format({"bold": True, "text_wrap": True, "valign": "vcenter", "align": "center",
                                   "bg_color": "#DDEBF7", "border": 1}),
        "note": book.add_format({"italic": True, "font_color": "#595959"}),
        "center": book.add_format({"align": "center"}),
        "quoted": book.add_format({"quote_prefix": True}),
    }
    formats.update({unit: book.add_format({"num_format": fmt}) for unit, fmt in NUMBER_FORMATS.items()})
    try:
        for table in tables:
            _Sheet(book, formats, table, names or {}).write()
        from xuncha.reports.workbook_charts import write_charts

        write_charts(book, formats, {t.mart.name: t for t in tables}, names or {})
    finally:
        book.close()
    return path


def build(url: str | None = None, as_of: dt.date | None = None, out: Path | None = None) -> Path:
    """The workbook of every mart as of `as_of` (default the newest loaded night), computed first where missing.

    Raises ValueError when nothing is loaded, or `as_of` is later than the newest loaded night (its figures
    would claim the nights after it had nothing to report). Writes `out`/巡察工作数据-<as_of>.xlsx (default
    out: XUNCHA_HOME/reports) and returns its path.
    """
    from xuncha import registry
    from xuncha.metrics import dictionary as metric_dictionary
    from xuncha.metrics import marts as metrics
    from xuncha.settings import get_settings

    newest = metrics.newest_loaded_night(url)
    if newest is None:
        raise ValueError("nothing is loaded yet: no night to report")
    day = as_of or newest
    if day > newest:
        raise ValueError(f"as-of {day} is later than the newest loaded night ({newest}): no figures for it")
    metrics.ensure(url, as_of=day)
    order = [HEADLINE] + [n for n in metric_dictionary.marts() if n != HEADLINE]
    tables = [metrics.read_freshness(url, day) if n == "freshness" else metrics.read_mart(url, n, day) for n in order]
    names = {c.code: c.name for c in registry.default().counties}
    return write_workbook((out or get_settings().home / "reports") / workbook_name(day), tables, names)
