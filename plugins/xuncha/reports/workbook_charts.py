"""The workbook's 图表 sheet: the report's main charts as native Excel charts (xlsxwriter), each over a small table
written beside it on the same sheet (so the chart's numbers are cells a reader can check and copy):

- 巡察覆盖率: coverage_rate per unit (org_type all) of the newest term, against 100%;
- 整改完成率: completion_rate per unit of the newest term;
- 问题线索: open clues within and beyond the three-month rule per unit (stacked);
- 处置结果: decisions per outcome type (all units, the newest term).

Called by xuncha.reports.workbook.write_workbook with the day's MartTables by name; a chart without rows is left
out. Printable as the other sheets (A4 landscape, one page wide).
"""

from __future__ import annotations

from collections import defaultdict

CHART_SHEET = "图表"


def _records(tables: dict, name: str) -> list[dict]:
    table = tables.get(name)
    return table.records() if table is not None else []


def _newest_term(rows: list[dict]) -> int | None:
    terms = [r["term_no"] for r in rows if r.get("term_no")]
    return max(terms) if terms else None


def write_charts(book, formats: dict, tables: dict, names: dict[str, str]) -> None:
    """Add the 图表 sheet to `book` (see the module doc); `names` maps unit codes to names."""
    ws = book.add_worksheet(CHART_SHEET)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.write_string(0, 0, "图表 Charts（数据见各图左侧表格 the numbers are in the tables beside each chart）", formats["title"])
    ws.set_column(0, 0, 14)
    ws.set_column(1, 2, 12)
    row = 2

    def block(title: str, headers: list[str], data: list[list], kind: dict, series_cols: list[int],
              number_format: str | None = None) -> None:
        nonlocal row
        if not data:
            return
        ws.write_string(row, 0, title, formats["header"])
        for j, h in enumerate(headers):
            ws.write_string(row + 1, j, h, formats["header"])
        for i, values in enumerate(data, start=row + 2):
            ws.write_string(i, 0, str(values[0]))
            for j, v in enumerate(values[1:], start=1):
                ws.write_number(i, j, float(v or 0), formats.get(number_format) if number_format else None)
        chart = book.add_chart(kind)
        first, last = row + 2, row + 1 + len(data)
        for j in series_cols:
            chart.add_series({"name": [CHART_SHEET, row + 1, j], "categories": [CHART_SHEET, first, 0, last, 0],
                              "values": [CHART_SHEET, first, j, last, j], "data_labels": {"value": True}})
        chart.set_title({"name": title, "name_font": {"size": 12}})
        chart.set_legend({"position": "bottom"})
        if number_format == "share":
            chart.set_y_axis({"num_format": "0%", "min": 0, "max": 1})
        chart.set_size({"width": 640, "height": 300})
        ws.insert_chart(row, len(headers) + 1, chart)
        row = max(row + 3 + len(data), row + 17)

    coverage = [r for r in _records(tables, "coverage") if r["org_type"] == "all"]
    term = _newest_term(coverage)
    block(f"巡察覆盖率（第{term}届）", ["县区", "覆盖率"],
          [[names.get(r["county_code"], r["county_code"]), r["coverage_rate"]] for r in coverage if r["term_no"] == term],
          {"type": "column"}, [1], "share")
    rect = _records(tables, "rectification")
    term = _newest_term(rect)
    block(f"整改完成率（第{term}届）", ["县区", "整改完成率"],
          [[names.get(r["county_code"], r["county_code"]), r["completion_rate"]] for r in rect
           if r["term_no"] == term and r["tasks_due"]], {"type": "column"}, [1], "share")
    clues = _records(tables, "clue_disposal")
    block("问题线索（未办结）", ["县区", "三个月内", "超三个月"],
          [[names.get(r["county_code"], r["county_code"]), r["open_within_rule"], r["open_beyond_rule"]] for r in clues],
          {"type": "column", "subtype": "stacked"}, [1, 2])
    outcomes = _records(tables, "outcomes")
    term = _newest_term(outcomes)
    per: dict[str, int] = defaultdict(int)
    from xuncha.reports.drill import codes

    labels = codes()["outcome_type"]
    for r in outcomes:
        if r["term_no"] == term:
            per[labels.get(r["outcome_type"], r["outcome_type"])] += r["outcomes"]
    block(f"处置结果（第{term}届，人次）", ["类型", "人次"], [[k, v] for k, v in per.items()], {"type": "column"}, [1])
