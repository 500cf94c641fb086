"""A real headless browser for the page tests: Debian's Chromium (config/apt-packages.txt) driven by playwright's
Python client with executable_path, so nothing downloads a browser. Imported by test modules.

`offline_page(browser, allowed)` opens a page whose every request is checked: a request to anything but the
`allowed` origins (file:, data:, blob:, about: and the loopback server under test) is aborted and recorded, so a
test asserts `page.outside == []`. Chromium is also started with its host resolver mapping every name to nothing
(except localhost), so even a request the interception missed cannot leave the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
TIMEOUT_MS = 180_000
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Chromium (headless, root-safe flags, a fresh user-data-dir) for one test module."""
    if not Path(CHROMIUM).exists() or not shutil.which("chromium"):
        pytest.fail("Debian's chromium is not installed: run `make sysdeps` (config/apt-packages.txt)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, args=FLAGS, headless=True,
                                                   viewport={"width": 1280, "height": 900}, locale="zh-CN")
        yield ctx
        ctx.close()


class OfflinePage:
    """A page plus what it tried to fetch from outside (`outside`) and the script errors it raised (`errors`)."""

    def __init__(self, context, allowed: tuple[str, ...] = ()):
        self.page = context.new_page()
        # Generous: a report page carries ~5 MB of plotly.js, and the CI machine may be busy.
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.set_default_navigation_timeout(TIMEOUT_MS)
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)
        self.allowed = allowed

    def _route(self, route):
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES) or any(url.startswith(a) for a in self.allowed):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort("internetdisconnected")

    def close(self):
        self.page.close()


def screenshot(page, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{path}: screenshot is blank"
    return path


@contextlib.contextmanager
def airflow_api_server(home: Path, passwords: dict[str, str], env: dict[str, str] | None = None,
                       base_env: dict[str, str] | None = None):
    """`airflow api-server` on a free loopback port with Xuncha's Airflow environment (plugins/ included), the simple
    auth manager's `passwords` ({user: password}; `env` may name the users' roles) and `env` on top of `base_env`
    (default os.environ); yields (base URL, {user: JWT}) once /api/v2/monitor/health answers (240 s at most, else the
    test fails with the server's log); terminated on exit. `home`: a folder for the passwords file and the log."""
    import httpx

    from xuncha.orchestration import env as airflow_env
    from xuncha.settings import PROJECT_ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (home / "passwords.json").write_text(json.dumps(passwords), encoding="utf-8")
    environ = airflow_env.airflow_environ(base=dict(os.environ if base_env is None else base_env) | (env or {}) | {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": f"http://localhost:{port}"})
    log_path = home / "api-server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(airflow_env.airflow_bin()), "api-server", "--port", str(port), "--host",
                                 "127.0.0.1", "--workers", "1"], env=environ, stdout=log, stderr=subprocess.STDOUT,
                                cwd=PROJECT_ROOT)
        base = f"http://localhost:{port}"
        try:
            deadline = time.monotonic() + 240
            while True:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                try:
                    if httpx.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "api-server did not start: " + log_path.read_text()[-3000:]
                time.sleep(1)
            yield base, {u: httpx.post(f"{base}/auth/token", json={"username": u, "password": p},
                                       timeout=30).json()["access_token"] for u, p in passwords.items()}
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
