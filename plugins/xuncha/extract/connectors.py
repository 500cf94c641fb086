"""Connectors: bring a county's exports into its local inbox (landing/<code>/), where the pipeline takes them.

`fetch` copies (called only by xuncha.load.county_night.fetch); `nights_at_source` only asks which nights the source
holds (the arrival check: lists, downloads nothing).

- Local landing (the default): counties write straight into the inbox; nothing to fetch.
- Remote landing (`delivery: {landing: "s3://…" | "sftp://…" | "file://…"}`): export folders are listed and
  copied through Airflow's ObjectStoragePath (s3/sftp need their Airflow provider and a connection), then
  removed from the remote area once safely in the inbox.
- HTTP pull (`delivery: {http: {conn_id: …}}`): the county system's API is paged through for exports
  generated after the watermark kept in audit.watermarks. The watermark only moves once an export has been
  handled (see `advance_watermark`), so a failed night is pulled again; an export already quarantined is not
  pulled again while its manifest is unchanged (`already_quarantined`, audit.pulled_manifests). Every request
  and the whole pull end by their deadlines, however slowly the county system answers (xuncha.extract.pull_clock).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from xuncha.extract.pull_clock import PullClock, PullError, excerpt as _excerpt  # noqa: F401 (PullError: the API)
from xuncha.registry import County
from xuncha.warehouse import db

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
    clock = PullClock(county, limits)
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
        path = f"{API}/{county.code}/exports"
        try:
            body = json.loads(clock.get(client, path, params))
        except ValueError:
            raise PullError(f"{county.label}: malformed answer to {path}: not JSON") from None
        body = _listing(body, county, page)
        yield body["items"]
        page = body["next_page"]


def pull_http(county: County, source: HttpSource, inbox: Path, url: str, timeout: float | None = None,
              limits: PullLimits | None = None) -> list[Path]:
    """Download every export generated after the watermark into `inbox`; return the new local folders.

    Trusts nothing it is told: export ids and file names must match the spec's patterns before any path is built;
    a downloaded manifest must name this county and the listed export id; every request and the whole pull have a
    deadline, held however slowly the server sends (xuncha.extract.pull_clock); pages are capped; 5xx answers and
    dropped connections are retried with backoff; an export quarantined before whose manifest has not changed is
    not pulled again (`already_quarantined`). Raises PullError
    (PermissionError for a refused token) naming the county and the reason."""
    limits = limits or PullLimits(request_seconds=timeout or PullLimits.request_seconds)
    export_re, _ = spec_patterns()
    since = get_watermark(url, county.code)
    fetched = []
    clock = PullClock(county, limits)
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
                got = _download(client, clock, county, export_id, inbox, url)
                if got is not None:
                    fetched.append(got)
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


def already_quarantined(url: str, county_code: str, export_id: str, manifest_sha256: str) -> bool:
    """Was this export pulled with this very manifest (SHA-256 of its bytes; it lists every file's SHA-256) and is its
    newest batch `quarantined`? Then pulling it again would only quarantine and alert it again (issue 28: an export
    stamped in the future is listed every night); a changed manifest, or a batch that failed, is pulled again."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT (SELECT status FROM audit.batches WHERE county_code = %(c)s AND export_id = %(e)s
                                ORDER BY batch_id DESC LIMIT 1) = 'quarantined'
                          AND EXISTS (SELECT 1 FROM audit.pulled_manifests WHERE county_code = %(c)s
                                         AND export_id = %(e)s AND manifest_sha256 = %(m)s)""",
                    {"c": county_code, "e": export_id, "m": manifest_sha256})
        return bool(cur.fetchone()[0])


def _record_pulled(url: str, county_code: str, export_id: str, manifest_sha256: str) -> None:
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO audit.pulled_manifests (county_code, export_id, manifest_sha256) VALUES (%s, %s, %s)
                       ON CONFLICT DO NOTHING""", (county_code, export_id, manifest_sha256))


def _download(client, clock: PullClock, county: County, export_id: str, inbox: Path, url: str) -> Path | None:
    """One listed export into `inbox`/<export_id> (via a `.part` folder; the manifest written last); None when it is
    `already_quarantined` with the same manifest (nothing but its manifest is fetched)."""
    _, file_re = spec_patterns()
    base = f"{API}/{county.code}/exports/{export_id}"
    raw_manifest = clock.get(client, f"{base}/manifest.json")
    digest = hashlib.sha256(raw_manifest).hexdigest()
    if already_quarantined(url, county.code, export_id, digest):
        log.info("%s: export %s is unchanged since it was quarantined: not pulled again", county.label, export_id)
        return None
    try:
        manifest = json.loads(raw_manifest)
    except ValueError:
        manifest = {}  # kept as sent: the manifest check quarantines it with the reason
    if isinstance(manifest, dict) and manifest:
        if manifest.get("export_id") != export_id or manifest.get("county_code") != county.code:
            raise PullError(f"{county.label}: the manifest of listed export {export_id} says export "
                            f"{_excerpt(manifest.get('export_id'))} of county {_excerpt(manifest.get('county_code'))}")
    part = inbox / f".{export_id}.part"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    files = manifest.get("files", []) if isinstance(manifest, dict) else []
    for f in files if isinstance(files, list) else []:
        name = f.get("path") if isinstance(f, dict) else None
        if not isinstance(name, str) or not file_re.fullmatch(name):
            continue  # not a plain file name of the spec: the manifest check will name it; no path is built from it
        clock.get(client, f"{base}/files/{name}", into=part / name)   # a 404: file.missing, by the manifest check
    # The manifest goes in last, as on a landing area: a folder with a manifest is complete.
    (part / "manifest.json").write_bytes(raw_manifest)
    dest = inbox / export_id
    part.rename(dest)
    _record_pulled(url, county.code, export_id, digest)
    return dest


@functools.cache
def _tls_context():
    """One TLS context per process (certifi's CAs, as httpx uses by default): building it costs seconds."""
    import ssl

    import certifi

    return ssl.create_default_context(cafile=certifi.where())
