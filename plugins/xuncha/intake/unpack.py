"""Unpacking a pushed export within bounds (推送解包): the intake's limits, and tar / zip / form files written into a
private folder without ever writing, or decompressing, more than the limits allow.

The bounds (docs/security.md, issue 28), each an environment variable read by `intake_limits`:

| bound | variable | default |
|---|---|---|
| body bytes on the wire (chunked or not) | XUNCHA_PUSH_MAX_BYTES | 200 MiB |
| bytes of the export's files once unpacked | XUNCHA_PUSH_MAX_UNPACKED_BYTES | 1 GiB |
| files in one push (manifest included) | XUNCHA_PUSH_MAX_FILES | 64 |
| the whole body must arrive within (s) | XUNCHA_PUSH_BODY_SECONDS | 900 |
| a request's head must arrive within (s; `xuncha intake serve`) | XUNCHA_PUSH_HEADER_SECONDS | 10 |

A tar (plain, gzip, bzip2 or xz) is read as a stream (`tarfile` mode "r|") through a counter of decompressed
bytes: each member's name, type and declared size are checked against the bounds when its header is read,
before a byte of it is written, and no header or pax record can make `tarfile` decompress more than the bound
either (a pax header is read into memory whole). A zip's central directory (count, declared sizes) is checked
before anything is written, and every copy counts the bytes it really writes. Every refusal is `Refused` with
the HTTP status (413 for a bound, 400 for a malformed archive or name) and a message naming the limit.
Runs in a worker thread (xuncha.intake.server), never on the event loop.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from xuncha.settings import get_settings

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
COPY_CHUNK = 1024 * 1024
TAR_SLACK = 1024 * 1024
"""Decompressed bytes a tar may hold beyond its files: headers (512 bytes and padding per member), the end blocks
and record padding; pax records longer than this count against the bound."""


class Refused(Exception):
    """A push refused before anything was written: HTTP status and a clear message (English + 中文)."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems or []


@dataclass(frozen=True)
class IntakeLimits:
    """The push intake's bounds (see the module doc): bytes, file count, seconds."""

    max_bytes: int = 200 * 1024 * 1024
    max_unpacked_bytes: int = 1024 * 1024 * 1024
    max_files: int = 64
    body_seconds: float = 900.0
    header_seconds: float = 10.0


DEFAULTS = IntakeLimits()

_VARS = {"max_bytes": "XUNCHA_PUSH_MAX_BYTES", "max_unpacked_bytes": "XUNCHA_PUSH_MAX_UNPACKED_BYTES",
         "max_files": "XUNCHA_PUSH_MAX_FILES", "body_seconds": "XUNCHA_PUSH_BODY_SECONDS",
         "header_seconds": "XUNCHA_PUSH_HEADER_SECONDS"}


def intake_limits() -> IntakeLimits:
    """The bounds as the environment says now (unset = DEFAULTS). ValueError naming the variable for a value that
    is not a positive number (an integer for bytes and files)."""
    settings = get_settings()
    raw = dict(settings.push_limits)
    if settings.push_max_bytes is not None:
        raw["XUNCHA_PUSH_MAX_BYTES"] = settings.push_max_bytes
    values = {}
    for field, var in _VARS.items():
        if var not in raw:
            continue
        kind = float if field.endswith("seconds") else int
        try:
            value = kind(raw[var])
        except ValueError:
            raise ValueError(f"{var}={raw[var]!r}: not a {'number' if kind is float else 'whole number'}") from None
        if value <= 0:
            raise ValueError(f"{var}={raw[var]!r}: must be more than 0")
        values[field] = value
    return IntakeLimits(**values)


def plain(name: str) -> str:
    """`name` if it is a plain file name (no folder, no '..', spec characters only); Refused(400) otherwise."""
    if not NAME.match(name) or ".." in name:
        raise Refused(400, f"file name {name!r} is not a plain file name (no folders, no '..') (文件名不合法)")
    return name


def mb(n: int) -> str:
    """`n` bytes as a county reads a limit: "200 MB" (MiB, one decimal below 10)."""
    v = n / (1 << 20)
    return f"{v:.1f} MB" if v < 10 else f"{v:,.0f} MB"


def too_many(limits: IntakeLimits) -> Refused:
    """The refusal of a push with more files than XUNCHA_PUSH_MAX_FILES."""
    return Refused(413, f"more than {limits.max_files} files in one push (XUNCHA_PUSH_MAX_FILES) (文件数超过上限)")


def too_big_unpacked(limits: IntakeLimits) -> Refused:
    """The refusal of a push whose files would unpack to more than XUNCHA_PUSH_MAX_UNPACKED_BYTES."""
    return Refused(413, f"the export unpacks to more than {mb(limits.max_unpacked_bytes)} ({limits.max_unpacked_bytes} "
                        f"bytes; the platform's XUNCHA_PUSH_MAX_UNPACKED_BYTES): send the nights as separate exports "
                        f"(解压后超过 {mb(limits.max_unpacked_bytes)} 的大小上限：请分批发送)")


