"""Notifications through Airflow notifiers, configured by connection id.

- e-mail: the SMTP provider's `SmtpNotifier` on connection `xuncha_notify_smtp` (XUNCHA_NOTIFY_SMTP_CONN_ID); the
  recipients are the connection's extra `to` (a list or comma-separated).
- chat robot (DingTalk 钉钉 / WeCom 企业微信): the HTTP provider's `HttpNotifier` on connection `xuncha_notify_chat`
  (XUNCHA_NOTIFY_CHAT_CONN_ID), whose host is the robot's whole webhook URL
  (`https://oapi.dingtalk.com/robot/send?access_token=…` or `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`);
  both robots take the same text message, `{"msgtype": "text", "text": {"content": …}}`.

A connection that is not defined is skipped; a notifier that fails is logged, never fatal. `task_failed` is the
`on_failure_callback` of every DAG: it names DAG, task, county, night and reason.

Incidents (xuncha.monitor.notices) go through `deliver(audience, subject, text)`: operators through the two
connections above; a county's contacts by e-mail through the same SMTP connection (their addresses as `to`) and
through their own chat robot connection (`contacts.chat_conn_id`). `operator_channels` says what is configured
(nothing: notifications are off, and `xuncha up`, the health run and the incidents page say so); `test_all` sends a
test message through every channel and returns each one's outcome (`xuncha notify test`).
"""

from __future__ import annotations

import logging

from xuncha.orchestration.hooks import connection
from xuncha.settings import get_settings

log = logging.getLogger("xuncha.orchestration.notifications")

SMTP_CONN_ID = "xuncha_notify_smtp"
CHAT_CONN_ID = "xuncha_notify_chat"
OFF_HINT = ("define the Airflow connection xuncha_notify_smtp (with `to` in its extra) and/or xuncha_notify_chat "
            "(a DingTalk/WeCom robot webhook), then run `xuncha notify test` (docs/operations.md, Incidents and "
            "notifications)")


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
                                    smtp_conn_id=smtp_id, from_email=_from_email(smtp)))
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
    from xuncha.orchestration.health import IncidentsOpen

    if isinstance(context.get("exception"), IncidentsOpen):   # each incident was notified when it opened
        return
    subject, text = failure_text(context)
    log.error("%s\n%s", subject, text)
    send(subject, text, context)


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def _smtp_id() -> str:
    return get_settings().notify_smtp_conn_id or SMTP_CONN_ID


def _chat_id() -> str:
    return get_settings().notify_chat_conn_id or CHAT_CONN_ID


def _smtp_to(smtp) -> list[str]:
    to = (smtp.extra_dejson or {}).get("to") or []
    return [a.strip() for a in to.split(",") if a.strip()] if isinstance(to, str) else list(to)


def operator_channels() -> list[tuple[str, str]]:
    """[(channel, target)] configured for operators: ('email', the SMTP connection's `to`) when that connection exists
    with recipients, ('chat', the chat connection id) when it exists. Empty: notifications are off."""
    out = []
    smtp = connection(_smtp_id())
    if smtp is not None and _smtp_to(smtp):
        out.append(("email", ", ".join(_smtp_to(smtp))))
    if connection(_chat_id()) is not None:
        out.append(("chat", _chat_id()))
    return out


def deliver(audience, subject: str, text: str) -> list[tuple[str, str, str | None]]:
    """Send one message to `audience` (xuncha.monitor.notices.Audience) through each of its channels with Airflow's
    notifiers; [(channel, target, error or None)], one per channel tried. Never raises: a failure is its error text.
    A county contact whose chat connection is not defined is an error; operators' missing connections are skipped."""
    from airflow.providers.http.notifications.http import HttpNotifier
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    out: list[tuple[str, str, str | None]] = []
    smtp = connection(_smtp_id())
    to = _smtp_to(smtp) if smtp is not None and audience.email is None else list(audience.email or ())
    if to:
        target = ", ".join(to)
        if smtp is None:
            out.append(("email", target, f"no SMTP connection {_smtp_id()} to send through"))
        else:
            body = f"<pre style='font-family:sans-serif;white-space:pre-wrap'>{_escape(text)}</pre>"
            error = _attempt(SmtpNotifier(to=to, subject=subject, html_content=body, smtp_conn_id=_smtp_id(),
                                          from_email=_from_email(smtp)))
            out.append(("email", target, error and error + smtp_hint(error, _smtp_id())))
    chat_id = audience.chat_conn_id or (_chat_id() if audience.key == "operators" else None)
    if chat_id:
        if connection(chat_id) is None:
            if audience.key != "operators":
                out.append(("chat", chat_id, f"connection {chat_id} is not defined"))
        else:
            out.append(("chat", chat_id, _attempt(HttpNotifier(
                http_conn_id=chat_id, endpoint=None, method="POST", headers={"Content-Type": "application/json"},
                json={"msgtype": "text", "text": {"content": text if audience.zh else f"{subject}\n{text}"}}))))
    return out


