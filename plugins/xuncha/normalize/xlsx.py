"""Reading an XLSX export file as export spec §8.2 says, with python-calamine.

Why python-calamine: it is in the lock already, reads every cell the sheet holds whatever the sheet's stored
`<dimension>` says (openpyxl's read-only mode trusts it and silently drops columns unless reset), knows the
1900 and 1904 date systems and Excel's built-in date formats (the Chinese ones, 27–36 and 50–58, included),
reports merged ranges, and is a compiled reader several times faster than openpyxl. It exposes neither formulas
nor error cells (it reads `#N/A` as ""), so both are found by a byte search of the worksheet parts and then placed
by streaming the first sheet's XML (xuncha.normalize.sheetxml), which reads transitional and Strict Open XML alike
(openpyxl sees no worksheet in a Strict workbook).

Rules (each a problem naming the cell, e.g. `B3`, as row and column of the file):
- the zip's uncompressed size and compression ratio are bounded before anything is opened (limits.py);
- the first sheet is read; row 1 is the header: a text cell per column, no empty or spacer cell before the
  last named column, no data under an unnamed column (`file.columns`);
- no merged cells, no formulas (with or without a cached value), no blank rows between data rows
  (`file.format`);
- text cells for strings, codes, ids and timestamps: a number cell there has lost what the county typed
  (leading zeros, digits past the 15th) and a date cell has no offset (`row.invalid`);
- dates: ISO text or a date cell without a time part (any date number format, 1900 or 1904 system);
- integers and decimals: number cells (written in their shortest exact form) or §8.4 text;
- booleans, times, durations and error cells (`#N/A`, `#DIV/0!`, `#REF!` …) are no value of the spec
  (`row.invalid` naming the cell, its column and the error value; never taken for an empty cell).
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

from xuncha.errors import Problem
from xuncha.extract import limits
from xuncha.normalize import sheetxml
from xuncha.spec import Entity
from xuncha.text import excerpt, trimmed

MAX_PROBLEMS = 50


class XlsxProblems(Exception):
    """A workbook that cannot be read as an export file; `problems` (xuncha.errors.Problem) say where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems[:5])))


def cell(row: int, col: int) -> str:
    """Excel address of a 0-based (row, column): (2, 1) -> 'B3'."""
    letters, n = "", col + 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return f"{letters}{row + 1}"


def read(path: Path, entity: Entity, name: str) -> tuple[list[str], list[list[str | None]]]:
    """(header, data rows as text or None) of the first sheet; raises XlsxProblems. Rows are the staged text."""
    from python_calamine import CalamineError, CalamineWorkbook

    bad = limits.check_xlsx_archive(path, name)
    if bad:
        raise XlsxProblems(bad)
    marks = _marked_cells(path, name)
    try:
        with CalamineWorkbook.from_path(str(path)) as wb:
            sheet = wb.get_sheet_by_index(0)
            merged = sheet.merged_cell_ranges or []
            grid = sheet.to_python(skip_empty_area=False)
    except (CalamineError, zipfile.BadZipFile, OSError, ValueError) as exc:
        # An error value the reader does not know (`#GETTING_DATA`, `#SPILL!` in older readers) stops it: the
        # cell is what the county must fix, named by its address (the header is unread, so the column is its letter).
        errors = [Problem("row.invalid" if r else "file.columns", f"cell {cell(r, c)} holds the error value {text}, "
                          "which is no value of the spec (§8.2): type the value, or leave the cell empty for null",
                          file=name, row=r, column=cell(r, c)[:-len(str(r + 1))], value=text)
                  for r, c, kind, text in marks if kind == sheetxml.ERROR]
        raise XlsxProblems(errors or [Problem("file.format", f"not a readable XLSX workbook: {excerpt(exc)}",
                                              file=name)]) from None
    if not grid or not any(v != "" for v in grid[0]):
        raise XlsxProblems([Problem("file.format", "empty sheet: row 1 must be the header", file=name)])
    problems: list[Problem] = []
    header = _header(grid, name, problems)

    def column(c: int, r: int) -> str:
        return header[c] if c < len(header) else cell(r, c)[:-len(str(r + 1))]

    problems[:0] = [Problem("file.format", f"merged cells {cell(*a)}:{cell(*b)}: every value in its own cell (§8.2)",
                            file=name, row=a[0], column=column(a[1], a[0]), value=f"{cell(*a)}:{cell(*b)}")
                    for a, b in merged]
    for r, c, kind, text in marks:
        what = ("a formula: values only, no formulas (§8.2)" if kind == sheetxml.FORMULA else
                "an error value, which is no value of the spec (§8.2; python-calamine would read it as an empty "
                "cell): type the value, or leave the cell empty for null")
        problems.append(Problem("row.invalid" if r else "file.columns", f"cell {cell(r, c)} holds {what}",
                                file=name, row=r, column=column(c, r), value=text))
    types = {c.name: c for c in entity.columns}
    rows: list[list[str | None]] = []
    blank_since = None
    for r in range(1, len(grid)):
        values = grid[r]
        if all(v == "" or v is None for v in values):
            blank_since = blank_since or r
            continue
        if blank_since is not None:
            problems.append(Problem("file.format", f"blank row {blank_since + 1} between data rows (§8.2)", file=name,
                                    row=blank_since))
            blank_since = None
        out = []
        for i, h in enumerate(header):
            v = values[i] if i < len(values) else ""
            text, why = _value(v, types.get(h))
            if why:
                problems.append(Problem("row.invalid", f"cell {cell(r, i)}: {why}", file=name, row=r, column=h,
                                        value=excerpt(v)))
            out.append(text)
        rows.append(out)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise XlsxProblems(problems[:MAX_PROBLEMS])
    return header, rows


