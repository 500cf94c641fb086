"""Parsing export files into a staging table (the "write" of write-audit-publish).

Each file is streamed into its own staging table `staging.b<batch>_<entity>`: every spec column as text
plus `row_no`, the data row's number in the file (1 = first row after the header). Nothing is typed
here; Great Expectations audits the staged text (validation.py) and the merge casts it (loading.py).

- CSV without person columns goes byte-for-byte into PostgreSQL's COPY, which decodes UTF-8 or GB18030
  itself: the fastest path there is, and memory stays flat whatever the file size.
- XLSX (openpyxl, read-only streaming), JSON Lines, and CSV of entities with person columns pass
  through Python row by row, in chunks, so person references are replaced by their keyed hash before
  anything reaches the warehouse.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from psycopg2 import sql

from xuncha.errors import Problem
from xuncha.privacy import PersonHasher
from xuncha.spec import Entity

PG_ENCODING = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "gb18030": "GB18030"}
_COPY_CONTEXT = re.compile(r"line (\d+)(?:, column (\w+))?")
_CHUNK_ROWS = 5000


class StagingFailed(Exception):
    """A file could not be staged; `problems` say where and why (file.format, file.encoding, file.columns, person.clear)."""
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


def staging_table(batch_id: int, entity: str) -> sql.Composed:
    """`staging.b<batch>_<entity>`: the staging table of one file of one batch."""
    return sql.SQL("staging.{}").format(sql.Identifier(f"b{batch_id}_{entity}"))


def create_staging(cur, batch_id: int, entity: Entity) -> sql.Composed:
    """(Re)create the file's staging table: row_no plus every spec column as text; returns its name."""
    table = staging_table(batch_id, entity.name)
    cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in entity.column_names)
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    cur.execute(sql.SQL("CREATE UNLOGGED TABLE {} (row_no bigint GENERATED ALWAYS AS IDENTITY, {})").format(table, cols))
    return table


def stage_file(conn, batch_id: int, entity: Entity, path: Path, fmt: str, encoding: str | None,
               hasher: PersonHasher | None = None) -> int:
    """Stream one file into its staging table; returns the rows staged. Raises StagingFailed with precise problems."""
    name = path.name
    person_cols = [c.name for c in entity.columns if c.type == "person"]
    with conn.cursor() as cur:
        table = create_staging(cur, batch_id, entity)
        if fmt == "csv":
            header = _csv_header(path, encoding or "utf-8", name)
            _check_columns(entity, header, name)
            if not person_cols:
                copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING {})").format(
                    table, sql.SQL(", ").join(map(sql.Identifier, header)), sql.Literal(PG_ENCODING[encoding or "utf-8"])
                )
                with path.open("rb") as fh:
                    _copy(cur, copy, fh, name, encoding)
                return cur.rowcount
            rows = _csv_rows(path, encoding or "utf-8", name)
        elif fmt == "jsonl":
            header, rows = _jsonl_rows(path, entity, name)
        elif fmt == "xlsx":
            header, rows = _xlsx_rows(path, name)
            _check_columns(entity, header, name)
        else:  # the manifest schema admits no other format
            raise StagingFailed([Problem("file.format", f"unsupported format {fmt!r}", file=name)])

        if person_cols:
            if hasher is None:
                raise RuntimeError("a person hasher is required for entities with person columns")
            idx = [header.index(c) for c in person_cols if c in header]
            rows = _hash_persons(rows, idx, header, hasher, name)
        copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, ENCODING 'UTF8')").format(
            table, sql.SQL(", ").join(map(sql.Identifier, header))
        )
        _copy(cur, copy, _CsvStream(rows), name, "utf-8")
        return cur.rowcount


def _copy(cur, statement, stream, name: str, encoding: str | None) -> None:
    import psycopg2
    import psycopg2.errors

    try:
        cur.copy_expert(statement.as_string(cur), stream, size=1 << 18)
    except psycopg2.errors.QueryCanceled:
        # A problem found while streaming rows (e.g. a person's name) aborts the COPY; report it, not the abort.
        if isinstance(getattr(stream, "error", None), StagingFailed):
            raise stream.error from None
        raise
    except psycopg2.DataError as exc:
        ctx = (exc.diag.context or "") if exc.diag else ""
        m = _COPY_CONTEXT.search(ctx)
        line = int(m.group(1)) if m else None
        column = m.group(2) if m and m.group(2) else None
        rule = "file.encoding" if exc.pgcode in ("22021", "22P05") else "file.format"
        detail = (exc.diag.message_primary if exc.diag else None) or str(exc).splitlines()[0]
        if rule == "file.encoding":
            detail = f"{detail} — the manifest declares {encoding}"
        # COPY counts the header as line 1, so data row = line - 1.
        raise StagingFailed([Problem(rule, detail, file=name, row=(line - 1) if line else None, column=column)]) from None


