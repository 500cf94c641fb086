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
