"""The pages a report consumer opens, in a real headless Chromium with the network blocked: the report
巡察工作数据报告 as a file, a quarantine report page and a Great Expectations Data Docs page.

Data: a generated window — the `tiny` profile's city (410300) and 新安县 (410323, GB18030 CSV) systems, the
term's first four weeks (2021-02-01 … 02-28: rounds, inspections, findings, clues, rectification tasks, surveys
and outcomes all begin in them) through the real pipeline, the marts refreshed for its last night — plus one
export of 嵩县 whose cells carry markup, quarantined with its Data Docs. Screenshots are kept under test-output/ (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from browser import OfflinePage, browser, screenshot  # noqa: F401  (fixture)
from conftest import TABLES_TO_RESET, query
from exports import write_export

from xuncha import registry
from xuncha.metrics import marts as metrics
from xuncha.load import pipeline
from xuncha_sim.generator import generate
from xuncha.settings import PROJECT_ROOT
from xuncha.spec import ENTITY_ORDER

WINDOW_COUNTIES = ("410300", "410323")
WINDOW_END = dt.date(2021, 2, 28)
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
OUTPUT = Path(os.environ.get("XUNCHA_TEST_OUTPUT", PROJECT_ROOT / "test-output"))

pytestmark = pytest.mark.slow   # make test-e2e (in CI)


@pytest.fixture(scope="module")
def window(warehouse, settings, tmp_path_factory) -> dict:
    """The generated window in an emptied warehouse; returns its as-of day, truth and the quarantined batch."""
    marts = [r[0] for r in query(warehouse, "SELECT format('mart.%I', tablename) FROM pg_tables WHERE schemaname = 'mart'")]
    tables = [f"{s}.{e}" for s in ("core", "history") for e in ENTITY_ORDER]
    query(warehouse, f"TRUNCATE {', '.join(tables + marts)}, {TABLES_TO_RESET}")
    out = tmp_path_factory.mktemp("tiny")
    truth = generate(out, profile="tiny", end=WINDOW_END, progress=False)
    reg = registry.default()
    ingestor = pipeline.Ingestor(reg, url=warehouse, move=False)
    for code in WINDOW_COUNTIES:
        results = ingestor.ingest_many(sorted((out / code).iterdir()), reg.get(code))
        assert {r.status for r in results} == {"loaded"}
    end = WINDOW_END
    bad = write_export(tmp_path_factory.mktemp("bad"), "410325", "410325-20210228-01", "2021-02-28", {"org_units": [
        {"org_id": "X-1", "org_name": HOSTILE, "org_type": HOSTILE, "parent_org_id": None, "in_scope_from": "2021-02-01",
         "in_scope_to": None, "updated_at": "2021-02-28T20:00:00+08:00"}]})
    quarantined = ingestor.ingest(bad, reg.get("410325"))
    assert quarantined.status == "quarantined" and quarantined.data_docs
    metrics.refresh(warehouse, as_of=end)
    return {"as_of": end, "truth": truth, "quarantined": quarantined}


def charts_rendered(page, timeout_s: float = 180) -> dict[str, dict]:
    """Per plotly chart on the page (or frame): traces, marks drawn, each trace's customdata and x.
    Polled with evaluate (CDP), not wait_for_function: the page's CSP forbids the eval that one needs."""
    import time

    ready = """() => document.readyState === 'complete' && document.querySelectorAll('.js-plotly-plot').length > 0 &&
                     [...document.querySelectorAll('.js-plotly-plot')].every(e => e.querySelector('.main-svg'))"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(ready):
        assert time.monotonic() < deadline, "the charts were not drawn"
        time.sleep(0.25)
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')].map(e => [e.id, {
        traces: e.data.length,
        marks: e.querySelectorAll('.point, .hm, .heatmaplayer image').length,
        customdata: e.data.map(t => t.customdata),
        x: e.data.map(t => t.x)}]))""")


def test_the_report_file_opens_offline_with_every_chart_drawn_from_the_marts(window, browser, warehouse):
    from xuncha.reports import charts, html

    path = html.build(warehouse, as_of=window["as_of"], out=OUTPUT / "report")
    page = OfflinePage(browser)
    page.page.goto(path.as_uri())
    got = charts_rendered(page.page)

    assert sorted(got) == sorted(f"chart-{cid}" for cid, _ in charts.CHARTS)     # every chart, none empty
    for cid, c in got.items():
        assert c["traces"] >= 1 and c["marks"] >= 1, f"{cid} drew nothing: {c}"
    # Coverage bars carry [covered, in scope] exactly as mart.coverage holds them, per unit
    cov = {r[0]: [r[1], r[2]] for r in query(warehouse, """SELECT county_code, orgs_covered, orgs_in_scope FROM mart.coverage
                                                          WHERE as_of = %s AND org_type = 'all'""", (window["as_of"],))}
    names = dict(query(warehouse, "SELECT DISTINCT report_code, report_name FROM mart.county_crosswalk"))
    bars = got["chart-coverage"]
    assert dict(zip(bars["x"][0], bars["customdata"][0])) == {names[k]: v for k, v in cov.items()}
    # Rectification: [completed, due, overdue] per unit, as mart.rectification holds them
    rect = {names[r[0]]: list(r[1:]) for r in query(warehouse, """SELECT county_code, tasks_completed, tasks_due, tasks_overdue
                                                                  FROM mart.rectification WHERE as_of = %s AND term_no = 11""",
                                                    (window["as_of"],))}
    assert dict(zip(got["chart-rectification"]["x"][0], got["chart-rectification"]["customdata"][0])) == rect
    # The headline table's whole-city row equals the mart, figure by figure
    city = next(r for r in metrics.headline(warehouse, window["as_of"], 11) if r["scope"] == "city_total")
    cells = page.page.eval_on_selector_all("#headline-table tr[data-county=city_total] td[data-col]",
                                           "tds => Object.fromEntries(tds.map(td => [td.dataset.col, td.textContent]))")
    assert cells == {k: html._fmt(city[k], k) for k, _ in cells.items()} and len(cells) == len(html.HEADLINE_COLS)
    assert int(cells["findings"].replace(",", "")) == query(warehouse, "SELECT count(*) FROM core.findings")[0][0] > 0
    # Freshness: both window systems current on the last night; 嵩县's newest delivery is the quarantined one
    strip = dict(page.page.eval_on_selector_all("#freshness-strip div", "ds => ds.map(d => [d.dataset.county, d.className])"))
    assert strip["410300"] == strip["410323"] == "state-current" and strip["410325"] == "state-quarantined"
    assert page.outside == [] and page.errors == []
    screenshot(page.page, OUTPUT / "report", "report.png")


