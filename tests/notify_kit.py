"""Real notification receivers on loopback for the incident tests: an SMTP server (aiosmtpd) and chat-robot webhooks,
plus a small county registry with contacts. Imported by test modules."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from xuncha import registry

OPS_MAIL = "ops@xuncha.example.cn"
SONGXIAN_MAIL = "xcb@songxian.example.cn"       # 嵩县 410325
LUANCHUAN_MAIL = "xcb@luanchuan.example.cn"     # 栾川县 410324


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """Every message the loopback SMTP server accepted: [(recipients, email.message.EmailMessage)]."""

    def __init__(self):
        self.got: list[tuple[list[str], object]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's handler hook)
        self.got.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"

    def to(self, address: str) -> list[tuple[str, str]]:
        """(subject, text body) of each message delivered to `address`."""
        out = []
        for rcpts, msg in self.got:
            if address in rcpts:
                body = msg.get_body(preferencelist=("html", "plain"))
                out.append((str(msg["Subject"]), body.get_content() if body else ""))
        return out


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback; yields (AIRFLOW_CONN_* env for xuncha_notify_smtp, Mailbox)."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": "xuncha@xuncha.example.cn",
            "extra": {"disable_tls": True, "disable_ssl": True, "to": OPS_MAIL}}
    yield {"AIRFLOW_CONN_XUNCHA_NOTIFY_SMTP": json.dumps(conn)}, box
    controller.stop()


class Robots:
    """Loopback chat robots (DingTalk/WeCom webhooks): one path per robot; `got[name]` the texts it received."""

    def __init__(self):
        self.got: dict[str, list[str]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.got.setdefault(self.path.strip("/").split("?")[0], []).append(body["text"]["content"])
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"errcode": 0}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def conn_env(self, conn_id: str, name: str) -> dict[str, str]:
        """AIRFLOW_CONN_<ID> of an HTTP connection whose host is this robot's whole webhook URL."""
        url = f"http://127.0.0.1:{self.server.server_port}/{name}"
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps({"conn_type": "http", "host": url})}


@pytest.fixture
def robots():
    r = Robots()
    yield r
    r.server.shutdown()


def county(code: str, name: str, **extra) -> dict:
    return {"code": code, "name": name, "level": "county", **extra}


def small_registry(*entries: dict) -> registry.Registry:
    """A registry of `entries` (county dicts as in counties.yml) with the file's defaults."""
    return registry.parse({"defaults": {"timezone": "Asia/Shanghai", "deadline": "06:00", "delivery": {"landing": "default"},
                                        "active_from": "2016-10-01"}, "counties": list(entries)})


def config_with_songxian_contacts(tmp_path: Path, replace: dict[str, str] | None = None) -> Path:
    """A copy of the repository's config/ in `tmp_path` whose counties.yml gives 嵩县 410325 its e-mail and chat contacts
    (SONGXIAN_MAIL, connection xuncha_chat_410325) and makes each further text replacement of `replace` ({old: new});
    the folder to set as XUNCHA_CONFIG for a `xuncha` subprocess."""
    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[1] / "config", config)
    yml = (config / "counties.yml").read_text(encoding="utf-8")
    yml = yml.replace('name: 嵩县, level: county,', 'name: 嵩县, level: county, contacts: {email: ["%s"], '
                      'chat_conn_id: xuncha_chat_410325},' % SONGXIAN_MAIL)
    for old, new in (replace or {}).items():
        yml = yml.replace(old, new)
    (config / "counties.yml").write_text(yml, encoding="utf-8")
    return config


SONGXIAN = county("410325", "嵩县", contacts={"email": [SONGXIAN_MAIL], "chat_conn_id": "xuncha_chat_410325"})
LUANCHUAN = county("410324", "栾川县", contacts={"email": [LUANCHUAN_MAIL], "chat_conn_id": "xuncha_chat_410324"})
RUYANG = county("410326", "汝阳县")


@pytest.fixture
def channels(monkeypatch, smtp_server, robots):
    """Operators' SMTP and chat connections plus 嵩县's and 栾川县's chat robots, in the environment Airflow reads."""
    smtp_env, box = smtp_server
    env = smtp_env | robots.conn_env("xuncha_notify_chat", "ops") | robots.conn_env("xuncha_chat_410325", "songxian") \
        | robots.conn_env("xuncha_chat_410324", "luanchuan")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return box, robots, env
