"""The Airflow UI plugin's FastAPI app (mounted on the api-server at /xuncha by plugins/xuncha_ui.py).

Routes (all HTML, every one for signed-in Airflow users only — the api-server's own JWT cookie or bearer token):

- `GET /xuncha/report?as_of=YYYY-MM-DD` — the report 巡察工作数据报告 of that day (default: the newest night
  loaded). The file the DAG wrote is served when it is newer than the day's last mart refresh; otherwise the
  report is built now (days the marts lack are computed first). A day after the newest loaded night is a 404.
- `GET /xuncha/quarantine` — the quarantined exports, newest first; `GET /xuncha/quarantine/{batch_id}` — one
  quarantine report (county text escaped), linking to its Data Docs.
- `GET /xuncha/metrics` — the metric dictionary 指标说明 (docs/metrics.md, generated from sql/marts/*.yml), as a page;
  the report links to it and carries the same text.
- `GET /xuncha/editions` — the published editions (发布版本), newest first, each checksum verified.
- `GET /xuncha/data-docs/{path}` — the Data Docs site (made offline at build time, xuncha.reports.datadocs).
- `GET /xuncha/icon.svg` — the navigation icon.
- `GET /xuncha/incidents` and its acknowledge/resolve forms — xuncha.orchestration.incidents_page.

Every page is self-contained and forbids any fetch (Content-Security-Policy), inside the UI's iframe or alone.
"""

from __future__ import annotations

import datetime as dt
import html as html_mod
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, Response

PREFIX = "/xuncha"
ICON = ("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'><path fill='#c62828' d='M3 3h18v2H3zm2 4h3v12H5z"
        "m5 4h3v8h-3zm5-3h3v11h-3zM3 20h18v1H3z'/></svg>")


def _auth():
    """The api-server's dependency that requires a signed-in user (none outside the api-server: tests of the
    library call the functions below directly)."""
    try:
        from airflow.api_fastapi.core_api.security import requires_authenticated
    except ImportError:                                        # pragma: no cover - Airflow without the API server
        return []
    return [Depends(requires_authenticated())]


app = FastAPI(title="Xuncha reports 巡察报告", dependencies=_auth(), docs_url=None, redoc_url=None, openapi_url=None)


def _include_incidents() -> None:
    from xuncha.orchestration.incidents_page import router

    app.include_router(router)


_include_incidents()


def _url() -> str:
    from xuncha.orchestration.env import warehouse_url_from_airflow

    return warehouse_url_from_airflow()


def _day(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"as_of must be a date YYYY-MM-DD, not {value!r}") from None


@app.get("/report", response_class=HTMLResponse)
def report(as_of: str | None = Query(None, description="YYYY-MM-DD; default the newest night loaded")):
    """The report of `as_of`, from the file the DAG wrote when it is current, built now otherwise."""
    from xuncha.metrics import marts as metrics
    from xuncha.reports import html

    url = _url()
    latest = metrics.latest_business_date(url)
    day = _day(as_of) or latest
    if day is None:
        return HTMLResponse(_message("巡察工作数据报告", "尚无入库数据 / nothing has been loaded yet"), status_code=404)
    if latest is not None and day > latest:
        raise HTTPException(404, f"as_of {day} is after the newest night loaded ({latest})")
    path = html.default_folder() / html.file_name(day)
    if not _current(url, path, day):
        path = html.build(url, as_of=day)
    return FileResponse(path, media_type="text/html; charset=utf-8")


