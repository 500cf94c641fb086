"""Alerts: what an operator must hear about (a missed deadline, a quarantined or failed export).

Every alert is logged at ERROR (so Airflow's task log and any log shipping see it) and recorded in
audit.alerts. If the environment names a webhook (XUNCHA_ALERT_WEBHOOK, e.g. a chat robot URL), the alert
is also POSTed there as JSON; a webhook failure is logged, never fatal.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from xuncha.warehouse import db
from xuncha.settings import get_settings
from xuncha.text import excerpt

log = logging.getLogger("xuncha.monitor.alerts")


def raise_alert(url: str, kind: str, county_code: str, message: str, business_date: dt.date | None = None,
                detail: dict | None = None) -> None:
    """Log at ERROR, record in audit.alerts and (if set) POST to XUNCHA_ALERT_WEBHOOK one alert.

    `kind`: deadline_missed | quarantined; `detail`: JSON-ready extras. A webhook failure is logged, not raised."""
    message = excerpt(message, 1000)   # an alert quotes a bounded excerpt, whatever a county sent (spec §10.2)
    log.error("ALERT %s %s %s: %s", kind, county_code, business_date or "", message)
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO audit.alerts (kind, county_code, business_date, message, detail) VALUES (%s, %s, %s, %s, %s)",
            (kind, county_code, business_date, message, json.dumps(detail or {}, ensure_ascii=False, default=str)),
        )
    hook = get_settings().alert_webhook
    if hook:
        import httpx

        payload = {"kind": kind, "county_code": county_code, "business_date": str(business_date or ""),
                   "message": message, "detail": detail or {}}
        try:
            httpx.post(hook, json=payload, timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            log.error("alert webhook failed: %s", exc)


def for_exports(url: str, county_label: str, results) -> None:
    """Alert each export of `results` (xuncha.load.batch.BatchResult) that ended `quarantined` or `failed`, once each;
    loaded and duplicate exports raise none. Called by xuncha.load.county_night.run, the one caller of the pipeline."""
    for result in results:
        if result.status == "quarantined":
            export_quarantined(url, county_label, result)
        elif result.status == "failed":
            export_failed(url, county_label, result)


def export_failed(url: str, county_label: str, result) -> None:
    """Alert for one export the platform failed on (status `failed`, an error of ours): kind `quarantined` with
    detail status `failed` (audit.alerts has no kind of its own yet), its problem and the report's path."""
    raise_alert(url, "quarantined", result.county_code,
                f"{county_label}: export {result.export_id} failed: {result.problems[0]}",
                business_date=result.business_date,
                detail={"export_id": result.export_id, "status": "failed", "report": str(result.report)})


def export_quarantined(url: str, county_label: str, result) -> None:
    """Alert `quarantined` for one export (a xuncha.load.batch.BatchResult with status quarantined): its first problem,
    the report's path and how many problems it has."""
    raise_alert(url, "quarantined", result.county_code,
                f"{county_label}: export {result.export_id} quarantined: {result.problems[0]}",
                business_date=result.business_date,
                detail={"export_id": result.export_id, "report": str(result.report), "problems": len(result.problems)})
