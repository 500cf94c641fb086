"""Push intake (推送接收): county systems push one export over HTTP; the platform checks it before anything is written.

    POST /exports            Authorization: Bearer <county token>; body: multipart/form-data (manifest.json and each
                             file as a form file), application/x-tar (one export folder's files at the tar's top
                             level; plain, gzip, bzip2 or xz) or application/zip (the same files)
    GET  /exports/{id}       the export's state (received | loaded | duplicate | quarantined | failed) and report

The token names the county (`xuncha push-token CODE` makes one; only its SHA-256 is stored, audit.push_tokens). Before
anything reaches the county's landing area the export is received and unpacked into a private temporary folder
within bounds (xuncha.intake.receive, xuncha.intake.unpack: body bytes counted while they stream in, chunked or not;
files and unpacked bytes bounded before they are written; a body deadline; 413/408 naming the limit), then checked:
plain file names only (no folders, links or `..`: 400), the manifest against the spec and the token's county
(another county's code: 403), every file's SHA-256 and row-count declaration (422, with the problems). Only then is
the folder renamed into landing/<code>/<export id>/ (the county DAGs ignore names starting with "."), the receipt
recorded (audit.pushes) and a run of the county's DAG (xuncha_county_<code>)
triggered for the export's night. A refused push
leaves nothing behind. Unpacking, hashing and database work run in a worker thread, off the event loop.

GET /exports/{id} answers for the token's county only, pushed or pulled: a pulled county's rejection report is
served the same way, without the platform's Data Docs link (operators open it in the Airflow UI: a county
receives no platform path). `app()` is mounted in the Airflow API server by plugins/xuncha_intake_plugin.py
(at /xuncha-intake) and runs on its own with `xuncha intake serve`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import shutil
import tempfile
from pathlib import Path

from fastapi import Header, Request  # at module level: the routes' annotations are resolved here
from starlette.concurrency import run_in_threadpool

from xuncha.intake.receive import receive_export
from xuncha.intake.unpack import Refused, intake_limits, plain, unpack_tar  # noqa: F401 (plain, unpack_tar: the API)
from xuncha.settings import get_settings
from xuncha.warehouse import db

log = logging.getLogger(__name__)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(code: str, url: str | None = None) -> str:
    """Make (or replace) county `code`'s push token; returns it (shown once: only its SHA-256 is kept)."""
    from xuncha import registry

    registry.default().get(code)
    token = secrets.token_urlsafe(32)
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO audit.push_tokens (county_code, token_sha256) VALUES (%s, %s)
                       ON CONFLICT (county_code) DO UPDATE SET token_sha256 = EXCLUDED.token_sha256, created_at = now()""",
                    (code, _sha(token)))
    return token


def county_of_token(authorization: str | None, url: str | None = None) -> str:
    """The county a bearer token belongs to; Refused(401) for none or a wrong one."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Refused(401, "missing bearer token (缺少令牌)")
    digest = _sha(authorization.removeprefix("Bearer ").strip())
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT county_code, token_sha256 FROM audit.push_tokens")
        for code, stored in cur.fetchall():
            if hmac.compare_digest(stored, digest):
                return code
    raise Refused(401, "wrong token (令牌无效)")


def max_bytes() -> int:
    """Largest pushed upload, in bytes: XUNCHA_PUSH_MAX_BYTES, else 200 MiB (xuncha.intake.unpack.intake_limits);
    ValueError naming the variable for a bad value."""
    return intake_limits().max_bytes


# The receipt's word when no run was started for the push (run_id null): said plainly, never a silent null.
NOTE_NO_TRIGGER = ("received; the platform loads it at its next nightly run (自动触发未启用: this intake does not "
                   "start runs)")
NOTE_TRIGGER_FAILED = ("received; the run could not be started now, the platform loads it at its next nightly run "
                       "(自动触发失败，已安全接收)")


