"""The incidents page 事件与县区状态 in the Airflow UI: a real api-server with Airflow's own login and roles, a real
headless Chromium with the network blocked — an operator acknowledges and resolves, a viewer only reads."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from browser import OfflinePage, airflow_api_server, browser, screenshot  # noqa: F401  (fixture)
from conftest import query
from test_report_pages import OUTPUT

from xuncha.monitor import incidents
from xuncha.monitor.findings import Finding, local_time
from xuncha.warehouse import db

HOSTILE = "<img src=x onerror=\"window.pwned=1\">"


@pytest.fixture(scope="module")
def server(warehouse, airflow_ready, tmp_path_factory):
    """`airflow api-server` on loopback with an operator (role user: may edit DAGs) and a viewer, no notification
    channel configured; yields (base URL, {user: JWT})."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_XUNCHA_NOTIFY")}
    with airflow_api_server(tmp_path_factory.mktemp("api-incidents"), {"operator": "op-pw", "viewer": "view-pw"},
                            {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "operator:user,viewer:viewer"},
                            base_env) as (base, tokens):
        yield base, tokens


@pytest.fixture
def seeded(clean):
    """Two open incidents (嵩县 quarantine with a hostile summary, 汝阳县 stale) and 偃师市's loaded nights."""
    yesterday = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() - dt.timedelta(days=1)
    with db.connect(clean) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO audit.batches (export_id, county_code, business_date, source, status, finished_at)
                       VALUES ('410381-x', '410381', %s, 'test', 'loaded', now())""", (yesterday,))
    now = dt.datetime.now(dt.timezone.utc)
    events = incidents.sync(clean, [Finding("quarantine", "410325", "嵩县", f"export quarantined {HOSTILE}", {"batch_id": 7}),
                                    Finding("stale", "410326", "汝阳县", "newest loaded night never (数据不新鲜)")],
                            now, dt.timedelta(hours=4), checked_kinds=set())
    return clean, {e.incident["county_code"]: e.incident["incident_id"] for e in events}


@pytest.mark.slow
def test_a_viewer_reads_the_board_and_an_operator_acknowledges_and_resolves_offline(server, seeded, browser):
    import httpx

    base, tokens = server
    url, ids = seeded
    assert httpx.get(f"{base}/xuncha/incidents", timeout=60).status_code in (401, 403), "signed-in users only"
    # A viewer: reads everything, gets no forms, and is refused if it posts anyway
    browser.add_cookies([{"name": "_token", "value": tokens["viewer"], "url": base}])
    page = OfflinePage(browser, allowed=(base,))
    page.page.goto(f"{base}/xuncha/incidents")
    assert "通知未配置" in page.page.inner_text("#notifications-off"), "the banner says notifications are off"
    assert "viewer 只读" in page.page.inner_text("#who")
    assert page.page.locator(f"#incident-{ids['410325']}").count() == 1 and page.page.locator("form").count() == 0
    assert HOSTILE in page.page.inner_text(f"#incident-{ids['410325']}") and page.page.evaluate("window.pwned === undefined")
    [(first_seen,)] = query(url, "SELECT first_seen FROM audit.incidents WHERE incident_id = %s", (ids["410326"],))
    assert local_time(first_seen) in page.page.inner_text(f"#incident-{ids['410326']}"), "as `xuncha incidents list`"
    assert page.page.inner_text("#county-410307 .last-loaded") != "从未入库 never", "偃师区 through 偃师市's nights"
    assert f"#{ids['410326']} stale" in page.page.inner_text("#county-410326 .open")
    refused = httpx.post(f"{base}/xuncha/incidents/{ids['410326']}/ack", data={"note": "x"},
                         cookies={"_token": tokens["viewer"]}, timeout=60)
    assert refused.status_code == 403
    foreign = httpx.post(f"{base}/xuncha/incidents/{ids['410326']}/ack", data={"note": "x"}, timeout=60,
                         cookies={"_token": tokens["operator"]}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403, "a form from another site is refused even with an operator's cookie"
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)
    page.close()
    # An operator: acknowledges one with a note, resolves the other with a reason
    browser.add_cookies([{"name": "_token", "value": tokens["operator"], "url": base}])
    page = OfflinePage(browser, allowed=(base,))
    page.page.goto(f"{base}/xuncha/incidents")
    row = page.page.locator(f"#incident-{ids['410326']}")
    row.locator("form.ack input[name=note]").fill("县里在修导出任务")
    row.locator("form.ack button").click()
    page.page.wait_for_selector(f"#incident-{ids['410326']}[data-state=acknowledged]")
    assert "#" + str(ids["410326"]) in page.page.inner_text("#message")
    row = page.page.locator(f"#incident-{ids['410325']}")
    row.locator("form.resolve input[name=reason]").fill("县里已重新导出")
    row.locator("form.resolve button").click()
    page.page.wait_for_selector(f"#incident-{ids['410325']}", state="detached")
    assert query(url, "SELECT incident_id, state, coalesce(acknowledged_by, resolved_by), coalesce(ack_note, resolved_reason) "
                      "FROM audit.incidents ORDER BY incident_id") == sorted([
        (ids["410325"], "resolved", "operator", "县里已重新导出"), (ids["410326"], "acknowledged", "operator", "县里在修导出任务")])
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)
    screenshot(page.page, OUTPUT / "airflow-ui", "incidents-page.png")
    page.close()