def _from_email(smtp) -> str | None:
    """The sender address: the connection's extra `from_email` (the SMTP provider's own field), else its login when
    that is an address; None lets the provider raise "provide `from_email`" (smtp_hint names the fix)."""
    extra_from = (smtp.extra_dejson or {}).get("from_email")
    return extra_from or (smtp.login if smtp.login and "@" in smtp.login else None)


SMTP_HINTS = (   # (text of the provider's or smtplib's error, the setting that fixes it); Airflow SMTP provider 3.x
    ("WRONG_VERSION_NUMBER", "the server does not speak SSL on this port: set `\"disable_ssl\": true` in the extra of "
                             "connection {conn} (SSL is the provider's default; STARTTLS on port 587 or plain SMTP on 25 "
                             "need it off)"),
    ("STARTTLS extension not supported", "the server offers no STARTTLS: set `\"disable_tls\": true` in the extra of "
                                         "connection {conn} (only on a trusted network: mail then travels unencrypted)"),
    ("from_email", "set `\"from_email\": \"xuncha@<your domain>\"` in the extra of connection {conn} (or make its "
                   "login an e-mail address)"),
    ("SMTPAuthenticationError", "the server refused the login: check the login and password of connection {conn}"),
    ("ConnectionRefusedError", "nothing listens on the host and port of connection {conn}"),
)


def smtp_hint(error: str, conn_id: str) -> str:
    """' — fix: <the missing setting>' for an SMTP failure whose cause is a known setting of the connection (SMTP_HINTS),
    else ''. What `xuncha notify test` prints after FAILED."""
    for needle, hint in SMTP_HINTS:
        if needle in error:
            return " — fix: " + hint.format(conn=conn_id)
    return ""


def _attempt(notifier) -> str | None:
    try:
        notifier.notify({})
        return None
    except Exception as exc:  # a channel down is reported by name, never fatal
        log.error("notification through %s failed: %s", type(notifier).__name__, exc)
        return f"{type(exc).__name__}: {exc}"[:500]


def test_all(registry) -> list[dict]:
    """Send a test message through every configured channel: the operators' and each county contact's. Returns
    [{audience, channel, target, ok, error}], one per channel tried (empty when nothing is configured)."""
    from xuncha.monitor import notices

    out = []
    for aud in [notices.OPERATORS] + [notices.Audience(c.code, c.label, tuple(c.contacts.get("email") or ()),
                                                        c.contacts.get("chat_conn_id"), zh=True)
                                       for c in registry.counties if c.contacts]:
        subject = ("【巡察数据平台】测试消息" if aud.zh else "[Xuncha] test message 测试消息") + f" — {aud.name}"
        text = ("这是一条测试消息：本渠道可以收到巡察数据平台关于本县的通知。" if aud.zh
                else "This is a test message: this channel receives Xuncha's incident notifications.")
        for channel, target, error in deliver(aud, subject, text):
            out.append({"audience": aud.key, "channel": channel, "target": target, "ok": error is None, "error": error})
    return out


def off_line() -> str | None:
    """One line saying notifications are off when no operator channel is configured (None when one is): what
    the health run and the incidents page show."""
    if operator_channels():
        return None
    return (f"notifications are OFF (通知未配置): no channel is configured, incidents reach nobody but the incidents "
            f"page /xuncha/incidents — {OFF_HINT}")


def status_line(registry) -> tuple[bool, str]:
    """(on, one line) for `xuncha up` and `xuncha db status`: which operator channels are configured and to whom
    (e-mail: how many addresses; chat: the connection), and how many counties have contacts (e-mail addresses, chat
    robots) of config/counties.yml; or, with no operator channel, `off_line()`. Counties' e-mail needs the operators'
    SMTP connection (it is the one they go through)."""
    with_contacts = [c for c in registry.counties if c.contacts]
    mails = sum(len(c.contacts.get("email") or ()) for c in with_contacts)
    chats = sum(bool(c.contacts.get("chat_conn_id")) for c in with_contacts)
    counties = (f"county contacts: {len(with_contacts)} of {len(registry.counties)} counties ({mails} e-mail "
                f"address(es), {chats} chat robot(s))")
    ops = operator_channels()
    if not ops:
        return False, off_line() + (f"; {counties} configured, but their e-mail needs {_smtp_id()}" if with_contacts else "")
    said = [f"e-mail to {len(target.split(', '))} operator address(es) via {_smtp_id()}" if channel == "email"
            else f"chat robot {target}" for channel, target in ops]
    return True, (f"notifications ON (通知已开启): operators by {' and '.join(said)}; {counties} — "
                  "check them with `xuncha notify test`")
