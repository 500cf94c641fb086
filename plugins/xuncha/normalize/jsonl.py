"""Reading a JSON Lines export file (export spec §8.3) into rows of text, as the staging table holds them.

Structural faults stop the file (`file.format`, `file.columns`, `file.encoding`, naming the line): not JSON, not an
object, a key twice, an unknown key, a line over the size limit, not UTF-8, and a value nested too deep for any
reader (a `RecursionError`, issue 27: never the platform's `export.failed`). A value of the wrong JSON kind is a
row problem, collected (`row.invalid` naming row and column):
- numbers only in integer and decimal fields, as their exact literal, never through a float; a number with an
  exponent (`1.8E7`) is refused with the form wanted (§8.3: the §8.4 form, `18000000` or `18000000.00`);
- a string holding half of a UTF-16 surrogate pair (`"\\ud83d"`: valid JSON syntax, but no Unicode text; an
  exporter cut an emoji in two) is refused before it reaches the database;
- true/false, nested objects and arrays are no value of the spec.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from xuncha.errors import Problem
from xuncha.extract import limits
from xuncha.normalize.columns import MAX_PROBLEMS, StagingFailed
from xuncha.spec import Entity
from xuncha.text import excerpt

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


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


def _plain(literal: str, kind: str) -> str:
    """The §8.4 form of a JSON number given with an exponent (`1.8E7` -> `18000000`), for the message; '' when
    the exponent is too large to write out."""
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(literal)
    except InvalidOperation:
        return ""
    if abs(d.adjusted()) > 20:
        return ""
    return format(d.quantize(Decimal("0.01")) if kind == "decimal" and d.as_tuple().exponent < 0 else d, "f")


def rows(path: Path, entity: Entity, name: str,
         problems: list[Problem]) -> tuple[list[str], Iterator[list[str | None]]]:
    """(header, rows) of a JSON Lines file (§8.3): the entity's columns and, lazily, each object's values as text.

    Structural faults raise StagingFailed naming the line (n = the n-th non-blank line); a value of the wrong JSON
    kind is appended to `problems` (row.invalid, row and column) and staged as None."""
    header = entity.column_names
    types = {c.name: c.type for c in entity.columns}
    allowed = set(header)

    def value(v, col: str, n: int) -> str | None:
        kind = types[col]
        if v is None:
            return None
        if isinstance(v, _Number):
            if kind in ("integer", "decimal"):
                if "e" not in v and "E" not in v:
                    return str(v)
                plain = _plain(v, kind)
                why = (f"a JSON number in exponent form: write the {kind} in the form of §8.4, "
                       + ("digits with an optional . and 1–2 decimals" if kind == "decimal" else "digits")
                       + (f", e.g. {plain}" if plain else ""))
            else:
                why = f"a JSON number where the spec wants a JSON string ({kind})"
        elif isinstance(v, str):
            if surrogates and _SURROGATE.search(v):
                why = ("half of a UTF-16 surrogate pair (an escape such as \\ud83d without its partner): not Unicode "
                       "text; the exporter cut a character (an emoji) in two")
            else:
                return v
        elif isinstance(v, bool):
            why = "JSON true/false is no value of the spec"
        elif isinstance(v, dict):
            why = "a nested JSON object: values are strings or numbers"
        else:
            why = "a JSON array: values are strings or numbers"
        if len(problems) < MAX_PROBLEMS:
            problems.append(Problem("row.invalid", why + " (§8.3)", file=name, row=n, column=col,
                                    value=excerpt(json.dumps(v, ensure_ascii=False) if not isinstance(v, str)
                                                  else v.encode("utf-8", "backslashreplace").decode("utf-8"))))
        return None

    def fail(rule: str, message: str, n: int | None, column: str | None = None, v: str | None = None):
        raise StagingFailed([Problem(rule, message, file=name, row=n, column=column, value=v)])

    def lines() -> Iterator[list[str | None]]:
        nonlocal surrogates
        with path.open("rb") as fh:
            n = 0
            while raw := fh.readline(limits.MAX_JSONL_LINE + 1):
                if not raw.strip():
                    continue
                n += 1
                if len(raw) > limits.MAX_JSONL_LINE:
                    fail("file.format", f"line longer than {limits.MAX_JSONL_LINE:,} bytes (§10.2)", n)
                try:   # line by line, so the error names the line that holds the bad bytes
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    fail("file.encoding", f"not valid UTF-8 (§8.3): {exc.reason} (byte 0x{raw[exc.start]:02x})", n)
                surrogates = "\\u" in line and _SURROGATE_ESCAPE.search(line) is not None
                try:
                    obj = json.loads(line, object_pairs_hook=_unique_pairs, parse_float=_Number,
                                     parse_int=_Number, parse_constant=_reject_constant)
                except _DuplicateKey as exc:
                    fail("file.format", f"key {excerpt(str(exc), 64)!r} appears twice in one object (§8.3)", n,
                         str(exc) if str(exc) in allowed else None)
                except ValueError as exc:   # json.JSONDecodeError and NaN/Infinity
                    fail("file.format", f"not valid JSON: {excerpt(getattr(exc, 'msg', None) or str(exc), 120)}", n,
                         v=excerpt(line.strip(), 120))
                except RecursionError:
                    # A value nested thousands deep: no reader follows it; the county's line, not our crash.
                    fail("file.format", "a JSON value nested too deep to read (values are strings or numbers, "
                         "never nested: §8.3)", n, v=excerpt(line.strip(), 60))
                if not isinstance(obj, dict):
                    fail("file.format", "each line must be a JSON object (§8.3)", n)
                extra = set(obj) - allowed
                if extra:
                    first = sorted(extra)[0]
                    fail("file.columns", f"unknown field(s) {excerpt(sorted(extra), 200)} for {entity.name}", n,
                         excerpt(first, 64))
                yield [value(obj.get(c), c, n) for c in header]

    surrogates = False
    # JSON Lines may omit keys: a missing required value is caught by the validator (not null) with its row.
    return header, lines()
