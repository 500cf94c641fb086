"""A county's HTTP pull ends by its deadlines however slowly the county system answers — the listing and the manifests
as well as the files, head or body (xuncha.extract.pull_clock) — and an export quarantined for a stamp in the future
is not pulled, quarantined and alerted again every night until its content changes (issue 28). Real servers on
127.0.0.1: a raw socket server that drips, and the county system simulator (xuncha_sim.countyserver); real PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time

import httpx  # noqa: F401 (imported here, its import time is not the pull's)
import pytest
from conftest import query
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.extract import connectors
from xuncha.load import county_night
from xuncha.orchestration import env as airflow_env
from xuncha_sim.countyserver import CountyServer

pytestmark = [pytest.mark.hardening, pytest.mark.timeout(120)]

EID = "410325-20190315-01"
LIST = "/api/v1/410325/exports"
MANIFEST = f"/api/v1/410325/exports/{EID}/manifest.json"
FILE = f"/api/v1/410325/exports/{EID}/files/rounds.csv"


def _response(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


class Dripping:
    """A county system on 127.0.0.1 that answers `drip` paths one byte every `every` s (status line, headers and
    body alike) and every other path at once, from `answers` (path -> raw HTTP response bytes)."""

    def __init__(self, answers: dict[str, bytes], drip: set[str], every: float = 0.25):
        self.answers, self.drip, self.every, self.hits = answers, drip, every, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            while True:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                path = head.split(b" ")[1].decode().split("?")[0]
                self.hits.append(path)
                raw = self.answers.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                try:
                    if path in self.drip:
                        for i in range(len(raw)):
                            conn.sendall(raw[i:i + 1])
                            time.sleep(self.every)
                    else:
                        conn.sendall(raw)
                except OSError:
                    return

    def close(self):
        self.sock.close()


ANSWERS = {
    LIST: _response(json.dumps({"items": [{"export_id": EID, "county_code": "410325"}], "next_page": None}).encode()
                    + b" " * 400),
    MANIFEST: _response(json.dumps({"export_id": EID, "county_code": "410325",
                                    "files": [{"entity": "rounds", "path": "rounds.csv"}]}).encode() + b" " * 400),
    FILE: _response(b"round_id\n" + b"x" * 400),
}


@pytest.mark.parametrize("dripped", [LIST, MANIFEST, FILE])
@pytest.mark.parametrize("request_seconds,pull_seconds,which", [(2, 30, "a request"), (60, 3, "the pull")])
def test_a_county_system_that_drips_cannot_hold_the_pull_past_its_deadline(warehouse, settings, dripped,
                                                                           request_seconds, pull_seconds, which):
    import shutil

    inbox = settings.landing / "410325"
    shutil.rmtree(inbox, ignore_errors=True)
    server = Dripping(ANSWERS, {dripped})
    limits = connectors.PullLimits(request_seconds=request_seconds, pull_seconds=pull_seconds, retries=2,
                                   backoff_seconds=0.05, connect_seconds=1)
    connectors._tls_context(), connectors.spec_patterns()   # built once per process (seconds): not the pull's time
    t0 = time.monotonic()
    try:
        with pytest.raises(connectors.PullError, match=f"嵩县 410325: {which} passed its deadline"):
            connectors.pull_http(registry.default().get("410325"), connectors.HttpSource(server.url, "t"), inbox,
                                 warehouse, limits=limits)
    finally:
        server.close()
    took = time.monotonic() - t0
    print(f"measured: {dripped} dripped, request {request_seconds} s / pull {pull_seconds} s: ended after {took:.2f} s")
    assert took < min(request_seconds, pull_seconds) + 1.0, f"the pull was held {took:.1f} s"
    assert server.hits.count(dripped) == 1, "a deadline is not retried"
    assert not (inbox / EID).exists(), "no half-pulled export under its name"


TOKEN = "songxian-secret-token"


@pytest.fixture
def songxian(tmp_path, monkeypatch):
    """嵩县's own system (the simulator), counting the requests it answers."""
    root = tmp_path / "systems"
    root.mkdir()
    with CountyServer(root, {"410325": TOKEN}) as server:
        hits, handle = [], server.handle
        server.handle = lambda method, path, auth: hits.append(path.split("?")[0]) or handle(method, path, auth)
        for k, v in airflow_env.county_connection_env("xuncha_county_410325", server.url, TOKEN).items():
            monkeypatch.setenv(k, v)
        yield root, hits


def test_an_export_stamped_in_the_future_is_quarantined_once_and_pulled_again_only_when_it_changes(clean, songxian):
    root, hits = songxian
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).isoformat(timespec="seconds")
    rows = slice_rows("410325", n_findings=3, updated="2019-03-15T20:00:00+08:00")
    write_export(root, "410325", EID, "2019-03-15", rows, generated_at=future)
    day = dt.date(2019, 3, 15)

    def take():
        return county_night.run(registry.default(), "410325", day, url=clean).to_xcom()

    first = take()
    assert [e["status"] for e in first["exports"]] == ["quarantined"]
    alerts = query(clean, "SELECT count(*) FROM audit.alerts")[0][0]
    assert alerts >= 1
    hits.clear()
    for _ in range(2):          # the next nights: listed again (its stamp is after every watermark), not pulled again
        again = take()
        assert again["exports"] == [] and not again["quarantined"]
    assert query(clean, "SELECT count(*) FROM audit.batches") == [(1,)]
    assert query(clean, "SELECT count(*) FROM audit.alerts") == [(alerts,)], "no new alert"
    assert not any("/files/" in h for h in hits), f"its files were downloaded again: {hits}"
    # The county corrects the stamp (same export id, new content): pulled and loaded.
    write_export(root, "410325", EID, "2019-03-15", rows, generated_at="2019-03-15T23:30:00+08:00")
    (root / "410325").touch()
    fixed = take()
    assert [e["status"] for e in fixed["exports"]] == ["loaded"]
