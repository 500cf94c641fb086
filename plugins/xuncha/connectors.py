"""Connectors: bring a county's exports into its local inbox (landing/<code>/), where the pipeline takes them.

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
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from xuncha import db
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


# -- remote landing areas ------------------------------------------------------------------------------

def is_remote(county: County) -> bool:
    target = str(county.delivery.get("landing", "default"))
    return "://" in target


def fetch_remote_landing(county: County, inbox: Path) -> list[Path]:
    """Copy every export folder of a remote landing area into `inbox`; return the new local folders."""
    from airflow.sdk import ObjectStoragePath

    remote = ObjectStoragePath(county.delivery["landing"])
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
                f.copy(ObjectStoragePath(f"file://{part / f.name}"))
        part.rename(dest)
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
        fetched.append(dest)
    return fetched


# -- HTTP pull -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HttpSource:
    base_url: str
    token: str


def http_source(conn_id: str) -> HttpSource:
    """URL and bearer token of a county system, from its Airflow connection (host/port/schema, password = token)."""
    from airflow.sdk import Connection

    conn = Connection.get(conn_id)
    host = conn.host or ""
    if "://" not in host:
        host = f"{conn.schema or 'http'}://{host}" + (f":{conn.port}" if conn.port else "")
    if not conn.password:
        raise ValueError(f"connection {conn_id}: the county system's token goes in the password field")
    return HttpSource(host.rstrip("/"), conn.password)


def get_watermark(url: str, county_code: str) -> dt.datetime | None:
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT watermark FROM audit.watermarks WHERE county_code = %s", (county_code,))
        row = cur.fetchone()
        return row[0] if row else None


def advance_watermark(url: str, county_code: str, generated_at: dt.datetime, export_id: str) -> None:
    """Move the watermark forward (never back) once an export has been handled."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO audit.watermarks (county_code, watermark, export_id) VALUES (%s, %s, %s)
               ON CONFLICT (county_code) DO UPDATE SET watermark = EXCLUDED.watermark, export_id = EXCLUDED.export_id,
                                                       updated_at = now()
               WHERE audit.watermarks.watermark < EXCLUDED.watermark""",
            (county_code, generated_at, export_id),
        )


def pull_http(county: County, source: HttpSource, inbox: Path, url: str, timeout: float = 60) -> list[Path]:
    """Download every export generated after the watermark into `inbox`; return the new local folders."""
    import httpx

    since = get_watermark(url, county.code)
    headers = {"Authorization": f"Bearer {source.token}"}
    fetched = []
    with httpx.Client(base_url=source.base_url, headers=headers, timeout=timeout) as client:
        page = 1
        while page:
            params = {"page": page}
            if since is not None:
                params["updated_since"] = since.isoformat()
            resp = client.get(f"{API}/{county.code}/exports", params=params)
            _raise_for(resp, county)
            body = resp.json()
            for item in body["items"]:
                dest = inbox / item["export_id"]
                if dest.exists():
                    continue
                fetched.append(_download(client, county, item["export_id"], inbox))
            page = body.get("next_page")
    log.info("%s: pulled %d export(s) from %s", county.label, len(fetched), source.base_url)
    return fetched


def _download(client, county: County, export_id: str, inbox: Path) -> Path:
    base = f"{API}/{county.code}/exports/{export_id}"
    part = inbox / f".{export_id}.part"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    resp = client.get(f"{base}/manifest.json")
    _raise_for(resp, county)
    raw_manifest = resp.content
    try:
        manifest = json.loads(raw_manifest)
    except ValueError:
        manifest = {}  # kept as sent: the manifest check quarantines it with the reason
    for f in manifest.get("files", []):
        name = Path(str(f.get("path", ""))).name
        if not name or name != f.get("path"):
            continue  # not a plain file name: the manifest check will name it
        with client.stream("GET", f"{base}/files/{name}") as r:
            if r.status_code == 404:
                continue  # listed but absent: quarantined as file.missing with its name
            _raise_for(r, county)
            with (part / name).open("wb") as fh:
                for chunk in r.iter_bytes(1 << 20):
                    fh.write(chunk)
    # The manifest goes in last, as on a landing area: a folder with a manifest is complete.
    (part / "manifest.json").write_bytes(raw_manifest)
    dest = inbox / export_id
    part.rename(dest)
    return dest


def _raise_for(resp, county: County) -> None:
    if resp.status_code == 401:
        raise PermissionError(f"{county.label}: the county system refused our token (HTTP 401)")
    if resp.status_code >= 400:
        raise RuntimeError(f"{county.label}: {resp.request.method} {resp.request.url} → HTTP {resp.status_code}")
