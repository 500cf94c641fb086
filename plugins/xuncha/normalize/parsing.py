"""Parsing export files into a staging table (the "write" of write-audit-publish).

Each file is streamed into its own staging table `staging.b<batch>_<entity>`: every spec column as text
plus `row_no`, the data row's number in the file (1 = first row after the header). Nothing is typed
here; xuncha.normalize.typed then trims and types each table once, Great Expectations audits its text (validation.py) and
the merge reads its typed values (xuncha.load.merge).

- CSV without person columns goes byte-for-byte into PostgreSQL's COPY, which decodes UTF-8 or GB18030
  itself: the fastest path there is, and memory stays flat whatever the file size.
- XLSX (python-calamine, xlsx.py), JSON Lines, and CSV of entities with person columns pass through
  Python row by row, in chunks, so person references are replaced by their keyed hash before anything
  reaches the warehouse.

What a county sent lands as sent, or the export is quarantined (export spec §8, §10):
- a CSV declared GB18030 whose bytes are UTF-8 text is `file.encoding` (it would decode to mojibake);
- a NUL character (U+0000, which PostgreSQL text cannot hold) is `row.invalid` naming its row and column;
- JSON Lines: only JSON strings in text, code, id, date and timestamp fields; numbers keep their exact
  literal text (never a float); nested objects and arrays, true/false, NaN and duplicate keys are refused.
The staged table is then trimmed and typed once (xuncha.normalize.typed); validation reads it through `validated_relation`.
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

from xuncha.extract import limits
from xuncha.normalize import xlsx
from xuncha.errors import Problem
from xuncha.normalize.privacy import PersonHasher
from xuncha.spec import Entity
from xuncha.text import excerpt, trimmed

PG_ENCODING = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "gb18030": "GB18030"}
_COPY_CONTEXT = re.compile(r"line (\d+)(?:, column (\w+))?")
_CHUNK_ROWS = 5000
MAX_PROBLEMS = 50
_TEXT_TYPES = ("string", "code", "date", "timestamp", "person")


class StagingFailed(Exception):
    """A file could not be staged; `problems` say where and why (file.format, file.encoding, file.columns, person.clear)."""
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


def staging_table(batch_id: int, entity: str) -> sql.Composed:
    """`staging.b<batch>_<entity>`: the staging table of one file of one batch."""
    return sql.SQL("staging.{}").format(sql.Identifier(f"b{batch_id}_{entity}"))


def validated_relation(batch_id: int, table: str, entity: Entity, updated_at_bound: dt.datetime) -> str:
    """SELECT of one staged file as the suites see it: batch_id, the latest updated_at its export allows
    (manifest.updated_at_bound), row_no, and every column as trimmed text: `table` is one xuncha.normalize.typed.cast_once
    made (trimmed by staging.trimmed, migration 0020: the one definition of trimmed text)."""
    cols = ", ".join(f"t.{c}" for c in entity.column_names)
    return (f"SELECT {int(batch_id)}::bigint AS batch_id, '{updated_at_bound.isoformat()}'::timestamptz AS "
            f"updated_at_bound, t.row_no, {cols} FROM {table} t")


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
    problems: list[Problem] = []   # found while rows stream; raised once the file is read
    with conn.cursor() as cur:
        table = create_staging(cur, batch_id, entity)
        if fmt == "csv":
            header = _csv_header(path, encoding or "utf-8", name)
            _check_columns(entity, header, name)
            if encoding == "gb18030":
                _not_utf8_in_disguise(path, name)
            if not person_cols:
                copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING {})").format(
                    table, sql.SQL(", ").join(map(sql.Identifier, header)), sql.Literal(PG_ENCODING[encoding or "utf-8"])
                )
                with path.open("rb") as fh:
                    _copy(cur, copy, fh, name, encoding, path)
                return cur.rowcount
            rows = _csv_rows(path, encoding or "utf-8", name)
        elif fmt == "jsonl":
            header, rows = _jsonl_rows(path, entity, name, problems)
        elif fmt == "xlsx":
            try:
                header, rows = xlsx.read(path, entity, name)
            except xlsx.XlsxProblems as exc:
                raise StagingFailed(exc.problems) from None
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
        _copy(cur, copy, _CsvStream(_no_nul(rows, header, name, problems)), name, "utf-8")
        if problems:
            raise StagingFailed(problems[:MAX_PROBLEMS])
        return cur.rowcount


def _copy(cur, statement, stream, name: str, encoding: str | None, path: Path | None = None) -> None:
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
        if rule == "file.encoding" and path is not None:
            # COPY sees bytes, not records: say what the record holds (a NUL, or where the encoding breaks).
            found = _scan_csv(path, encoding or "utf-8", name)
            if found:
                raise StagingFailed(found) from None
        detail = (exc.diag.message_primary if exc.diag else None) or str(exc).splitlines()[0]
        if rule == "file.encoding":
            detail = f"{detail} — the manifest declares {encoding}"
        # COPY counts the header as line 1, so data row = line - 1.
        raise StagingFailed([Problem(rule, detail, file=name, row=(line - 1) if line else None, column=column)]) from None


def _scan_csv(path: Path, encoding: str, name: str) -> list[Problem]:
    """Read a CSV record by record as declared: the first NUL characters (row, column) or the first record that does
    not decode. Only run on the rare file COPY refused, to name the row and column it could not."""
    enc = "utf-8-sig" if encoding.startswith("utf-8") else encoding
    problems: list[Problem] = []
    with path.open("r", encoding=enc, newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [trimmed(h) or "" for h in next(reader, [])]
            for n, row in enumerate(reader, start=1):
                for i, v in enumerate(row):
                    if "\x00" in v:
                        problems.append(_nul_problem(name, n, header[i] if i < len(header) else None, v))
                if len(problems) >= MAX_PROBLEMS:
                    break
        except UnicodeDecodeError as exc:
            problems.append(Problem("file.encoding", f"not valid {encoding} (the manifest's encoding): {exc.reason}",
                                    file=name, row=(n + 1) if "n" in locals() else 1))
    return problems


def _nul_problem(name: str, row: int, column: str | None, value: str) -> Problem:
    return Problem("row.invalid", "the value holds a NUL character (U+0000), which text cannot hold (§8.4): "
                   "remove the padding of the source column", file=name, row=row, column=column,
                   value=value.replace("\x00", "\\0"))


def _no_nul(rows: Iterable[list], header: list[str], name: str, problems: list[Problem]) -> Iterator[list]:
    for n, row in enumerate(rows, start=1):
        for i, v in enumerate(row):
            if v is not None and "\x00" in v:
                problems.append(_nul_problem(name, n, header[i] if i < len(header) else None, v))
                row[i] = None
        yield row


def _not_utf8_in_disguise(path: Path, name: str) -> None:
    """A file declared GB18030 whose bytes are valid UTF-8 with multi-byte characters is UTF-8 (real GB18030
    Chinese text is practically never valid UTF-8): decoding it as GB18030 would store mojibake (§8.1)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    non_ascii = False
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
                non_ascii = non_ascii or any(b > 0x7F for b in chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return   # not UTF-8: COPY decodes it as GB18030 and refuses what is not
    if not non_ascii:
        return       # plain ASCII is the same in both
    row = None
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        for n, rec in enumerate(csv.reader(fh)):
            if any(ord(ch) > 0x7F for v in rec for ch in v):
                row = n
                break
    raise StagingFailed([Problem("file.encoding", "the bytes are UTF-8 text, but the manifest declares gb18030: read "
                                 "as GB18030 they would be mojibake; declare utf-8 or write GB18030", file=name, row=row)])


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
    return [trimmed(h) or "" for h in header]


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


class _Number(str):
    """A JSON number as its literal text (never a float: 12345678901234567890.5 stays exactly that)."""


def _reject_constant(word: str):
    raise ValueError(f"{word} is not JSON (§8.3)")


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict:
    obj: dict = {}
    for k, v in pairs:
        if k in obj:
            raise _DuplicateKey(k)
        obj[k] = v
    return obj


def _jsonl_rows(path: Path, entity: Entity, name: str,
                problems: list[Problem]) -> tuple[list[str], Iterator[list[str | None]]]:
    """JSON Lines (§8.3). Structural faults (not JSON, not an object, a duplicate key, an unknown key, a line over
    the size limit, not UTF-8) stop the file; a value of the wrong JSON kind is a row problem, collected."""
    header = entity.column_names
    types = {c.name: c.type for c in entity.columns}
    allowed = set(header)

    def value(v, col: str, n: int) -> str | None:
        kind = types[col]
        if v is None:
            return None
        if isinstance(v, _Number):
            if kind in ("integer", "decimal"):
                return str(v)
            why = f"a JSON number where the spec wants a JSON string ({kind})"
        elif isinstance(v, str):
            return v
        elif isinstance(v, bool):
            why = "JSON true/false is no value of the spec"
        elif isinstance(v, dict):
            why = "a nested JSON object: values are strings or numbers"
        else:
            why = "a JSON array: values are strings or numbers"
        if len(problems) < MAX_PROBLEMS:
            problems.append(Problem("row.invalid", why + " (§8.3)", file=name, row=n, column=col,
                                    value=excerpt(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)))
        return None

    def fail(rule: str, message: str, n: int | None, column: str | None = None, v: str | None = None):
        raise StagingFailed([Problem(rule, message, file=name, row=n, column=column, value=v)])

    def rows() -> Iterator[list[str | None]]:
        with path.open("r", encoding="utf-8", newline="") as fh:
            n = 0
            try:
                while line := fh.readline(limits.MAX_JSONL_LINE + 1):
                    if not line.strip():
                        continue
                    n += 1
                    if len(line) > limits.MAX_JSONL_LINE:
                        fail("file.format", f"line longer than {limits.MAX_JSONL_LINE:,} characters (§10.2)", n)
                    try:
                        obj = json.loads(line, object_pairs_hook=_unique_pairs, parse_float=_Number,
                                         parse_int=_Number, parse_constant=_reject_constant)
                    except _DuplicateKey as exc:
                        fail("file.format", f"key {excerpt(str(exc), 64)!r} appears twice in one object (§8.3)", n,
                             str(exc) if str(exc) in allowed else None)
                    except ValueError as exc:   # json.JSONDecodeError and NaN/Infinity
                        fail("file.format", f"not valid JSON: {excerpt(getattr(exc, 'msg', None) or str(exc), 120)}", n,
                             v=excerpt(line.strip(), 120))
                    if not isinstance(obj, dict):
                        fail("file.format", "each line must be a JSON object (§8.3)", n)
                    extra = set(obj) - allowed
                    if extra:
                        first = sorted(extra)[0]
                        fail("file.columns", f"unknown field(s) {excerpt(sorted(extra), 200)} for {entity.name}", n,
                             excerpt(first, 64))
                    yield [value(obj.get(c), c, n) for c in header]
            except UnicodeDecodeError as exc:
                fail("file.encoding", f"not valid UTF-8 (§8.3): {exc.reason}", n + 1)

    # JSON Lines may omit keys: a missing required value is caught by the validator (not null) with its row.
    return header, rows()


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
            # The reference as the merge would store it (staging.trimmed): 'P-1\u00a0' and 'P-1' are one person.
            value = trimmed(row[i]) if i < len(row) and isinstance(row[i], str) else None
            if value is None:
                if i < len(row):
                    row[i] = None
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
