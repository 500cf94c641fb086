"""Drill-down in the report file (xuncha.reports.drill): in real headless Chromium with every request outside the
file blocked, a click on a chart's bar, a table cell or a button opens the list behind it, filtered to what was
clicked, with the figure's count of rows; the list filters, sorts and copies. The page also sets a published
edition beside today's figures. World: tests/test_ledgers.py's two units (嵩县 410325, 老城区 410302).
"""

from __future__ import annotations

import json

import pytest
import test_ledgers
from browser import OfflinePage, browser  # noqa: F401  (fixture)
from conftest import query
from metrics_fixtures import clue, shared_world
from test_report_pages import charts_rendered

from xuncha.metrics import editions
from xuncha.reports import html

pytestmark = pytest.mark.slow   # a real browser
D = test_ledgers.AS_OF


loaded, world = shared_world(test_ledgers.build)


@pytest.fixture(scope="module")
def report(loaded, tmp_path_factory):
    """The report of D after an edition of D and a late export of 老城区 (one more clue that night)."""
    loaded.refresh(D.isoformat())
    editions.publish(loaded.url, D)
    loaded.night("410302", "2018-06-01", clues=[clue("410302-C9", "410302-I1", "2018-06-01")])
    loaded.refresh(D.isoformat())
    return html.build(loaded.url, as_of=D, out=tmp_path_factory.mktemp("report"))


def _drill(page) -> dict:
    return page.evaluate("""() => { const p = document.getElementById('drill');
        return {hidden: p.hidden, list: p.dataset.list, filter: JSON.parse(p.dataset.filter || '{}'),
                rows: Number(document.getElementById('drill-count').dataset.rows),
                title: document.getElementById('drill-title').textContent,
                first: [...document.querySelectorAll('#drill-table tbody tr:first-child td')].map(td => td.textContent)}; }""")


def _click_bar(page, chart: str, index: int) -> None:
    bar = page.locator(f"#chart-{chart} .point").nth(index)
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 3
    page.mouse.move(x - 5, y)               # plotly picks the clicked point from the hover a mouse move gives
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    page.wait_for_timeout(200)


def test_a_click_on_a_chart_bar_opens_the_list_behind_it_offline(report, loaded, browser):  # noqa: F811
    page = OfflinePage(browser)
    page.page.goto(report.as_uri())
    got = charts_rendered(page.page)
    assert got["chart-coverage"]["x"][0] == ["老城区", "嵩县"]
    _click_bar(page.page, "coverage", 0)                     # 老城区: 3 in scope, 1 inspected
    drill = _drill(page.page)
    assert not drill["hidden"] and drill["list"] == "ledger_uninspected" and drill["filter"] == {"county_code": "410302"}
    want = query(loaded.url, """SELECT orgs_in_scope - orgs_covered FROM mart.coverage WHERE as_of = %s
                                AND county_code = '410302' AND org_type = 'all' AND term_no = 11""", (D,))[0][0]
    assert drill["rows"] == want == 2 and "老城区" in drill["title"]

    _click_bar(page.page, "rectification", 1)                # 嵩县: the tasks due, completed or not
    drill = _drill(page.page)
    assert drill["list"] == "ledger_rectification" and drill["filter"] == {"completed": False, "county_code": "410325"}
    assert drill["rows"] == query(loaded.url, """SELECT count(*) FROM mart.ledger_rectification WHERE as_of = %s
                                                 AND county_code = '410325' AND NOT completed""", (D,))[0][0] == 2
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)


def test_a_cell_opens_its_list_which_filters_sorts_and_copies(report, loaded, browser):  # noqa: F811
    page = OfflinePage(browser)
    page.page.goto(report.as_uri())
    charts_rendered(page.page)
    page.page.click("#clearance-table td[data-filter*='410302'][data-filter*='over_clearance']")
    drill = _drill(page.page)
    assert drill["list"] == "ledger_clues" and drill["rows"] == 1 and "410302-C1" in drill["first"]
    assert "是" in drill["first"]                            # booleans and codes read as words
    page.page.click("#open-overdue")
    assert _drill(page.page)["rows"] == 2
    page.page.click("#drill-table th:nth-child(14)")          # 超期天数, ascending then descending
    page.page.click("#drill-table th:nth-child(14)")
    assert _drill(page.page)["first"][2] == "410302-T1"      # 91 days before 60
    page.page.fill("#drill-search", "T1")
    page.page.dispatch_event("#drill-search", "input")
    assert _drill(page.page)["rows"] == 2
    page.page.click("#drill-copy")
    copied = page.page.evaluate("document.getElementById('drill').dataset.copied").splitlines()
    assert copied[0].split("\t")[:3] == ["县区代码", "来源系统代码", "整改事项编号"] and len(copied) == 3
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)


def test_the_view_the_list_link_under_a_chart_opens_that_chart_s_list_not_only_scrolls(report, loaded, browser):  # noqa: F811
    page = OfflinePage(browser)
    page.page.goto(report.as_uri())
    charts_rendered(page.page)
    assert _drill(page.page)["hidden"]
    page.page.click("#summary-rectification a:has-text('点击查看台账')")   # the same list a click on the chart opens
    drill = _drill(page.page)
    assert not drill["hidden"] and drill["list"] == "ledger_rectification" and drill["filter"] == {"completed": False}
    assert drill["rows"] == query(loaded.url, """SELECT count(*) FROM mart.ledger_rectification WHERE as_of = %s
                                                 AND term_no = 11 AND NOT completed""", (D,))[0][0] > 0
    page.page.click("#summary-coverage a:has-text('点击查看台账')")
    drill = _drill(page.page)
    assert drill["list"] == "ledger_uninspected" and drill["filter"] == {}
    assert drill["rows"] == query(loaded.url, """SELECT sum(orgs_in_scope - orgs_covered) FROM mart.coverage
                                                 WHERE as_of = %s AND org_type = 'all' AND term_no = 11""", (D,))[0][0]
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)


def test_the_report_shows_the_published_value_today_s_value_and_the_export_that_moved_it(report, browser):  # noqa: F811
    page = OfflinePage(browser)
    page.page.goto(report.as_uri())
    rows = page.page.eval_on_selector_all(
        "#edition-changes tr[data-mart=clue_disposal][data-column=clues_transferred] td", "tds => tds.map(t => t.textContent)")
    assert rows[1:5] == ["老城区", "移交线索（个）", "1", "2"] and "410302-20180601-01" in rows[5]
    assert "指标说明" in page.page.inner_text("#dictionary summary")
    assert page.page.locator("#dictionary h2").count() > 10       # every mart described, in the file itself
    assert page.outside == [] and page.errors == []


def test_the_page_data_cannot_break_out_of_its_script_block(report):
    text = report.read_text(encoding="utf-8")
    block = text.split('<script type="application/json" id="xuncha-drill-data">')[1].split("</script>")[0]
    assert "</" not in block                                   # a row's text cannot close the script
    data = json.loads(block)
    assert set(data["lists"]) == {"ledger_uninspected", "ledger_rectification", "ledger_clues", "ledger_satisfaction",
                                  "ledger_outcomes"}
