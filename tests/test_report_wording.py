"""Wording of the report that a reader could take the wrong way (issue 25): a partial first year is not "below
target" in red."""

from __future__ import annotations

import datetime as dt

from xuncha.metrics import config as metrics_config
from xuncha.reports import charts
from xuncha.reports.data import ReportData


def _year(year: int, rounds: int, complete: bool) -> dict:
    return {"county_code": "410325", "year": year, "rounds": rounds, "target_min": 4, "target_max": 5,
            "meets_target": rounds >= 4, "year_complete": complete}


def test_the_year_the_term_started_in_mid_year_is_not_marked_below_target():
    first = min(t.start for t in metrics_config.load().terms)
    assert (first.month, first.day) != (1, 1), "config/metrics.yml's first term starts mid-year (2016-10)"
    data = ReportData(as_of=dt.date(first.year + 2, 6, 30), term_no=None, latest=None,
                      generated_at=dt.datetime.now(dt.timezone.utc), names={"410325": "嵩县"},
                      marts={"rounds_per_year": [_year(first.year, 1, True), _year(first.year + 1, 2, True)]})
    fig, summary = charts.rounds(data)
    assert list(fig.data[0].z[0]) == [0.5, 0.0]         # partial year: blue, not judged; a full year below: red
    assert "complete years on target: 0 / 1" in summary and f"{first.year}年不完整" in summary


def test_the_rounds_heatmap_has_a_legend_of_its_colours_and_unit_and_each_unit_s_target():
    rows = [_year(2018, 4, True), _year(2019, 2, False),
            {"county_code": "410300", "year": 2018, "rounds": 2, "target_min": 3, "target_max": None,
             "meets_target": False, "year_complete": True}]
    data = ReportData(as_of=dt.date(2019, 6, 30), term_no=None, latest=None, generated_at=dt.datetime.now(dt.timezone.utc),
                      names={"410325": "嵩县", "410300": "洛阳市"}, marts={"rounds_per_year": rows})
    fig, _ = charts.rounds(data)
    legend = {t.name: t.marker.color for t in fig.data if t.showlegend}
    assert legend == {"达标 met the target": charts.GOOD, "未达标 below the target": charts.BAD,
                      "超出上限 above the maximum": charts.WARN, "年度进行中或不完整 year running or partial": charts.NEUTRAL}
    assert fig.layout.showlegend and "（轮）" in fig.layout.legend.title.text          # the unit of the numbers
    targets = {a.name.removeprefix("target-"): a.text for a in fig.layout.annotations if (a.name or "").startswith("target-")}
    assert targets == {"嵩县": "目标 4–5 轮/年", "洛阳市": "目标 ≥3 轮/年"}              # from the mart's target columns