def _csv_header(path: Path, encoding: str, name: str) -> list[str]:
    with path.open("rb") as fh:
        first = fh.readline(1 << 16)
    try:
        line = first.decode("utf-8-sig" if encoding.startswith("utf-8") else encoding)
    except UnicodeDecodeError as exc:
        raise StagingFailed([Problem("file.encoding", f"header is not valid {encoding}: {exc.reason}", file=name, row=0)]) from None
    header = next(csv.reader([line]), None)
    if not header:
        raise StagingFailed([Problem("file.format", "empty file: a header row is required", file=name)])
    return [h.strip() for h in header]


def _csv_rows(path: Path, encoding: str, name: str) -> Iterator[list[str | None]]:
    enc = "utf-8-sig" if encoding.startswith("utf-8") else encoding
    with path.open("r", encoding=enc, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        try:
            for row in reader:
                yield [v if v != "" else None for v in row]
        except UnicodeDecodeError as exc:
            raise StagingFailed([Problem("file.encoding", f"not valid {encoding}: {exc.reason}", file=name,
                                         row=reader.line_num)]) from None


def _jsonl_rows(path: Path, entity: Entity, name: str) -> tuple[list[str], Iterator[list[str | None]]]:
    header = entity.column_names
    allowed = set(header)

    def rows() -> Iterator[list[str | None]]:
        with path.open("r", encoding="utf-8") as fh:
            n = 0
            for line in fh:
                if not line.strip():
                    continue
                n += 1
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise StagingFailed([Problem("file.format", f"not a JSON object: {exc.msg}", file=name, row=n)]) from None
                if not isinstance(obj, dict):
                    raise StagingFailed([Problem("file.format", "each line must be a JSON object", file=name, row=n)])
                extra = set(obj) - allowed
                if extra:
                    raise StagingFailed([Problem("file.columns", f"unknown field(s) {sorted(extra)} for {entity.name}",
                                                 file=name, row=n, column=sorted(extra)[0])])
                yield [_text(obj.get(c)) for c in header]

    # JSON Lines may omit keys: a missing required value is caught by the validator (not null) with its row.
    return header, rows()


def _xlsx_rows(path: Path, name: str) -> tuple[list[str], Iterator[list[str | None]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise StagingFailed([Problem("file.format", f"not a readable XLSX workbook: {exc}", file=name)]) from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    first = next(it, None)
    if not first:
        wb.close()
        raise StagingFailed([Problem("file.format", "empty sheet: a header row is required", file=name)])
    header = [str(h).strip() for h in first if h is not None]

    def rows() -> Iterator[list[str | None]]:
        try:
            for values in it:
                if values is None or all(v is None for v in values):
                    continue
                yield [_text(v) for v in values[: len(header)]] + [None] * max(0, len(header) - len(values))
        finally:
            wb.close()

    return header, rows()


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        if v.tzinfo is None and v.time() == dt.time(0):
            return v.date().isoformat()
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v)
    return s if s != "" else None


def _check_columns(entity: Entity, header: list[str], name: str) -> None:
    problems = []
    seen = set()
    for h in header:
        if h in seen:
            problems.append(Problem("file.columns", f"column {h!r} appears twice", file=name, row=0, column=h))
        seen.add(h)
    unknown = [h for h in header if h not in entity.column_names]
    for h in unknown:
        problems.append(Problem("file.columns", f"unknown column {h!r} for {entity.name} (spec columns: "
                                f"{', '.join(entity.column_names)})", file=name, row=0, column=h))
    for c in entity.columns:
        if c.required and c.name not in header:
            problems.append(Problem("file.columns", f"required column {c.name!r} ({c.zh}) is missing", file=name, row=0, column=c.name))
    if problems:
        raise StagingFailed(problems)


def _hash_persons(rows: Iterable[list], idx: list[int], header: list[str], hasher: PersonHasher, name: str) -> Iterator[list]:
    for n, row in enumerate(rows, start=1):
        for i in idx:
            value = row[i] if i < len(row) else None
            if value is None:
                continue
            problem = hasher.check(value)
            if problem:
                raise StagingFailed([Problem("person.clear", problem, file=name, row=n, column=header[i], value=hasher.mask(value))])
            row[i] = hasher.hash(value)
        yield row


class _CsvStream(io.RawIOBase):
    """A read()-able byte stream of CSV text made from rows, chunk by chunk (for COPY FROM STDIN)."""

    def __init__(self, rows: Iterable[list]):
        self._rows = iter(rows)
        self._buf = b""
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\n")
        self._encoder = codecs.getincrementalencoder("utf-8")()
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        self._text.seek(0)
        self._text.truncate()
        for n, row in enumerate(self._rows):
            self._writer.writerow(row)
            if n + 1 >= _CHUNK_ROWS:
                break
        data = self._text.getvalue()
        if not data:
            return False
        self._buf += self._encoder.encode(data)
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            while (size < 0 or len(self._buf) < size) and self._fill():
                pass
        except Exception as exc:
            self.error = exc
            raise
        if size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out
