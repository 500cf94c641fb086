"""Connectors: bring a county's exports into its local inbox (landing/<code>/), where the pipeline takes them.

`fetch` copies (called only by xuncha.load.county_night.fetch); `nights_at_source` only asks which nights the source
holds (the arrival check: lists, downloads nothing).

- Local landing (the default): counties write straight into the inbox; nothing to fetch.
- Remote landing (`delivery: {landing: "s3://…" | "sftp://…" | "file://…"}`): export folders are listed and
  copied through Airflow's ObjectStoragePath (s3/sftp need their Airflow provider and a connection), then
  removed from the remote area once safely in the inbox.
- HTTP pull (`delivery: {http: {conn_id: …}}`): the county system's API is paged through for exports
  generated after the watermark kept in audit.watermarks. The watermark only moves once an export has been
  handled (see `advance_watermark`), so a failed night is pulled again.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from xuncha.warehouse import db
from xuncha.registry import County

log = logging.getLogger(__name__)

API = "/api/v1"


def fetch(county: County, inbox: Path, url: str) -> None:
    """Bring whatever the county has for us into its inbox, by its delivery (a local landing needs nothing)."""
    if county.pulled:
        inbox.mkdir(parents=True, exist_ok=True)
        pull_http(county, http_source(county.delivery["http"]["conn_id"]), inbox, url)
    elif is_remote(county):
        inbox.mkdir(parents=True, exist_ok=True)
        fetch_remote_landing(county, inbox)


def nights_at_source(county: County, url: str) -> set[str]:
    """The business dates (ISO) of the exports the county's remote source still holds for us; downloads nothing.
    HTTP pull: one listing of the exports generated after the watermark (their summaries carry the business
    date). Remote landing: a listing of the folders with a manifest; each manifest is read once per process (a
    folder is complete, and no longer changes, once its manifest is there). A local landing: the empty set
    (the inbox itself is the source: xuncha.extract.inbox.nights_waiting)."""
    if county.pulled:
        return {str(item.get("business_date")) for item in list_http(county, http_source(county.delivery["http"]["conn_id"]), url)}
    if is_remote(county):
        from xuncha.orchestration.hooks import storage_path

        remote = storage_path(county.delivery["landing"])
        return {_remote_night(str(folder / "manifest.json")) for folder in remote.iterdir()
                if folder.is_dir() and not folder.name.startswith((".", "_")) and (folder / "manifest.json").exists()}
    return set()


@lru_cache(maxsize=4096)
def _remote_night(manifest_url: str) -> str:
    from xuncha.orchestration.hooks import storage_path

    try:
        return str(json.loads(storage_path(manifest_url).read_text(encoding="utf-8-sig")).get("business_date", ""))
    except (OSError, ValueError, AttributeError):
        return ""  # quarantined with the reason once fetched


# -- remote landing areas ------------------------------------------------------------------------------

def is_remote(county: County) -> bool:
    """Does the county deliver into a remote landing area (an ObjectStoragePath URL such as s3:// or sftp://)?"""
    target = str(county.delivery.get("landing", "default"))
    return "://" in target


def fetch_remote_landing(county: County, inbox: Path) -> list[Path]:
    """Copy every export folder of a remote landing area into `inbox`; return the new local folders."""
    from xuncha.orchestration.hooks import storage_path

    remote = storage_path(county.delivery["landing"])
    fetched = []
    for folder in sorted(p for p in remote.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if not (folder / "manifest.json").exists():
            continue  # still being written: a county writes the manifest last
        dest = inbox / folder.name
        if dest.exists():
            continue
        part = inbox / f".{folder.name}.part"
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        for f in folder.iterdir():
            if f.is_file():
                f.copy(storage_path(f"file://{part / f.name}"))
        part.rename(dest)
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
        fetched.append(dest)
    return fetched


# -- HTTP pull -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HttpSource:
    """A pulled county system: its base URL and bearer token (from its Airflow connection)."""
    base_url: str
    token: str


def http_source(conn_id: str) -> HttpSource:
    """URL and bearer token of a county system, from its Airflow connection (host/port/schema, password = token)."""
    from xuncha.orchestration.hooks import require_connection

    conn = require_connection(conn_id)
    host = conn.host or ""
    if "://" not in host:
        host = f"{conn.schema or 'http'}://{host}" + (f":{conn.port}" if conn.port else "")
    if not conn.password:
        raise ValueError(f"connection {conn_id}: the county system's token goes in the password field")
    return HttpSource(host.rstrip("/"), conn.password)


def get_watermark(url: str, county_code: str) -> dt.datetime | None:
    """The `generated_at` of the last export handled from a pulled county (audit.watermarks), or None."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT watermark FROM audit.watermarks WHERE county_code = %s", (county_code,))
        row = cur.fetchone()
        return row[0] if row else None


def advance_watermark(url: str, county_code: str, generated_at: dt.datetime, export_id: str) -> None:
    """Move the watermark forward (never back, never past the present: a clock in 2999 must not skip real exports)."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO audit.watermarks (county_code, watermark, export_id) VALUES (%s, least(%s, now()), %s)
               ON CONFLICT (county_code) DO UPDATE SET watermark = EXCLUDED.watermark, export_id = EXCLUDED.export_id,
                                                       updated_at = now()
               WHERE audit.watermarks.watermark < EXCLUDED.watermark""",
            (county_code, generated_at, export_id),
        )


class PullError(RuntimeError):
    """A county system's answer could not be used (malformed, lying, too slow, too many pages): the county's task
    fails with this reason; the other counties carry on."""


@dataclass(frozen=True)
class PullLimits:
    """Bounds of one county pull. Seconds are wall-clock; `request_seconds` bounds one request including a whole
    file download, `pull_seconds` the county's whole pull; `retries` is how often a 5xx or a dropped connection is
    tried again (exponential backoff from `backoff_seconds`, tenacity); `max_pages` caps the listing's pages."""

    request_seconds: float = 120.0
    pull_seconds: float = 1800.0
    max_pages: int = 1000
    retries: int = 4
    backoff_seconds: float = 1.0
    connect_seconds: float = 10.0


def spec_patterns() -> tuple[re.Pattern, re.Pattern]:
    """(export id, file name) patterns of the export spec (manifest.schema.json), used with fullmatch: anchored at
    both ends, so a trailing newline or a path separator never passes."""
    from xuncha.spec import manifest_schema

    schema = manifest_schema()
    return (re.compile(schema["properties"]["export_id"]["pattern"]),
            re.compile(schema["properties"]["files"]["items"]["properties"]["path"]["pattern"]))


def list_http(county: County, source: HttpSource, url: str, limits: PullLimits | None = None) -> list[dict]:
    """The listing items ({export_id, county_code, business_date, generated_at, …}) of the exports generated after
    the watermark, with the same checks, deadlines and page cap as `pull_http`; downloads no export."""
    limits = limits or PullLimits()
    since = get_watermark(url, county.code)
    clock = _Deadline(county, limits)
    with _client(source, limits) as client:
        return [item for items in _pages(client, clock, county, since, limits) for item in items]


def _client(source: HttpSource, limits: PullLimits):
    """An httpx.Client on the county system: its bearer token, the request deadlines, no redirects, our TLS context."""
    import httpx

    return httpx.Client(base_url=source.base_url, headers={"Authorization": f"Bearer {source.token}"},
                        timeout=httpx.Timeout(limits.request_seconds, connect=limits.connect_seconds),
                        follow_redirects=False, verify=_tls_context())


def _pages(client, clock, county: County, since, limits: PullLimits):
    """The items of each listing page after `since` (None = all), page by page (the next is asked for only when the
    caller is done with one); PullError past limits.max_pages or for a malformed page (`_listing`)."""
    page, pages = 1, 0
    while page:
        pages += 1
        if pages > limits.max_pages:
            raise PullError(f"{county.label}: more than {limits.max_pages} pages of exports: stopped")
        params = {"page": page}
        if since is not None:
            params["updated_since"] = since.isoformat()
        body = _listing(clock.get_json(client, f"{API}/{county.code}/exports", params), county, page)
        yield body["items"]
        page = body["next_page"]


def pull_http(county: County, source: HttpSource, inbox: Path, url: str, timeout: float | None = None,
              limits: PullLimits | None = None) -> list[Path]:
    """Download every export generated after the watermark into `inbox`; return the new local folders.

    Trusts nothing it is told: export ids and file names must match the spec's patterns before any path is built;
    a downloaded manifest must name this county and the listed export id; every request and the whole pull have a
    deadline; pages are capped; 5xx answers and dropped connections are retried with backoff. Raises PullError
    (PermissionError for a refused token) naming the county and the reason."""
    limits = limits or PullLimits(request_seconds=timeout or PullLimits.request_seconds)
    export_re, _ = spec_patterns()
    since = get_watermark(url, county.code)
    fetched = []
    clock = _Deadline(county, limits)
    with _client(source, limits) as client:
        for items in _pages(client, clock, county, since, limits):
            for item in items:
                export_id = item["export_id"]
                if not export_re.fullmatch(export_id):
                    raise PullError(f"{county.label}: the listing names export {_excerpt(export_id)}, which is not an "
                                    "export id of the spec")
                if item.get("county_code") not in (None, county.code):
                    raise PullError(f"{county.label}: the listing's export {export_id} is of county "
                                    f"{_excerpt(item.get('county_code'))}")
                if (inbox / export_id).exists():
                    continue
                fetched.append(_download(client, clock, county, export_id, inbox))
    log.info("%s: pulled %d export(s) from %s", county.label, len(fetched), source.base_url)
    return fetched


def _listing(body, county: County, page: int) -> dict:
    """The listing page `body`, checked: {"items": [{"export_id": str, ...}], "next_page": int > page | null}."""
    def bad(why: str):
        return PullError(f"{county.label}: malformed answer to the exports listing (page {page}): {why}")

    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise bad("not an object with a list `items`")
    for item in body["items"]:
        if not isinstance(item, dict) or not isinstance(item.get("export_id"), str):
            raise bad("an item without a text `export_id`")
    nxt = body.get("next_page")
    if nxt is not None and (not isinstance(nxt, int) or isinstance(nxt, bool) or nxt <= page):
        raise bad(f"next_page {_excerpt(nxt)} does not come after page {page}")
    return {"items": body["items"], "next_page": nxt}


class _Deadline:
    """The pull's clock: each request gets what is left of both deadlines; 5xx and transport errors are retried."""

    def __init__(self, county: County, limits: PullLimits):
        import time

        self.county, self.limits, self._time = county, limits, time.monotonic
        self.pull_ends = self._time() + limits.pull_seconds

    def left(self, request_started: float | None = None) -> float:
        now = self._time()
        left = self.pull_ends - now
        if request_started is not None:
            left = min(left, request_started + self.limits.request_seconds - now)
        if left <= 0:
            what = "a request" if request_started is not None and self.pull_ends - now > 0 else "the pull"
            raise PullError(f"{self.county.label}: {what} passed its deadline "
                            f"({self.limits.request_seconds if what == 'a request' else self.limits.pull_seconds:g} s)")
        return left

    def call(self, fn):
        """fn() with retries on 5xx / transport errors (tenacity, exponential backoff within the pull's deadline)."""
        import httpx
        import tenacity

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, (httpx.TransportError, _ServerError)) and not isinstance(exc, httpx.ReadTimeout)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retryable),
            stop=tenacity.stop_after_attempt(self.limits.retries + 1) | tenacity.stop_before_delay(
                max(self.pull_ends - self._time(), 0)),
            wait=tenacity.wait_exponential(multiplier=self.limits.backoff_seconds, max=30),
            reraise=True,
        )
        try:
            return retrying(fn)
        except _ServerError as exc:
            raise PullError(f"{self.county.label}: {exc}") from None
        except httpx.TimeoutException:
            raise PullError(f"{self.county.label}: a request passed its deadline ({self.limits.request_seconds:g} s)") from None
        except httpx.TransportError as exc:
            raise PullError(f"{self.county.label}: the county system cannot be reached ({type(exc).__name__})") from None

    def get_json(self, client, path: str, params: dict):
        def once():
            started = self._time()
            resp = client.get(path, params=params, timeout=self._timeout(started))
            _raise_for(resp, self.county)
            return resp

        resp = self.call(once)
        try:
            return resp.json()
        except ValueError:
            raise PullError(f"{self.county.label}: malformed answer to {path}: not JSON") from None

    def _timeout(self, started: float):
        import httpx

        return httpx.Timeout(self.left(started), connect=min(self.limits.connect_seconds, self.left(started)))


