"""Drill-down for the report: the lists (台账) behind the figures, as data the page's inline script opens.

`lists(data)` gives each ledger of the day (xuncha.metrics.dictionary marts with `explains`) as
{title, columns: [[name, Chinese header]], codes: {column: {code: label}}, rows: [[values]]}: compact, for one
inline JSON block. `chart_targets(data)` says, per chart, which list a click opens and how the clicked point
filters it: `x`/`y` map an axis label to column filters (a unit's name → its county_code), `trace` maps a trace
name to filters, `base` applies to every click. Table cells and tiles carry the same as `data-list` and
`data-filter` attributes (`cell(...)`). The script (templates/drill.js) filters by equality on those columns,
then by the reader's text, sorts by any column and copies the shown rows as tab-separated text.

`dictionary_html()` renders docs/metrics.md (generated from sql/marts/*.yml) as HTML for the report's 指标说明
section and the Airflow UI page /xuncha/metrics.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import cache

from xuncha.reports.data import ReportData

CODE_LISTS = {"status": "rectification_status", "org_type": "org_type", "outcome_type": "outcome_type",
              "person_rank": "person_rank", "recipient": "clue_recipient", "disposal_method": "disposal_method",
              "round_type": "round_type", "category": "finding_category"}
"""Column → the spec's code list whose Chinese labels the page shows for it (the codes stay the values)."""


def _value(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat(sep=" ", timespec="seconds") if isinstance(v, dt.datetime) else v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    return v


def codes() -> dict[str, dict[str, str]]:
    """Column → {code: Chinese label} for the coded columns of the lists (export spec code lists)."""
    from xuncha.spec import load_spec

    spec = load_spec().codes
    return {col: dict(spec[name]) for col, name in CODE_LISTS.items()}


def lists(data: ReportData) -> dict[str, dict]:
    """Every ledger of `data.as_of` (rows of `data.lists`) in the page's compact form (see the module doc)."""
    from xuncha.metrics import dictionary

    out = {}
    for name, rows in data.lists.items():
        m = dictionary.get(name)
        cols = [c for c in m.columns if c.name != "as_of"]
        out[name] = {"title": m.title, "title_en": m.title_en, "columns": [[c.name, c.header] for c in cols],
                     "rows": [[_value(r[c.name]) for c in cols] for r in rows]}
    return out


def _units(data: ReportData) -> dict[str, dict]:
    return {data.name(code): {"county_code": code} for code in data.names}


def chart_targets(data: ReportData) -> dict[str, dict]:
    """Per chart id (xuncha.reports.charts.CHARTS), the list a click on it opens (see the module doc). The rounds
    chart has none: rounds per year have no ledger."""
    units = _units(data)
    c = codes()
    outcome_traces = {f"{zh} {t}": {"outcome_type": t} for t, zh in c["outcome_type"].items()}
    return {
        "coverage": {"list": "ledger_uninspected", "x": units, "title": "未巡察单位"},
        "coverage_by_type": {"list": "ledger_uninspected", "y": units, "title": "未巡察单位",
                             "x": {f"{zh}<br>{t}": {"org_type": t} for t, zh in c["org_type"].items()}},
        "rectification": {"list": "ledger_rectification", "x": units, "base": {"completed": False},
                          "title": "未完成整改任务"},
        "satisfaction": {"list": "ledger_satisfaction", "title": "满意率未达标单位"},
        "clue_ageing": {"list": "ledger_clues", "x": units, "base": {"disposed": False}, "title": "未办结线索"},
        "outcomes": {"list": "ledger_outcomes", "x": units, "trace": outcome_traces, "title": "处置结果"},
    }


HEADLINE_LISTS = {"sanctions": ("ledger_outcomes", {"outcome_type": "sanction"}),
                  "org_handling": ("ledger_outcomes", {"outcome_type": "org_handling"}),
                  "detentions": ("ledger_outcomes", {"outcome_type": "detention"}),
                  "judicial_transfers": ("ledger_outcomes", {"outcome_type": "judicial_transfer"}),
                  "amount_recovered": ("ledger_outcomes", {})}
"""Headline columns with a list behind them: the list and its filter (plus the row's unit)."""


def cell(ledger: str, title: str, **filters) -> dict:
    """The attributes of a clickable cell or tile: `data-list`, `data-filter` (JSON) and `data-title`."""
    return {"data-list": ledger, "data-filter": json.dumps({k: v for k, v in filters.items() if v is not None},
                                                           ensure_ascii=False), "data-title": title}


def page_json(data: ReportData) -> str:
    """The inline JSON block of the page: {lists, codes, charts}; `</` escaped so no row can end the script."""
    text = json.dumps({"lists": lists(data), "codes": codes(), "charts": chart_targets(data)}, ensure_ascii=False,
                      separators=(",", ":"))
    return text.replace("</", "<\\/")


@cache
def script() -> str:
    """The page's drill-down script (templates/drill.js), inlined: no file is fetched."""
    from xuncha.reports.html import TEMPLATES

    return (TEMPLATES / "drill.js").read_text(encoding="utf-8")


def dictionary_html() -> str:
    """docs/metrics.md (the metric dictionary, generated from sql/marts/*.yml) as an HTML fragment."""
    from markdown_it import MarkdownIt

    from xuncha.metrics.dictionary import DOCS_PATH

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(DOCS_PATH.read_text(encoding="utf-8"))
