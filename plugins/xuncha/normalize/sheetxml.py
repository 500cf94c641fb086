"""Cells of an XLSX workbook's first sheet that hold a formula or an error value, read from the sheet's XML.

Why our own reading: python-calamine (xlsx.py's reader) exposes neither formulas nor error cells — it returns an
error cell (`#N/A`, `#DIV/0!`, `<c t="e">`) as "" (python-calamine issue 105), which would be taken for an empty
cell — and openpyxl opens a workbook saved as "Strict Open XML" (the purl.oclc.org namespaces) as one with no
worksheets (issue 27: an IndexError, `export.failed`). Both marks are plain in the sheet XML, transitional or
strict alike: a `<f>` child of a cell, or a cell's `t="e"`. So:
- `has_marks` is a byte search of the worksheet parts (cheap; nothing is parsed for the usual workbook);
- `marked_cells` then finds the first sheet through the package's relationships and streams its XML with
  ElementTree.iterparse (namespace-agnostic, elements cleared as read, so memory stays flat), returning each
  mark's 0-based (row, column), kind and text. A part declaring a DTD is refused (a worksheet has none).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

_MARK = re.compile(rb"<(?:\w+:)?f[\s>/]|\st=[\"']e[\"']")
_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]+)$")
FORMULA, ERROR = "formula", "error"


class SheetXmlError(ValueError):
    """The first sheet's XML cannot be read (not well-formed, a DTD, a missing part)."""


def has_marks(z: zipfile.ZipFile) -> bool:
    """True when any worksheet part of the open package holds a formula or an error cell (a byte search, 1 MiB at a
    time, with an overlap so a mark split between chunks is found)."""
    for info in z.infolist():
        if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
            continue
        tail = b""
        with z.open(info) as fh:
            while chunk := fh.read(1 << 20):
                if _MARK.search(tail + chunk):
                    return True
                tail = chunk[-16:]
    return False


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_small(z: zipfile.ZipFile, part: str) -> ElementTree.Element:
    data = z.read(part)
    if b"<!DOCTYPE" in data[:4096]:
        raise SheetXmlError(f"{part} declares a DTD")
    return ElementTree.fromstring(data)


def first_sheet_part(z: zipfile.ZipFile) -> str:
    """The part name of the workbook's first sheet (`xl/worksheets/sheet1.xml` as usual), through
    `_rels/.rels` -> the workbook part -> its first `<sheet>` -> its relationship."""
    names = set(z.namelist())
    workbook = "xl/workbook.xml"
    if "_rels/.rels" in names:
        for rel in _parse_small(z, "_rels/.rels"):
            if rel.get("Type", "").endswith("/officeDocument"):
                workbook = rel.get("Target", workbook).lstrip("/")
                break
    if workbook not in names:
        raise SheetXmlError(f"no workbook part {workbook}")
    sheet_rid = None
    for el in _parse_small(z, workbook).iter():
        if _local(el.tag) == "sheet":
            sheet_rid = next((v for k, v in el.attrib.items() if k.startswith("{") and _local(k) == "id"), None)
            break
    folder, base = posixpath.split(workbook)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if sheet_rid and rels in names:
        for rel in _parse_small(z, rels):
            if rel.get("Id") == sheet_rid:
                target = rel.get("Target", "")
                part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
                if part in names:
                    return part
    if "xl/worksheets/sheet1.xml" in names:
        return "xl/worksheets/sheet1.xml"
    raise SheetXmlError("the first sheet's part is not in the package")


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def marked_cells(path: Path, limit: int) -> list[tuple[int, int, str, str]]:
    """(row, column, FORMULA|ERROR, text) of the first sheet's cells holding a formula (text: the formula, `=` added)
    or an error value (text: `#N/A`, `#DIV/0!` …), 0-based, in sheet order, at most `limit`. Raises SheetXmlError
    or zipfile.BadZipFile."""
    found: list[tuple[int, int, str, str]] = []
    with zipfile.ZipFile(path) as z:
        part = first_sheet_part(z)
        with z.open(part) as fh:
            if b"<!DOCTYPE" in fh.read(4096):
                raise SheetXmlError(f"{part} declares a DTD")
        with z.open(part) as fh:
            row, col = -1, -1
            formula = error = None
            try:
                for event, el in ElementTree.iterparse(fh, events=("start", "end")):
                    tag = _local(el.tag)
                    if event == "start":
                        if tag == "row":
                            r = el.get("r")
                            row = int(r) - 1 if r and r.isdigit() else row + 1
                            col = -1
                        elif tag == "c":
                            m = _CELL_REF.match(el.get("r") or "")
                            if m:
                                row, col = int(m.group(2)) - 1, _column_index(m.group(1))
                            else:
                                col += 1
                            formula = None
                            error = el.get("t") == "e"
                        continue
                    if tag == "f":
                        formula = "=" + (el.text or "")
                    elif tag == "v" and error:
                        error = el.text or "#?"
                    elif tag == "c":
                        if formula is not None:
                            found.append((row, col, FORMULA, formula))
                        elif error:
                            found.append((row, col, ERROR, error if isinstance(error, str) else "#?"))
                        if len(found) >= limit:
                            break
                    elif tag == "row":
                        el.clear()
            except ElementTree.ParseError as exc:
                raise SheetXmlError(f"{part} is not well-formed XML: {exc}") from None
    return found
