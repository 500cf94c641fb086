"""Freshness (数据新鲜度) has one definition, mart.freshness_at (sql/repeatable/mart.freshness_at.sql): the report's
strip and the workbook's sheet of a day both read it for that day and say the same; mart.freshness is the same
function as of yesterday. (They disagreed: the report said 0 nights behind, the workbook 3568, when the workbook read
the wall-clock mart for a day years back.) World: tests/mart_world.py's 嵩县 410325 to 2018-06-30, plus 老城区 410302
whose newest night is 2018-06-25 (five nights behind) and a night of 嵩县 after the day (2018-07-03).
"""

from __future__ import annotations

import datetime as dt
import re

import mart_world
import pytest
from conftest import query
from metrics_fixtures import finding, org, shared_world

from xuncha.metrics import marts as metrics
from xuncha.reports import html, workbook

D = dt.date.fromisoformat(mart_world.AS_OF)


def build(w):
    mart_world.build(w)
    w.night("410302", "2018-06-25", org_units=[org("410302-O1", at="2018-06-25")])
    w.night("410325", "2018-07-03", findings=[finding("410325-F9", "410325-I1", "2018-07-03")])


loaded, world = shared_world(build)


@pytest.fixture(scope="module")
def outputs(loaded, tmp_path_factory):
    loaded.refresh(mart_world.AS_OF)
    out = tmp_path_factory.mktemp("fresh")
    return html.build(loaded.url, as_of=D, out=out), workbook.build(loaded.url, as_of=D, out=out)


def _report_behind(path) -> dict[str, int]:
    text = path.read_text(encoding="utf-8")
    strip = text.split('id="freshness-strip"')[1].split("</div>\n</div>")[0]
    out = {}
    for code, body in re.findall(r'data-county="(\d{6})"[^>]*>(.*?)</div>', strip, re.S):
        if "未入库" not in body:
            m = re.search(r"落后(\d+)夜", body)
            out[code] = int(m.group(1)) if m else 0
    return out


def _workbook_behind(path) -> dict[str, int]:
    import openpyxl

    ws = openpyxl.load_workbook(path)["数据新鲜度"]
    headers = [c.value for c in ws[2]]
    code, age = headers.index("县区代码"), headers.index("滞后天数（天）")
    assert f"截至 {D}" in ws["A1"].value                      # the sheet is of the day, not "now"
    return {r[code]: r[age] for r in ws.iter_rows(min_row=3, values_only=True) if r[code] and r[age] is not None}


def test_the_report_and_the_workbook_of_a_day_say_the_same_nights_behind(outputs):
    report, book = outputs
    got_report, got_book = _report_behind(report), _workbook_behind(book)
    assert got_report["410325"] == got_book["410325"] == 0     # its night of 07-03 is after the day: not ahead
    assert got_report["410302"] == got_book["410302"] == 5
    assert got_report == {k: v for k, v in got_book.items() if k in got_report}


def test_the_mart_is_the_same_definition_as_of_yesterday(loaded):
    from xuncha.monitor import health

    health.refresh_freshness(loaded.url)
    mart = query(loaded.url, """SELECT county_code, expected_night, last_loaded_night, age_nights, exports_30
                                  FROM mart.freshness ORDER BY county_code""")
    yesterday = query(loaded.url, "SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date - 1")[0][0]
    same = metrics.read_freshness(loaded.url, yesterday).records()
    assert mart == [(r["county_code"], r["expected_night"], r["last_loaded_night"], r["age_nights"], r["exports_30"])
                    for r in same]
    ages = {r[0]: r[3] for r in mart}
    assert ages["410325"] == (yesterday - dt.date(2018, 7, 3)).days   # wall clock: the demo's nights are years old
    at_day = {r["county_code"]: r for r in metrics.read_freshness(loaded.url, D).records()}
    assert at_day["410325"]["last_loaded_night"] == D and at_day["410325"]["age_nights"] == 0
    assert at_day["410302"]["exports_30"] == 1 and at_day["410325"]["exports_30"] == 1   # 06-30 only, not 07-03
