"""The quarantine report as an HTML page (导出隔离报告), and the list of quarantined exports.

Everything quoted from a county's files (values, file names, messages) is text, never markup: the templates
autoescape, so `<script>` in a county's cell shows as `<script>`. The page is self-contained (inline styles,
no scripts at all) and carries the same Content-Security-Policy as the report.
"""

from __future__ import annotations

import json
from pathlib import Path

from xuncha.warehouse import db
from xuncha.reports.html import environment


def render(report: dict, data_docs_href: str | None = None, index_href: str | None = None) -> str:
    """The page for one `_report.json` (xuncha.load.quarantine.write_report's shape: county_code, county_name,
    export_id, batch_id, quarantined_at, problems[], warnings[], data_docs)."""
    return environment().get_template("quarantine.html.j2").render(r=report, data_docs_href=data_docs_href,
                                                                    index_href=index_href)


def render_index(rows: list[dict], link, report_href: str) -> str:
    """The list of quarantined exports (`rows` from `quarantined()`); `link(row)` gives each row's page URL."""
    return environment().get_template("quarantine_index.html.j2").render(rows=rows, link=link, report_href=report_href)


def quarantined(url: str | None = None, limit: int = 500) -> list[dict]:
    """Quarantined batches, newest first: batch_id, county_code, county_name, export_id, business_date,
    finished_at, error, report_path (the `_report.md`; `_report.json` and `_report.html` lie beside it)."""
    from xuncha import registry

    names = {c.code: c.name for c in registry.default().counties}
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT batch_id, county_code, export_id, business_date, finished_at, error, report_path
                         FROM audit.batches WHERE status = 'quarantined'
                        ORDER BY finished_at DESC NULLS LAST, batch_id DESC LIMIT %s""", (limit,))
        cols = [d.name for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    for r in rows:
        r["county_name"] = names.get(r["county_code"], "")
    return rows


def load_report(url: str | None, batch_id: int) -> dict | None:
    """The `_report.json` of quarantined batch `batch_id` (None if the batch or its report is gone)."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT report_path FROM audit.batches WHERE batch_id = %s AND status = 'quarantined'", (batch_id,))
        row = cur.fetchone()
    if not row or not row[0]:
        return None
    path = Path(row[0]).with_name("_report.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