def test_a_quarantine_report_page_shows_the_county_cells_as_text_offline(window, browser):
    q = window["quarantined"]
    page = OfflinePage(browser)
    page.page.goto((q.moved_to / "_report.html").as_uri())
    values = page.page.eval_on_selector_all("#problems code.value", "cs => cs.map(c => c.textContent)")
    assert HOSTILE in values                                   # quoted verbatim, as text
    assert page.page.evaluate("window.pwned === undefined && document.querySelectorAll('#problems img').length === 0")
    report = json.loads((q.moved_to / "_report.json").read_text(encoding="utf-8"))
    rows = page.page.eval_on_selector_all("#problems tr", "trs => trs.length")
    assert rows == len(report["problems"]) + 1 and page.outside == [] and page.errors == []
    screenshot(page.page, OUTPUT / "quarantine", "quarantine-report.png")


def test_a_data_docs_page_renders_from_local_assets_with_county_values_as_text(window, browser, settings):
    site = settings.home / "data_docs"
    pages = [p for p in site.rglob("*.html") if "410325-20210228-01" in str(p)]
    assert pages, f"no Data Docs page for the quarantined export under {site}"
    page = OfflinePage(browser)
    page.page.goto(pages[0].as_uri())
    text = page.page.inner_text("body")
    assert "values must belong to this set" in text and HOSTILE in text      # GX's content, the value as text
    assert page.page.evaluate("window.pwned === undefined")
    styled = page.page.evaluate("getComputedStyle(document.querySelector('.card-header')).backgroundColor")
    assert styled != "rgba(0, 0, 0, 0)"                                      # the inlined stand-in styles apply
    assert page.outside == [] and page.errors == []
    assert "https://" not in pages[0].read_text(encoding="utf-8").split("<body")[0]
    screenshot(page.page, OUTPUT / "datadocs", "data-docs.png")


@pytest.fixture(scope="module")
def api_server(window, airflow_ready, tmp_path_factory):
    """`airflow api-server` on a free loopback port with Xuncha's environment (plugins/ included) and a known
    admin password; yields its base URL and a signed-in JWT."""
    from browser import airflow_api_server

    with airflow_api_server(tmp_path_factory.mktemp("api"), {"admin": "report-test-pw"}) as (base, tokens):
        yield base, tokens["admin"]


def test_the_airflow_ui_serves_the_report_and_quarantine_reports_offline(window, api_server, browser, warehouse):
    import httpx

    base, token = api_server
    # Signed-in users only
    assert httpx.get(f"{base}/xuncha/report", timeout=60).status_code in (401, 403)
    browser.add_cookies([{"name": "_token", "value": token, "url": base}])
    page = OfflinePage(browser, allowed=(base,))
    page.page.goto(f"{base}/plugin/xuncha-report")
    page.page.wait_for_selector("iframe")
    frame = next(f for f in _frames(page.page) if "/xuncha/report" in f.url)
    got = charts_rendered(frame)
    assert len(got) == 7 and all(c["marks"] >= 1 for c in got.values())
    assert frame.inner_text("#as-of") == window["as_of"].isoformat()
    # Any day as a parameter: the window's first month-end, computed on demand
    r = httpx.get(f"{base}/xuncha/report", params={"as_of": "2021-02-14"}, cookies={"_token": token}, timeout=180)
    assert r.status_code == 200 and 'id="as-of">2021-02-14<' in r.text
    screenshot(page.page, OUTPUT / "airflow-ui", "report-in-airflow-ui.png")
    # The quarantine reports, and the quarantined export's page with the county's cells as text
    batch = window["quarantined"].batch_id
    page.page.goto(f"{base}/xuncha/quarantine")
    page.page.click(f"a[href='/xuncha/quarantine/{batch}']")
    assert HOSTILE in page.page.eval_on_selector_all("#problems code.value", "cs => cs.map(c => c.textContent)")
    assert page.page.evaluate("window.pwned === undefined")
    page.page.click("#data-docs")              # straight to the export's failing result page (issue 28)
    page.page.wait_for_load_state()
    assert "410325-20210228-01" in page.page.url
    assert "values must belong to this set" in page.page.inner_text("body")
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)
    screenshot(page.page, OUTPUT / "airflow-ui", "data-docs-page.png")


def _frames(page, timeout_s: float = 180):
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any("/xuncha/report" in f.url for f in page.frames):
            return page.frames
        page.wait_for_timeout(250)
    raise AssertionError(f"no report frame in {[f.url for f in page.frames]}")
