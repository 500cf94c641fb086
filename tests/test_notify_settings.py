"""An SMTP connection set up as a data engineer first writes it (issue 24 follow-up): each missing setting of the
Airflow SMTP provider's connection is named when sending fails for that reason — against a real plain SMTP server on
loopback (aiosmtpd), through Airflow's SmtpNotifier."""

from __future__ import annotations

import json

import pytest
from notify_kit import OPS_MAIL, Mailbox, free_port, small_registry, RUYANG

from xuncha.orchestration import notifications


@pytest.fixture
def plain_smtp():
    """A plain SMTP server (no SSL, no STARTTLS) on loopback: what port 25 of an internal relay speaks."""
    from aiosmtpd.controller import Controller

    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, box
    controller.stop()


def _smtp(monkeypatch, port: int, login: str | None, **extra) -> None:
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": login,
            "extra": {"to": OPS_MAIL, "retry_limit": 0, "timeout": 5, **extra}}
    monkeypatch.setenv("AIRFLOW_CONN_XUNCHA_NOTIFY_SMTP", json.dumps(conn))
    monkeypatch.delenv("AIRFLOW_CONN_XUNCHA_NOTIFY_CHAT", raising=False)


@pytest.mark.parametrize("extra, login, named", [
    ({}, "xuncha@xuncha.example.cn", '"disable_ssl": true'),
    ({"disable_ssl": True}, "xuncha@xuncha.example.cn", '"disable_tls": true'),
    ({"disable_ssl": True, "disable_tls": True}, "xuncha", '"from_email"'),
])
def test_notify_test_names_the_smtp_setting_whose_absence_made_sending_fail(monkeypatch, plain_smtp, extra, login, named):
    port, box = plain_smtp
    _smtp(monkeypatch, port, login, **extra)
    [r] = notifications.test_all(small_registry(RUYANG))
    assert not r["ok"] and named in r["error"] and "xuncha_notify_smtp" in r["error"], r["error"]
    assert box.got == []


def test_the_documented_plain_relay_connection_sends_with_from_email_in_the_extra(monkeypatch, plain_smtp):
    port, box = plain_smtp
    _smtp(monkeypatch, port, None, disable_ssl=True, disable_tls=True, from_email="xuncha@xuncha.example.cn")
    [r] = notifications.test_all(small_registry(RUYANG))
    assert r["ok"], r["error"]
    [(rcpts, msg)] = box.got
    assert rcpts == [OPS_MAIL] and msg["From"] == "xuncha@xuncha.example.cn"
    on, line = notifications.status_line(small_registry(RUYANG))
    assert on and line.startswith("notifications ON (通知已开启): operators by e-mail to 1 operator address(es) "
                                  "via xuncha_notify_smtp; county contacts: 0 of 1 counties")
