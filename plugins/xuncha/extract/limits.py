"""Size limits of an export (export spec §10.2), checked before the expensive work.

Each limit is stated in docs/export-spec.md with its rule. They bound what one export can cost the platform
(disk, memory, time) and what a report or alert can quote (text.excerpt):

| limit | value | checked | rule |
|---|---|---|---|
| `rows` of one file (manifest) | 50,000,000 | manifest schema, before anything is read | `manifest.schema` |
| bytes of one file | 4 GiB | `stat`, before its SHA-256 is computed | `file.size` |
| bytes of one export (all files) | 16 GiB | `stat`, before any SHA-256 | `file.size` |
| XLSX: uncompressed bytes of the workbook | 1 GiB | zip directory, before the workbook is opened | `file.size` |
| XLSX: compression ratio of any part | 200 : 1 | zip directory, before the workbook is opened | `file.size` |
| JSON Lines: bytes of one line | 1 MiB | while reading, before the line is parsed | `file.format` |
| a value | the column's `max_length` (§5) | validation | `row.invalid` |
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from xuncha.errors import Problem

MAX_ROWS = 50_000_000          # also manifest.schema.json files[].rows maximum
MAX_FILE_BYTES = 4 << 30
MAX_EXPORT_BYTES = 16 << 30
MAX_XLSX_UNCOMPRESSED = 1 << 30
MAX_XLSX_RATIO = 200
MAX_JSONL_LINE = 1 << 20


def check_sizes(files: list[tuple[str, Path]]) -> list[Problem]:
    """Per file and per export byte limits, from `stat` (nothing is read). `files`: (name, path) that exist."""
    problems, total = [], 0
    for name, path in files:
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES:
            problems.append(Problem("file.size", f"file is {size:,} bytes; at most {MAX_FILE_BYTES:,} per file (§10.2)",
                                    file=name, value=str(size)))
    if total > MAX_EXPORT_BYTES:
        problems.append(Problem("file.size", f"the export's files are {total:,} bytes; at most {MAX_EXPORT_BYTES:,} "
                                "per export (§10.2)", file="manifest.json", value=str(total)))
    return problems


def check_xlsx_archive(path: Path, name: str) -> list[Problem]:
    """An XLSX is a zip: bound its uncompressed size and every part's ratio before it is opened (zip bombs)."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        return [Problem("file.format", f"not a readable XLSX workbook (not a zip archive): {exc}", file=name)]
    for i in infos:
        if i.file_size > 1 << 20 and i.file_size > MAX_XLSX_RATIO * max(i.compress_size, 1):
            return [Problem("file.size", f"part {i.filename} is compressed {i.file_size // max(i.compress_size, 1):,} : 1; "
                            f"at most {MAX_XLSX_RATIO} : 1 (§10.2)", file=name, value=i.filename)]
    total = sum(i.file_size for i in infos)
    if total > MAX_XLSX_UNCOMPRESSED:
        return [Problem("file.size", f"workbook unpacks to {total:,} bytes; at most {MAX_XLSX_UNCOMPRESSED:,} (§10.2)",
                        file=name, value=str(total))]
    return []
