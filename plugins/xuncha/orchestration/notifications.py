"""Notifications through Airflow notifiers, configured by connection id.

- e-mail: the SMTP provider's `SmtpNotifier` on connection `xuncha_notify_smtp` (XUNCHA_NOTIFY_SMTP_CONN_ID); the
  recipients are the connection's extra `to` (a list or comma-separated).
- chat robot (DingTalk 钉钉 / WeCom 企业微信): the HTTP provider's `HttpNotifier` on connection `xuncha_notify_chat`
  (XUNCHA_NOTIFY_CHAT_CONN_ID), whose host is the robot's whole webhook URL
  (`https://oapi.dingtalk.com/robot/send?access_token=…` or `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`);
  both robots take the same text message, `{"msgtype": "text", "text": {"content": …}}`.

A connection that is not defined is skipped; a notifier that fails is logged, never fatal. `task_failed` is the
`on_failure_callback` of every DAG: it names DAG, task, county, night and reason.
"""

from __future__ import annotations

import logging

from xuncha.orchestration.hooks import connection
from xuncha.settings import get_settings

log = logging.getLogger("xuncha.orchestration.notifications")

SMTP_CONN_ID = "xuncha_notify_smtp"
CHAT_CONN_ID = "xuncha_notify_chat"




def notifiers(subject: str, text: str) -> list:
    """The Airflow notifiers whose connection is defined, each ready to be called with a task context."""
    out = []
    smtp_id = get_settings().notify_smtp_conn_id or SMTP_CONN_ID
    smtp = connection(smtp_id)
    if smtp is not None:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        to = (smtp.extra_dejson or {}).get("to") or []
        to = [a.strip() for a in to.split(",")] if isinstance(to, str) else list(to)
        if to:
            out.append(SmtpNotifier(to=to, subject=subject, html_content=f"<pre>{_escape(text)}</pre>",
                                    smtp_conn_id=smtp_id, from_email=smtp.login or None))
        else:
            log.warning("connection %s has no `to` in its extra: e-mail notifications are off", smtp_id)
    chat_id = get_settings().notify_chat_conn_id or CHAT_CONN_ID
    if connection(chat_id) is not None:
        from airflow.providers.http.notifications.http import HttpNotifier

        out.append(HttpNotifier(http_conn_id=chat_id, endpoint=None, method="POST",
                                json={"msgtype": "text", "text": {"content": f"{subject}\n{text}"}},
                                headers={"Content-Type": "application/json"}))
    return out


def send(subject: str, text: str, context: dict | None = None) -> int:
    """Send through every configured notifier; returns how many succeeded."""
    sent = 0
    for n in notifiers(subject, text):
        try:
            n.notify(context or {})
            sent += 1
        except Exception as exc:  # a notification channel down must not fail the task it reports on
            log.error("notification through %s failed: %s", type(n).__name__, exc)
    return sent


def failure_text(context) -> tuple[str, str]:
    """(subject, text) of a failed task: DAG, task, county (the mapped task's label), night, reason."""
    from xuncha.orchestration import nightly

    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    county = getattr(ti, "rendered_map_index", None) or _county_of(context) or "—"
    try:
        night = nightly.run_night(context).isoformat()
    except (KeyError, TypeError, AttributeError, ValueError):  # a run without a logical date or night
        night = "—"
    exc = context.get("exception")
    reason = str(exc) if exc else "see the task log"
    subject = f"[Xuncha] {dag_id}.{task_id} failed — {county}, night {night}"
    text = (f"DAG {dag_id}, task {task_id}\ncounty 县区: {county}\nnight 业务日期: {night}\nreason 原因: {reason}\n"
            f"run: {context.get('run_id', '?')}")
    return subject, text


def _county_of(context) -> str | None:
    task = context.get("task")
    county = getattr(task, "county", None)
    if isinstance(county, dict):
        return county.get("label")
    return None


def task_failed(context) -> None:
    """`on_failure_callback` of every Xuncha task: log and notify who failed, for which county and night, and why."""
    subject, text = failure_text(context)
    log.error("%s\n%s", subject, text)
    send(subject, text, context)


def _escape(text: str) -> str:
    import html

    return html.escape(text)
