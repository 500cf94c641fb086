"""The county HTTP pull trusts nothing it is told (xuncha.extract.connectors.pull_http), against a real HTTP server on
loopback that answers as a broken or hostile county system would: lying listings and manifests, path tricks,
endless pages, 5xx, slow answers and malformed bodies. Each fails the county's pull with a clear reason, builds
no path from an unchecked name and writes nothing outside the inbox.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from xuncha import registry
from xuncha.extract import connectors

FAST = connectors.PullLimits(request_seconds=2, pull_seconds=6, max_pages=5, retries=2, backoff_seconds=0.05,
                             connect_seconds=1)
EID = "410325-20190315-01"


class Hostile:
    """A county system on 127.0.0.1 answering from `routes`: path -> fn(query) -> (status, body bytes | iterator)."""

    def __init__(self, routes):
        self.routes, self.hits = routes, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                u = urlsplit(self.path)
                outer.hits.append(u.path)
                fn = outer.routes.get(u.path)
                status, body = fn(parse_qs(u.query)) if fn else (404, b"{}")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if isinstance(body, bytes):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for chunk in ([body] if isinstance(body, bytes) else body):
                    self.wfile.write(chunk)
                    self.wfile.flush()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pull(warehouse, settings):
    import shutil

    servers = []
    inbox = settings.landing / "410325"
    shutil.rmtree(inbox, ignore_errors=True)

    def run(routes, limits=FAST):
        srv = Hostile(routes)
        servers.append(srv)
        source = connectors.HttpSource(srv.url, "token")
        return srv, inbox, lambda: connectors.pull_http(registry.default().get("410325"), source, inbox, warehouse, limits=limits)

    yield run
    for s in servers:
        s.close()


def listing(*ids, next_page=None, county="410325"):
    return lambda q: (200, json.dumps({"items": [{"export_id": i, "county_code": county} for i in ids],
                                       "next_page": next_page}).encode())


def manifest(export_id=EID, county="410325", files=()):
    return lambda q: (200, json.dumps({"export_id": export_id, "county_code": county, "files": list(files)}).encode())


LIST = "/api/v1/410325/exports"
BASE = f"/api/v1/410325/exports/{EID}"


def _nothing_outside(settings):
    """No file the county named exists anywhere under XUNCHA_HOME (../../../ from the inbox lands there)."""
    written = [p for p in settings.home.rglob("escape*") if p.is_file()]
    return not written, written


@pytest.mark.parametrize("bad_id", ["../../etc", "410325-20190315-01\n", "/abs", ".hidden", "a/b", "x" * 200, ""])
def test_an_export_id_off_the_spec_is_refused_before_any_path_is_built(pull, settings, bad_id):
    srv, inbox, run = pull({LIST: listing(bad_id)})
    with pytest.raises(connectors.PullError, match="嵩县 410325: the listing names export .* not an export id of the spec"):
        run()
    assert srv.hits == [LIST], "nothing was downloaded"
    assert not inbox.exists() or not any(inbox.iterdir())


@pytest.mark.parametrize("route,why", [
    (manifest(county="410326"), "says export '410325-20190315-01' of county '410326'"),
    (manifest(export_id="410325-20190316-01"), "says export '410325-20190316-01' of county '410325'"),
])
def test_a_manifest_must_name_the_listed_export_of_this_county(pull, route, why):
    _, inbox, run = pull({LIST: listing(EID), f"{BASE}/manifest.json": route})
    with pytest.raises(connectors.PullError, match=why):
        run()
    assert not (inbox / EID).exists()


def test_a_listing_of_another_county_is_refused(pull):
    _, _, run = pull({LIST: listing(EID, county="410302")})
    with pytest.raises(connectors.PullError, match="is of county '410302'"):
        run()


def test_a_file_name_off_the_spec_is_never_fetched_nor_written(pull, settings):
    files = [{"entity": "rounds", "path": "../../../escape.csv"}, {"entity": "findings", "path": "findings.csv\n"},
             {"entity": "inspections", "path": "inspections.csv"}]
    srv, inbox, run = pull({LIST: listing(EID), f"{BASE}/manifest.json": manifest(files=files),
                            f"{BASE}/files/inspections.csv": lambda q: (200, b"inspection_id\n")})
    [got] = run()
    assert sorted(p.name for p in got.iterdir()) == ["inspections.csv", "manifest.json"]
    assert not any("escape" in h or "findings" in h for h in srv.hits)
    ok, written = _nothing_outside(settings)
    assert ok, written


def test_pages_are_capped(pull):
    srv, _, run = pull({LIST: lambda q: (200, json.dumps(
        {"items": [], "next_page": int(q.get("page", ["1"])[0]) + 1}).encode())})
    with pytest.raises(connectors.PullError, match="more than 5 pages"):
        run()
    assert len(srv.hits) == 5


@pytest.mark.parametrize("body,why", [
    (b"<html>gateway</html>", "not JSON"),
    (b'{"items": {"export_id": "x"}}', "not an object with a list `items`"),
    (b'{"items": [{"id": 1}]}', "an item without a text `export_id`"),
    (b'{"items": [], "next_page": 1}', "next_page 1 does not come after page 1"),
    (b'[]', "not an object"),
])
def test_a_malformed_answer_is_a_clear_error(pull, body, why):
    _, _, run = pull({LIST: lambda q: (200, body)})
    with pytest.raises(connectors.PullError, match="嵩县 410325: malformed answer") as exc:
        run()
    assert why in str(exc.value)


def test_5xx_is_retried_with_backoff_then_succeeds(pull):
    answers = iter([(503, b"busy"), (502, b"bad gateway")])
    srv, _, run = pull({LIST: lambda q: next(answers, (200, b'{"items": [], "next_page": null}'))})
    assert run() == []
    assert srv.hits == [LIST] * 3


def test_5xx_that_persists_fails_the_pull_after_the_retries(pull):
    srv, _, run = pull({LIST: lambda q: (500, b"down")})
    with pytest.raises(connectors.PullError, match=r"嵩县 410325: GET /api/v1/410325/exports → HTTP 500"):
        run()
    assert len(srv.hits) == FAST.retries + 1


def test_a_slow_answer_passes_its_request_deadline(pull):
    def slow(q):
        time.sleep(FAST.request_seconds + 1)
        return 200, b'{"items": []}'

    _, _, run = pull({LIST: slow})
    t0 = time.monotonic()
    with pytest.raises(connectors.PullError, match="passed its deadline"):
        run()
    assert time.monotonic() - t0 < FAST.request_seconds + 1.5


def test_a_download_that_drips_passes_its_deadline(pull):
    def drip(q):
        def body():
            for _ in range(40):
                yield b"x" * 10
                time.sleep(0.2)
        return 200, body()

    files = [{"entity": "rounds", "path": "rounds.csv"}]
    _, inbox, run = pull({LIST: listing(EID), f"{BASE}/manifest.json": manifest(files=files),
                          f"{BASE}/files/rounds.csv": drip})
    with pytest.raises(connectors.PullError, match="deadline"):
        run()
    assert not (inbox / EID).exists(), "no half-downloaded export under its name"