def _header(grid: list[list], name: str, problems: list[Problem]) -> list[str]:
    first = grid[0]
    last = max(i for i, v in enumerate(first) if v != "" and v is not None)
    header = []
    for i in range(last + 1):
        v = first[i]
        text = trimmed(v) if isinstance(v, str) else None
        if text is None:
            what = "an empty or spacer" if v == "" or (isinstance(v, str) and text is None) else f"a non-text ({v!r})"
            problems.append(Problem("file.columns", f"header cell {cell(0, i)} is {what} cell: every column needs its "
                                    "English name (§8.2)", file=name, row=0, column=cell(0, i)))
            text = f"({cell(0, i)})"
        header.append(text)
    width = max((len(r) for r in grid), default=0)
    for i in range(last + 1, width):
        if any(i < len(r) and r[i] not in ("", None) for r in grid[1:]):
            problems.append(Problem("file.columns", f"column {cell(0, i)[:-1]} holds data but its header cell "
                                    f"{cell(0, i)} is empty", file=name, row=0, column=cell(0, i)))
    return header


def _value(v, column) -> tuple[str | None, str | None]:
    """(staged text, None) or (None, why the cell cannot be read as the county's value)."""
    if v is None or v == "":
        return None, None
    kind = column.type if column is not None else "string"
    if isinstance(v, str):
        return v, None
    if isinstance(v, bool):
        return None, "a TRUE/FALSE cell is no value of the spec"
    if isinstance(v, (int, float)):
        if kind == "integer":
            if isinstance(v, float) and not v.is_integer():
                return None, f"{v!r} is not a whole number"
            return str(int(v)), None
        if kind == "decimal":
            return (str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e15 else repr(v)), None
        if kind == "date":
            return None, "a number cell in a date column: a date cell (date format) or ISO text YYYY-MM-DD"
        return None, (f"a number cell in a {kind} column: Excel keeps numbers, not what was typed (leading zeros and "
                      "digits past the 15th are lost); store ids, codes and text as text cells")
    if isinstance(v, dt.datetime):
        if kind == "date" and v.time() == dt.time(0):
            return v.date().isoformat(), None
        if kind == "date":
            return None, "a date cell with a time of day in a date column"
        return None, f"a date/time cell in a {kind} column: timestamps and text are text cells (§8.2)"
    if isinstance(v, dt.date):
        if kind == "date":
            return v.isoformat(), None
        return None, f"a date cell in a {kind} column: timestamps and text are text cells (§8.2)"
    return None, f"a {type(v).__name__} cell is no value of the spec"


def _marked_cells(path: Path, name: str) -> list[tuple[int, int, str, str]]:
    """Cells of the first sheet holding a formula (§8.2: values only, cached result or not) or an error value
    (§8.2: no value of the spec), found in the sheet's XML (xuncha.normalize.sheetxml); raises XlsxProblems when a
    mark is there but the sheet cannot be read to place it."""
    try:
        with zipfile.ZipFile(path) as z:
            if not sheetxml.has_marks(z):
                return []
        return sheetxml.marked_cells(path, MAX_PROBLEMS)
    except (zipfile.BadZipFile, OSError):
        return []   # calamine reports the unreadable file
    except (sheetxml.SheetXmlError, KeyError, ValueError) as exc:
        raise XlsxProblems([Problem("file.format", f"not a readable XLSX workbook: {excerpt(exc)}", file=name)]) from None
