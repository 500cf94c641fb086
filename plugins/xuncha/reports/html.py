"""The report 巡察工作数据报告 as one self-contained HTML page, and `build()`, the one entry point every caller
(CLI `xuncha report`, DAG `xuncha_marts`, the Airflow UI plugin) uses.

The page carries everything it needs: plotly.js inline (once, in the head), the figures as inline JSON, the lists
behind them (台账) and the drill-down script inline (xuncha.reports.drill), the metric dictionary, styles
inline, local fonts only, and a Content-Security-Policy that forbids any fetch — so it opens from disk with no
request leaving the machine. Text from the warehouse is HTML-escaped by Jinja2's autoescaping.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from pathlib import Path

from xuncha.reports import charts
from xuncha.reports.data import ReportData

TEMPLATES = Path(__file__).with_name("templates")
HEADLINE_COLS = (("巡察轮次", "rounds", "rounds"), ("被巡察单位", "orgs inspected", "orgs_inspected"),
                 ("发现问题", "findings", "findings"), ("移交问题线索", "clues transferred", "clues_transferred"),
                 ("党纪政务处分", "sanctions", "sanctions"), ("组织处理", "org. handling", "org_handling"),
                 ("留置", "detentions", "detentions"), ("移送司法机关", "to judiciary", "judicial_transfers"),
                 ("收缴/挽回（元）", "recovered, CNY", "amount_recovered"))
TITLES = {"coverage": "巡察覆盖率（按县区）Coverage by county vs 100%",
          "coverage_by_type": "巡察覆盖率（按县区和单位类型）Coverage by county and organisation type",
          "rounds": "巡察轮次（按年）Rounds per year vs target — 市委 ≥ 3, 县委 4–5",
          "rectification": "整改完成率 Rectification completion (tasks due by the as-of day)",
          "satisfaction": "整改满意率分布 Satisfaction distribution (organisations by rate)",
          "clue_ageing": "问题线索账龄与清零 Open clues by age (三个月反馈 3-month rule) and 清零 progress",
          "outcomes": "处置结果（按类型）Outcomes by type"}
STATES = {"current": "最新 current", "behind": "滞后 behind", "quarantined": "隔离 quarantined", "none": "无 none"}
OVERDUE_SHOWN = 200
"""Overdue tasks listed on the page (oldest first); the heading gives the full count."""


@cache
def environment():
    """The Jinja2 environment of templates/ (autoescape on: county text is never markup)."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@cache
def plotly_js() -> str:
    """plotly.js (minified) of the installed plotly package, to inline once per page."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def render(data: ReportData) -> str:
    """The report page for `data` as an HTML string (about 5 MB, most of it plotly.js)."""
    built = []
    for cid, fn in charts.CHARTS:
        fig, summary = fn(data)
        title, html = TITLES[cid], None
        if fig is not None:
            fig.update_layout(title=None, margin={"t": 24})     # the section heading carries the title
            html = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{cid}",
                               config={"displaylogo": False, "responsive": True})
        built.append({"id": cid, "title": title, "html": html, "summary": summary})
    headline = sorted(data.marts["term_headline"], key=lambda r: (r["scope"] == "city_total", r["county_code"]))
    overdue = sorted(data.marts["rectification_overdue"], key=lambda t: (-t["days_overdue"], t["county_code"], t["task_id"]))
    fresh = data.freshness
    from xuncha.reports import drill
    from xuncha.spec import load_spec

    return environment().get_template("report.html.j2").render(
        d=data, plotly_js=plotly_js(), charts=built, headline=headline, headline_cols=HEADLINE_COLS, fmt=_fmt,
        overdue=overdue[:OVERDUE_SHOWN], overdue_total=len(overdue), states=STATES, cell=drill.cell,
        headline_lists=drill.HEADLINE_LISTS, drill_charts=drill.chart_targets(data), lists=drill.lists(data),
        drill_json=drill.page_json(data), drill_js=drill.script(), dictionary=drill.dictionary_html(),
        statuses=load_spec().codes["rectification_status"],
        clues=sorted(data.marts["clue_disposal"], key=lambda r: (r["county_code"] != "410300", r["county_code"])),
        sections=[("freshness", "新鲜度"), ("headline", "总表"), ("coverage", "覆盖率"), ("rounds", "轮次"),
                  ("rectification", "整改"), ("overdue", "超期预警"), ("satisfaction", "满意率"), ("clue_ageing", "线索"),
                  ("outcomes", "处置")],
        freshness_summary=(f"{sum(f['state'] == 'current' for f in fresh)} / {len(fresh)} 个县区系统已入库截至日当夜 "
                           f"county systems have the as-of night; 滞后 behind {sum(f['state'] == 'behind' for f in fresh)}, "
                           f"隔离 quarantined {sum(f['state'] == 'quarantined' for f in fresh)}, "
                           f"无 none {sum(f['state'] == 'none' for f in fresh)}"))


def build(url: str | None = None, as_of: dt.date | None = None, out: Path | None = None) -> Path:
    """Write the report of `as_of` (default: the newest night loaded) to `out`/巡察工作数据报告-<as_of>.html
    (default folder: <XUNCHA_HOME>/reports) and return the file's path. Days the marts lack are computed first;
    a day after the newest loaded night raises ValueError (see xuncha.reports.data.load)."""
    from xuncha.reports import data as report_data

    d = report_data.load(url, as_of)
    folder = out or default_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(d.as_of)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render(d), encoding="utf-8")
    tmp.replace(path)                          # readers (the UI plugin) never see half a file
    return path


def default_folder() -> Path:
    """Where reports are written unless told otherwise: $XUNCHA_HOME/reports."""
    from xuncha.settings import get_settings

    return get_settings().home / "reports"


def file_name(day: dt.date) -> str:
    """The report's file name for as-of `day`: 巡察工作数据报告-YYYY-MM-DD.html."""
    return f"巡察工作数据报告-{day.isoformat()}.html"


def _fmt(v, key: str) -> str:
    if v is None:
        return "—"
    if key == "amount_recovered" or isinstance(v, Decimal):
        return f"{v:,.2f}"
    return f"{v:,}"
