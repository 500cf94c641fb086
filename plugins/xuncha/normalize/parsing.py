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
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from psycopg2 import sql

from xuncha.errors import Problem
from xuncha.normalize import csvtext, jsonl, typed, xlsx
from xuncha.normalize.columns import MAX_PROBLEMS, StagingFailed, check_columns
from xuncha.normalize.privacy import PersonHasher
from xuncha.spec import Entity
from xuncha.text import trimmed

__all__ = ["StagingFailed", "MAX_PROBLEMS", "create_staging", "stage_file", "staging_table", "validated_relation"]

PG_ENCODING = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "gb18030": "GB18030"}
_COPY_CONTEXT = re.compile(r"line (\d+)(?:, column (\w+))?")
_CHUNK_ROWS = 5000


def staging_table(batch_id: int, entity: str) -> sql.Composed:
    """`staging.b<batch>_<entity>`: the staging table of one file of one batch."""
    return sql.SQL("staging.{}").format(sql.Identifier(f"b{batch_id}_{entity}"))


def validated_relation(batch_id: int, table: str, entity: Entity, updated_at_bound: dt.datetime) -> str:
    """SELECT of one staged file as the suites see it: batch_id, the latest updated_at its export allows
    (manifest.updated_at_bound), row_no, and every column as trimmed text: `table` is one xuncha.normalize.typed.cast_once
    made (trimmed by staging.trimmed, migration 0020: the one definition of trimmed text), and its typed copies
    (`<column>__typed`, NULL where the text is blank or not valid: the castability rules read them)."""
    cols = ", ".join([f"t.{c}" for c in entity.column_names] + [f"t.{t}" for t in map(typed.typed_column, entity.columns) if t])
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
            header = csvtext.header(path, encoding or "utf-8", name)
            check_columns(entity, header, name)
            if encoding == "gb18030":
                found = csvtext.gb18030_problems(path, name)
                if found:
                    raise StagingFailed(found)
            if not person_cols:
                copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING {})").format(
                    table, sql.SQL(", ").join(map(sql.Identifier, header)), sql.Literal(PG_ENCODING[encoding or "utf-8"])
                )
                with path.open("rb") as fh:
                    _copy(cur, copy, fh, name, encoding, path)
                return cur.rowcount
            rows = csvtext.rows(path, encoding or "utf-8", name)
        elif fmt == "jsonl":
            header, rows = jsonl.rows(path, entity, name, problems)
        elif fmt == "xlsx":
            try:
                header, rows = xlsx.read(path, entity, name)
            except xlsx.XlsxProblems as exc:
                raise StagingFailed(exc.problems) from None
            check_columns(entity, header, name)
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
        error = getattr(stream, "error", None)
        if isinstance(error, StagingFailed):
            raise error from None
        if isinstance(error, (UnicodeError, RecursionError)):
            # Text no encoder writes (half a surrogate pair from a reader not yet checking for it): the county's
            # file, never the platform's export.failed (issue 27). The readers name the row where they can.
            raise StagingFailed([Problem("file.encoding", f"the file holds text that is not Unicode: {error}",
                                         file=name)]) from None
        raise
    except psycopg2.DataError as exc:
        ctx = (exc.diag.context or "") if exc.diag else ""
        m = _COPY_CONTEXT.search(ctx)
        line = int(m.group(1)) if m else None
        column = m.group(2) if m and m.group(2) else None
        rule = "file.encoding" if exc.pgcode in ("22021", "22P05") else "file.format"
        if rule == "file.encoding" and path is not None:
            # COPY sees bytes, not records: say what the record holds (a NUL, or where the encoding breaks).
            found = csvtext.encoding_problems(path, encoding or "utf-8", name, _nul_problem)
            if found:
                raise StagingFailed(found) from None
        detail = (exc.diag.message_primary if exc.diag else None) or str(exc).splitlines()[0]
        if rule == "file.encoding":
            detail = f"{detail} — the manifest declares {encoding}"
        # COPY counts the header as line 1, so data row = line - 1.
        raise StagingFailed([Problem(rule, detail, file=name, row=(line - 1) if line else None, column=column)]) from None


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
