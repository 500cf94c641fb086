"""A simulated county HTTP system: serves generated exports over the pull interface of the export spec (§9).

    with CountyServer(Path("out"), tokens={"410325": "secret"}) as srv:
        httpx.get(f"{srv.url}/api/v1/410325/exports", headers={"Authorization": "Bearer secret"})

    python -m xuncha_sim.countyserver --root out --token 410325=secret --port 8085

Endpoints (each needs `Authorization: Bearer <the county's token>`):
    GET /api/v1/{county}/exports?updated_since=<ISO timestamp>&page=<n>
    GET /api/v1/{county}/exports/{export_id}/manifest.json
    GET /api/v1/{county}/exports/{export_id}/files/{name}
Only counties with a token are served. Exports are read from ROOT/<county>/<folder>/manifest.json; an
export_id delivered twice (a re-sent folder) is listed once. Stdlib only, a thread per request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import json
import re
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CONTENT_TYPES = {
    ".csv": "text/csv",
    ".jsonl": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".json": "application/json",
}


@dataclass(frozen=True)
class _Export:
    export_id: str
    folder: Path
    generated_at: dt.datetime
    summary: dict
    files: frozenset[str]


class _HttpError(Exception):
    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message


class CountyServer:
    """The HTTP endpoint of the county systems in `tokens` (county code -> bearer token), serving `root`."""

    def __init__(self, root: Path, tokens: dict[str, str], host: str = "127.0.0.1", port: int = 0, page_size: int = 50):
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.root = Path(root)
        self.tokens = dict(tokens)
        self.host = host
        self.port = port
        self.page_size = page_size
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._index: dict[str, tuple[int, list[_Export], dict[str, _Export]]] = {}
        self._lock = threading.Lock()

    # lifecycle -------------------------------------------------------------------------------------
    def start(self) -> CountyServer:
        if self._httpd is not None:
            return self
        handler = type("Handler", (_Handler,), {"county_server": self})
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=f"countyserver:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> CountyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # data ------------------------------------------------------------------------------------------
    def exports(self, county: str) -> tuple[list[_Export], dict[str, _Export]]:
        """The county's exports ordered by (generated_at, export_id), re-read when its folder changes."""
        folder = self.root / county
        try:
            stamp = folder.stat().st_mtime_ns
        except FileNotFoundError:
            return [], {}
        with self._lock:
            cached = self._index.get(county)
            if cached and cached[0] == stamp:
                return cached[1], cached[2]
        by_id: dict[str, _Export] = {}
        for d in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            try:
                m = json.loads((d / "manifest.json").read_text(encoding="utf-8-sig"))
                gen = dt.datetime.fromisoformat(m["generated_at"].replace("Z", "+00:00"))
                eid = m["export_id"]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # not (yet) a complete export
            if eid in by_id or not NAME.match(str(eid)):
                continue  # a re-sent folder of the same export: listed once
            summary = {"export_id": eid, "county_code": m.get("county_code"), "business_date": m.get("business_date"),
                       "generated_at": m["generated_at"], "mode": m.get("mode"), "files": len(m.get("files") or [])}
            files = frozenset(f.get("path") for f in m.get("files") or [] if isinstance(f, dict))
            by_id[eid] = _Export(eid, d, gen, summary, files)
        ordered = sorted(by_id.values(), key=lambda e: (e.generated_at, e.export_id))
        with self._lock:
            self._index[county] = (stamp, ordered, by_id)
        return ordered, by_id

    def handle(self, method: str, raw_path: str, authorization: str | None) -> tuple[int, str, bytes]:
        """(status, content type, body) of a request; raises _HttpError for errors."""
        if method not in ("GET", "HEAD"):
            raise _HttpError(405, f"method {method} not allowed")
        parts = urlsplit(raw_path)
        segs = [unquote(s) for s in parts.path.split("/")[1:]]
        if segs and segs[-1] == "":
            segs = segs[:-1]
        if len(segs) < 4 or segs[:2] != ["api", "v1"] or segs[3] != "exports":
            raise _HttpError(404, "not found")
        for s in segs[2:]:
            if not NAME.match(s):
                raise _HttpError(400, f"invalid name {s!r}")
        county = segs[2]
        if county not in self.tokens:
            raise _HttpError(404, f"unknown county {county}")
        self._authorize(county, authorization)
        ordered, by_id = self.exports(county)
        if len(segs) == 4:
            return 200, "application/json", self._listing(ordered, parts.query)
        export = by_id.get(segs[4])
        if export is None:
            raise _HttpError(404, f"unknown export {segs[4]}")
        if len(segs) == 6 and segs[5] == "manifest.json":
            return 200, "application/json", (export.folder / "manifest.json").read_bytes()
        if len(segs) == 7 and segs[5] == "files":
            name = segs[6]
            path = (export.folder / name).resolve()
            if name not in export.files or path.parent != export.folder.resolve() or not path.is_file():
                raise _HttpError(404, f"no file {name} in export {export.export_id}")
            return 200, CONTENT_TYPES.get(path.suffix, "application/octet-stream"), path.read_bytes()
        raise _HttpError(404, "not found")

    def _authorize(self, county: str, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.tokens[county].encode()):
            raise _HttpError(401, "missing or wrong bearer token")

    def _listing(self, ordered: list[_Export], query: str) -> bytes:
        q = parse_qs(query, keep_blank_values=True)
        since = None
        if q.get("updated_since", [""])[0]:
            raw = q["updated_since"][0].strip().replace(" ", "+")  # tolerate an unencoded '+'
            try:
                since = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                raise _HttpError(400, f"updated_since {raw!r} is not an ISO 8601 timestamp") from None
            if since.tzinfo is None:
                raise _HttpError(400, "updated_since needs a UTC offset, e.g. 2019-03-16T01:00:00+08:00")
        try:
            page = int(q.get("page", ["1"])[0] or "1")
        except ValueError:
            raise _HttpError(400, "page must be a whole number") from None
        if page < 1:
            raise _HttpError(400, "page must be 1 or more")
        items = [e for e in ordered if since is None or e.generated_at > since]
        lo = (page - 1) * self.page_size
        chunk = items[lo:lo + self.page_size]
        body = {"items": [e.summary for e in chunk], "page": page,
                "next_page": page + 1 if lo + self.page_size < len(items) else None}
        return json.dumps(body, ensure_ascii=False).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    county_server: CountyServer
    server_version = "XunchaCountySystem/1.0"

    def _serve(self, head: bool) -> None:
        try:
            status, ctype, body = self.county_server.handle(self.command, self.path, self.headers.get("Authorization"))
        except _HttpError as err:
            status, ctype = err.status, "application/json"
            body = json.dumps({"error": err.message}, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype + ("; charset=utf-8" if ctype == "application/json" else ""))
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="xuncha-county"')
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def _not_allowed(self) -> None:
        self._serve(head=False)

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed

    def log_message(self, format: str, *args) -> None:  # quiet by default
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m xuncha_sim.countyserver", description="Serve generated county exports over HTTP.")
    p.add_argument("--root", required=True, type=Path, help="output of `xuncha generate` (ROOT/<county>/<export_id>/)")
    p.add_argument("--token", action="append", default=[], metavar="COUNTY=TOKEN", help="a county to serve and its bearer token")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8085)
    p.add_argument("--page-size", type=int, default=50)
    args = p.parse_args(argv)
    tokens = {}
    for item in args.token:
        code, sep, token = item.partition("=")
        if not sep or not code or not token:
            p.error(f"--token wants COUNTY=TOKEN, got {item!r}")
        tokens[code] = token
    if not tokens:
        p.error("give at least one --token COUNTY=TOKEN")
    srv = CountyServer(args.root, tokens, args.host, args.port, args.page_size).start()
    print(f"serving {', '.join(sorted(tokens))} from {args.root} at {srv.url}/api/v1/<county>/exports", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