def accept(folder: Path, county_code: str, size: int, url: str | None = None, trigger=None) -> dict:
    """Check an unpacked export in a private `folder` for the token's county and move it into the landing area.

    Returns the receipt. Raises Refused (nothing written to the landing area) when a check fails."""
    from xuncha import registry
    from xuncha.extract import manifest as manifest_mod

    reg = registry.default()
    county = reg.get(county_code)
    manifest, problems = manifest_mod.read(folder)
    if manifest is None:
        raise Refused(422, "manifest.json missing or invalid (导出清单缺失或无效)", [str(p) for p in problems])
    if manifest.county_code != county_code:
        raise Refused(403, f"manifest is for county {manifest.county_code}, the token is {county.label}'s "
                           "(不能代其他县区推送)")
    if problems:
        raise Refused(422, "manifest does not follow the export spec (导出清单不符合规范)", [str(p) for p in problems])
    listed = {f.path for f in manifest.files} | {"manifest.json"}
    extra = sorted(p.name for p in folder.iterdir() if p.name not in listed)
    if extra:
        raise Refused(422, f"files not in the manifest: {', '.join(extra)} (清单外的文件)")
    actual, problems = manifest_mod.check_files(manifest, folder, county_code)
    if problems:
        raise Refused(422, "files do not match the manifest (文件与清单不符)", [str(p) for p in problems])
    landing = county.landing_dir(get_settings().landing)
    landing.mkdir(parents=True, exist_ok=True)
    dest = landing / manifest.export_id
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM audit.pushes WHERE county_code = %s AND export_id = %s", (county_code, manifest.export_id))
        if cur.fetchone() is not None or dest.exists():
            raise Refused(409, f"export {manifest.export_id} was already received (重复推送)")
    part = landing / f".{manifest.export_id}.push"
    shutil.rmtree(part, ignore_errors=True)
    shutil.copytree(folder, part)
    part.rename(dest)            # complete or absent: the DAG never sees half an export
    received = dt.datetime.now(dt.timezone.utc)
    files = [{"path": f.path, "sha256": actual.get(f.path), "bytes": (dest / f.path).stat().st_size} for f in manifest.files]
    run_id, note = None, NOTE_NO_TRIGGER
    if trigger is not None:
        try:
            run_id = trigger(county_code, manifest.business_date, manifest.export_id)
            note = None if run_id else NOTE_TRIGGER_FAILED
        except Exception as exc:  # the export is safely landed: the scheduled run takes it
            log.error("%s: could not trigger the run for %s: %s", county.label, manifest.export_id, exc)
            note = NOTE_TRIGGER_FAILED
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO audit.pushes (county_code, export_id, business_date, received_at, bytes, files, run_id)
                       VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                    (county_code, manifest.export_id, manifest.business_date, received, size, json.dumps(files), run_id))
    return {"export_id": manifest.export_id, "county_code": county_code, "county": county.label,
            "business_date": manifest.business_date.isoformat(), "received_at": received.isoformat(), "bytes": size,
            "files": files, "state": "received", "run_id": run_id, "status_url": f"exports/{manifest.export_id}",
            **({"note": note} if note else {})}


def state(county_code: str, export_id: str, url: str | None = None) -> dict | None:
    """The export's newest state for the county (pushed or pulled), with the quarantine report; None if unknown."""
    from xuncha import registry

    lineage = list(registry.default().lineage(county_code))
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT status, business_date, loaded_rows, error, report_path, finished_at FROM audit.batches
                        WHERE county_code = ANY(%s) AND export_id = %s ORDER BY batch_id DESC LIMIT 1""", (lineage, export_id))
        row = cur.fetchone()
        cur.execute("SELECT received_at, files FROM audit.pushes WHERE county_code = %s AND export_id = %s", (county_code, export_id))
        push = cur.fetchone()
    if row is None and push is None:
        return None
    out = {"export_id": export_id, "county_code": county_code,
           "received_at": push[0].isoformat() if push else None, "state": "received", "report": None}
    if row is not None:
        status, day, rows, error, report_path, finished = row
        out.update(state=status, business_date=day.isoformat() if day else None, loaded_rows=rows, error=error,
                   finished_at=finished.isoformat() if finished else None)
        if report_path and Path(report_path).with_suffix(".json").is_file():
            report = json.loads(Path(report_path).with_suffix(".json").read_text(encoding="utf-8"))
            report.pop("data_docs", None)     # the platform's Data Docs: for operators, never sent to a county
            out["report"] = report
    return out



def app(url: str | None = None, trigger=None, triggers: bool = True):
    """The FastAPI app (see the module doc). `url`: the warehouse (default: from the settings / Airflow connection);
    `trigger(county_code, night, export_id) -> run id`: starts the county's run (default: a run of its DAG
    xuncha_county_<code>, xuncha.orchestration.nightly.trigger_push_run). `triggers=False` (`xuncha intake serve`
    without Airflow): no run is started; the receipt's `note` says the county's scheduled run loads the export
    (NOTE_NO_TRIGGER)."""
    if not triggers:
        trigger = None
    elif trigger is None:
        from xuncha.orchestration.nightly import trigger_push_run as trigger
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    api = FastAPI(title="Xuncha push intake 推送接收", version="1")

    def warehouse() -> str:
        if url:
            return url
        from xuncha.orchestration.env import warehouse_url_from_airflow

        return warehouse_url_from_airflow()

    @api.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        # A refused push: Connection: close — the rest of its body is never read (uvicorn would otherwise drain it).
        return JSONResponse({"error": exc.message, "problems": exc.problems}, status_code=exc.status,
                            headers={"Connection": "close"} if request.method == "POST" else None)

    @api.post("/exports", status_code=201)
    async def push(request: Request, authorization: str | None = Header(None)):
        # Everything that blocks (database, unpacking, hashing, copying) runs in a worker thread: the event loop
        # keeps serving other counties meanwhile (issue 28).
        wh = await run_in_threadpool(warehouse)
        code = await run_in_threadpool(county_of_token, authorization, wh)
        limits = intake_limits()
        work = Path(tempfile.mkdtemp(prefix="xuncha-push-"))
        try:
            folder = work / "export"
            folder.mkdir()
            size = await receive_export(request, work, folder, limits)
            return await run_in_threadpool(accept, folder, code, size, wh, trigger)
        finally:
            await run_in_threadpool(shutil.rmtree, work, True)

    @api.get("/exports/{export_id}")
    def get_export(export_id: str, authorization: str | None = Header(None)):
        wh = warehouse()
        code = county_of_token(authorization, wh)
        found = state(code, export_id, wh)
        if found is None:
            raise Refused(404, f"no export {export_id} of county {code} (未找到)")
        return found

    return api