def _download(client, clock: _Deadline, county: County, export_id: str, inbox: Path) -> Path:
    _, file_re = spec_patterns()
    base = f"{API}/{county.code}/exports/{export_id}"
    part = inbox / f".{export_id}.part"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)

    def get_manifest():
        started = clock._time()
        resp = client.get(f"{base}/manifest.json", timeout=clock._timeout(started))
        _raise_for(resp, county)
        return resp

    raw_manifest = clock.call(get_manifest).content
    try:
        manifest = json.loads(raw_manifest)
    except ValueError:
        manifest = {}  # kept as sent: the manifest check quarantines it with the reason
    if isinstance(manifest, dict) and manifest:
        if manifest.get("export_id") != export_id or manifest.get("county_code") != county.code:
            shutil.rmtree(part, ignore_errors=True)
            raise PullError(f"{county.label}: the manifest of listed export {export_id} says export "
                            f"{_excerpt(manifest.get('export_id'))} of county {_excerpt(manifest.get('county_code'))}")
    files = manifest.get("files", []) if isinstance(manifest, dict) else []
    for f in files if isinstance(files, list) else []:
        name = f.get("path") if isinstance(f, dict) else None
        if not isinstance(name, str) or not file_re.fullmatch(name):
            continue  # not a plain file name of the spec: the manifest check will name it; no path is built from it

        def get_file(name=name):
            started = clock._time()
            with client.stream("GET", f"{base}/files/{name}", timeout=clock._timeout(started)) as r:
                if r.status_code == 404:
                    return  # listed but absent: quarantined as file.missing with its name
                _raise_for(r, county)
                with (part / name).open("wb") as fh:
                    for chunk in r.iter_bytes():
                        clock.left(started)
                        fh.write(chunk)

        clock.call(get_file)
    # The manifest goes in last, as on a landing area: a folder with a manifest is complete.
    (part / "manifest.json").write_bytes(raw_manifest)
    dest = inbox / export_id
    part.rename(dest)
    return dest


@functools.cache
def _tls_context():
    """One TLS context per process (certifi's CAs, as httpx uses by default): building it costs seconds."""
    import ssl

    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class _ServerError(Exception):
    """A 5xx answer: retried, then reported."""


def _excerpt(value, limit: int = 80) -> str:
    """A value a county sent, for an error message: repr-escaped, at most `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _raise_for(resp, county: County) -> None:
    if resp.status_code == 401:
        raise PermissionError(f"{county.label}: the county system refused our token (HTTP 401)")
    if resp.status_code >= 500:
        raise _ServerError(f"{resp.request.method} {resp.request.url.path} → HTTP {resp.status_code}")
    if resp.status_code >= 400 or resp.status_code in range(300, 400):
        raise PullError(f"{county.label}: {resp.request.method} {resp.request.url.path} → HTTP {resp.status_code}")
