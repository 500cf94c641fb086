"""Receiving a push's body within bounds (推送接收): bytes counted and a deadline kept while the body streams in.

`BodyGuard` wraps the ASGI `receive` of one request: every body chunk is counted as it arrives, and the request is
refused (413, naming XUNCHA_PUSH_MAX_BYTES) at the first chunk past the limit, chunked or not — nothing past it is
read, buffered or spooled; the whole body must have arrived within XUNCHA_PUSH_BODY_SECONDS of the handler's start
(408 otherwise), however slowly it drips. The same guard feeds the tar/zip stream and the multipart form parser.
Unpacking, copying and hashing then run in a worker thread (`unpack_in_thread`), so the event loop keeps answering
other counties' requests meanwhile. The deadline applies wherever the app runs (`xuncha intake serve` or mounted in
the Airflow API server); the head's deadline belongs to the server (xuncha.intake.serve).
"""

from __future__ import annotations

from pathlib import Path

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from xuncha.intake.unpack import IntakeLimits, Refused, mb, save_form_files, too_many, unpack_tar, unpack_zip

TAR_TYPES = ("application/x-tar", "application/tar", "application/gzip", "application/x-gzip",
             "application/x-bzip2", "application/x-xz")
ZIP_TYPES = ("application/zip", "application/x-zip-compressed")


def too_large(limits: IntakeLimits) -> Refused:
    """The refusal of a body longer than XUNCHA_PUSH_MAX_BYTES."""
    return Refused(413, f"push larger than {mb(limits.max_bytes)} ({limits.max_bytes} bytes; the platform's "
                        f"XUNCHA_PUSH_MAX_BYTES): compress it (tar.gz, zip) or send the nights as separate exports "
                        f"(超过 {mb(limits.max_bytes)} 的大小上限：请压缩后发送或分批发送)")


class BodyGuard:
    """An ASGI `receive` counting body bytes (Refused 413 past `limits.max_bytes`) and keeping the body's deadline
    (Refused 408 once `limits.body_seconds` from construction have passed, even mid-chunk)."""

    def __init__(self, receive, limits: IntakeLimits):
        self.receive, self.limits, self.size = receive, limits, 0
        self.ends = anyio.current_time() + limits.body_seconds

    async def __call__(self):
        left = self.ends - anyio.current_time()
        try:
            if left <= 0:
                raise TimeoutError
            with anyio.fail_after(left):
                message = await self.receive()
        except TimeoutError:
            raise Refused(408, f"the push's body did not arrive within {self.limits.body_seconds:g} s "
                               "(XUNCHA_PUSH_BODY_SECONDS) (上传超时)") from None
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limits.max_bytes:
                raise too_large(self.limits)
        return message


async def receive_export(request: Request, work: Path, folder: Path, limits: IntakeLimits) -> int:
    """Receive the body of `request` into `folder` (multipart files, a tar — plain, gzip, bzip2, xz — or a zip)
    within `limits`; returns the body's size in bytes. Refused on a bound, a bad name or an unknown content type
    (415). The archive is written to `work` as it streams in (never more than XUNCHA_PUSH_MAX_BYTES) and unpacked
    in a worker thread."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if int(request.headers.get("content-length") or 0) > limits.max_bytes:
        raise too_large(limits)                     # before a byte is read (and before `100 Continue`)
    guard = BodyGuard(request.receive, limits)
    guarded = Request(request.scope, guard)
    if kind == "multipart/form-data":
        try:
            form = await guarded.form(max_files=limits.max_files, max_fields=100)
        except HTTPException as exc:        # past max_files, or malformed: refused, the rest of it never read
            if "too many files" in str(exc.detail).lower():
                raise too_many(limits) from None
            raise Refused(400, f"not a readable multipart form: {exc.detail} (表单无法读取)") from None
        try:
            files = [(item.filename, item.file) for _, item in form.multi_items() if not isinstance(item, str)]
            if len(files) > limits.max_files:
                raise too_many(limits)
            await run_in_threadpool(save_form_files, files, folder, limits)
        finally:
            await form.close()
        return guard.size
    if kind in TAR_TYPES or kind in ZIP_TYPES:
        archive = work / "push.archive"
        with archive.open("wb") as fh:
            async for chunk in guarded.stream():
                fh.write(chunk)
        await run_in_threadpool(unpack_zip if kind in ZIP_TYPES else unpack_tar, archive, folder, limits)
        return guard.size
    raise Refused(415, "send multipart/form-data, application/x-tar (may be gzip, bzip2 or xz) or application/zip "
                       "(请求格式不支持)")