def _current(url: str, path: Path, day: dt.date) -> bool:
    """Is the report file of `day` newer than the day's last mart refresh (and the day fully computed)?"""
    from xuncha.warehouse import db

    if not path.exists():
        return False
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT max(refreshed_at), count(*) FROM mart.refresh_log WHERE as_of = %s""", (day,))
        refreshed, units = cur.fetchone()
        cur.execute("SELECT count(DISTINCT report_code) FROM mart.county_crosswalk")
        expected = cur.fetchone()[0]
    return refreshed is not None and units >= expected and path.stat().st_mtime > refreshed.timestamp()


@app.get("/quarantine", response_class=HTMLResponse)
def quarantine_index():
    """GET /quarantine: every quarantined export, newest first, each linking to its report."""
    from xuncha.reports import quarantine_page

    rows = quarantine_page.quarantined(_url())
    return quarantine_page.render_index(rows, link=lambda b: f"{PREFIX}/quarantine/{b['batch_id']}",
                                        report_href=f"{PREFIX}/report")


@app.get("/quarantine/{batch_id}", response_class=HTMLResponse)
def quarantine_report(batch_id: int):
    """GET /quarantine/{batch_id}: one export's quarantine report; 404 when the batch has none."""
    from xuncha.reports import quarantine_page

    report = quarantine_page.load_report(_url(), batch_id)
    if report is None:
        raise HTTPException(404, f"no quarantine report for batch {batch_id}")
    docs = report.get("data_docs")   # the site-relative page (older reports: a file:// URL, shown as the index)
    docs = f"{PREFIX}/data-docs/{'index.html' if not docs or '://' in docs else docs}" if docs else None
    return quarantine_page.render(report, data_docs_href=docs, index_href=f"{PREFIX}/quarantine")


@app.get("/metrics", response_class=HTMLResponse)
def metric_dictionary():
    """GET /metrics: the metric dictionary 指标说明 as one offline page."""
    from xuncha.reports import drill

    return _page("指标说明 Metric dictionary", drill.dictionary_html())


@app.get("/editions", response_class=HTMLResponse)
def editions_page():
    """GET /editions: every published edition (day, time, publisher, exports, checksum and whether it matches)."""
    from xuncha.metrics import editions

    rows = "".join(
        f"<tr><td>{eid}</td><td><a href='{PREFIX}/report?as_of={day}'>{day}</a></td><td>{at:%Y-%m-%d %H:%M:%S %Z}</td>"
        f"<td>{html_mod.escape(by)}</td><td>{n}</td><td><code>{checksum}</code></td><td>{'✓' if ok else '✗ 不符 mismatch'}</td></tr>"
        for eid, day, at, by, n, checksum, ok in editions.listing(_url()))
    return _page("发布版本 Published editions", "<p>xuncha report publish --as-of YYYY-MM-DD</p><table><tr><th>版本</th>"
                 "<th>截至日期</th><th>发布时间</th><th>发布人</th><th>导出批次</th><th>sha256</th><th>校验</th></tr>"
                 f"{rows}</table>")


@app.get("/data-docs/{path:path}")
def data_docs(path: str):
    """A file of the Data Docs site (its pages were made offline when built); nothing outside the site."""
    from xuncha.settings import get_settings

    site = (get_settings().home / "data_docs").resolve()
    target = (site / path).resolve()
    if not target.is_relative_to(site) or not target.is_file():
        raise HTTPException(404, f"no Data Docs file {path!r}")
    return FileResponse(target)


@app.get("/icon.svg")
def icon():
    """GET /icon.svg: the plugin's menu icon."""
    return Response(ICON, media_type="image/svg+xml")


def _page(title: str, body_html: str) -> str:
    return (f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>{html_mod.escape(title)}</title>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            "<style>body{font-family:system-ui,sans-serif;padding:16px 24px;max-width:1200px;margin:auto}"
            "table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px}</style></head>"
            f"<body><h1>{html_mod.escape(title)}</h1>{body_html}</body></html>")


def _message(title: str, text: str) -> str:
    return (f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>{html_mod.escape(title)}</title></head>"
            f"<body style='font-family:system-ui,sans-serif;padding:24px'><h1>{html_mod.escape(title)}</h1>"
            f"<p>{html_mod.escape(text)}</p></body></html>")