class _Counted:
    """A read-only stream over `raw` that raises `refusal` once more than `cap` bytes were read from it."""

    def __init__(self, raw, cap: int, refusal: Refused):
        self.raw, self.cap, self.refusal, self.count = raw, cap, refusal, 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(min(size, self.cap + 1 - self.count) if size is not None and size >= 0
                             else self.cap + 1 - self.count)
        self.count += len(data)
        if self.count > self.cap:
            raise self.refusal
        return data


def copy_bounded(src, dest: Path, budget: int, limits: IntakeLimits) -> int:
    """Copy the stream `src` into a new file `dest` (Refused(400) if it exists), at most `budget` bytes
    (too_big_unpacked past it: the partial file is removed). Returns the bytes written."""
    written = 0
    try:
        with dest.open("xb") as fh:
            while chunk := src.read(COPY_CHUNK):
                written += len(chunk)
                if written > budget:
                    raise too_big_unpacked(limits)
                fh.write(chunk)
    except FileExistsError:
        raise Refused(400, f"file {dest.name!r} appears twice (文件重复)") from None
    except Refused:
        dest.unlink(missing_ok=True)
        raise
    return written


def _decompressed(raw):
    """`raw` (a binary file at 0) as its decompressed stream, by magic number: gzip, bzip2, xz, or as it is."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw, mode="rb")
    return raw


def unpack_tar(path: Path, into: Path, limits: IntakeLimits = DEFAULTS) -> int:
    """Extract the tar at `path` (plain, .gz, .bz2 or .xz) into `into`, regular top-level files only, within
    `limits`; returns the bytes written. Refused(400) for folders, links, devices, traversal, a name twice or an
    unreadable archive; Refused(413) at the first member past XUNCHA_PUSH_MAX_FILES or past
    XUNCHA_PUSH_MAX_UNPACKED_BYTES (declared size, checked before the member is written), or when the decompressed
    stream itself passes the bound (a bomb of headers)."""
    total = count = 0
    try:
        with path.open("rb") as raw, _decompressed(raw) as plain_stream:
            stream = _Counted(plain_stream, limits.max_unpacked_bytes + TAR_SLACK + 1024 * limits.max_files,
                              too_big_unpacked(limits))
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    name = member.name.removeprefix("./")
                    if member.isdir() and name in ("", "."):
                        continue
                    if not member.isfile():
                        raise Refused(400, f"tar member {member.name!r} is not a regular file (链接或目录不允许)")
                    plain(name)
                    count += 1
                    if count > limits.max_files:
                        raise too_many(limits)
                    if total + member.size > limits.max_unpacked_bytes:
                        raise too_big_unpacked(limits)
                    total += copy_bounded(tar.extractfile(member), into / name, member.size, limits)
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise Refused(400, f"not a readable tar: {exc} (压缩包无法读取)") from None
    return total


def unpack_zip(path: Path, into: Path, limits: IntakeLimits = DEFAULTS) -> int:
    """Extract the zip at `path` into `into`, regular top-level files only, within `limits`; returns the bytes
    written. The member count and the sum of declared sizes are checked before anything is written (413 naming
    the bound), each copy stops at its declared size's budget; Refused(400) for folders, links, traversal,
    encrypted members or an unreadable zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_files:
                raise too_many(limits)
            for info in infos:
                if info.is_dir() or stat.S_ISLNK(info.external_attr >> 16):
                    raise Refused(400, f"zip member {info.filename!r} is not a regular file (链接或目录不允许)")
                plain(info.filename)
            if sum(i.file_size for i in infos) > limits.max_unpacked_bytes:
                raise too_big_unpacked(limits)
            total = 0
            for info in infos:
                with zf.open(info) as src:
                    total += copy_bounded(src, into / info.filename, limits.max_unpacked_bytes - total, limits)
            return total
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, OSError, EOFError, zlib.error,
            NotImplementedError) as exc:
        raise Refused(400, f"not a readable zip: {exc} (压缩包无法读取)") from None


def save_form_files(files: list, into: Path, limits: IntakeLimits = DEFAULTS) -> int:
    """Write the form's files ([(file name, binary stream)], spooled by the form parser) into `into`; returns the
    bytes written. Refused(400) for a name that is not plain or given twice, too_many past XUNCHA_PUSH_MAX_FILES."""
    if len(files) > limits.max_files:
        raise too_many(limits)
    total = 0
    for name, src in files:
        src.seek(0)
        total += copy_bounded(src, into / plain(name or ""), limits.max_unpacked_bytes - total, limits)
    return total
