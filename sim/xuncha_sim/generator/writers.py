"""Encoding tables as CSV, XLSX or JSON Lines, and writing an export directory with its manifest.

Output is byte-for-byte deterministic: no clock, fixed ZIP timestamps, fixed key order. The XLSX writer
is a minimal SpreadsheetML package written directly (inline strings, one sheet), which is much faster
than a general-purpose library for thousands of small workbooks and reads back with any XLSX reader.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from xuncha.spec import SPEC_VERSION, load_spec

from .profiles import Delivery


@dataclass
class Table:
    entity: str
    header: list[str]
    types: list[str]        # spec column type per header column ("string" for columns the spec lacks)
    rows: list[list | tuple]

    @classmethod
    def of(cls, entity: str, rows: list[tuple]) -> Table:
        ent = load_spec().entity(entity)
        return cls(entity, list(ent.column_names), [c.type for c in ent.columns], rows)


def file_name(entity: str, delivery: Delivery) -> str:
    return f"{entity}.{delivery.format}"


def encode(table: Table, delivery: Delivery, encoding: str | None = None) -> bytes:
    """The file's bytes; `encoding` overrides the delivery's CSV encoding (to simulate a wrong one)."""
    if delivery.format == "csv":
        return _csv(table, encoding or delivery.encoding or "utf-8")
    if delivery.format == "jsonl":
        return _jsonl(table)
    if delivery.format == "xlsx":
        return _xlsx(table, delivery.date_style)
    raise ValueError(f"unknown format {delivery.format!r}")


def _csv(table: Table, encoding: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(table.header)
    w.writerows(["" if v is None else str(v) for v in r] for r in table.rows)
    return buf.getvalue().encode(encoding)


def _json_value(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, (int, Decimal)) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, dt.date):
        return f'"{v.isoformat()}"'
    return json.dumps(v, ensure_ascii=False)


def _jsonl(table: Table) -> bytes:
    keys = [json.dumps(h, ensure_ascii=False) + ":" for h in table.header]
    lines = ["{" + ",".join(k + _json_value(v) for k, v in zip(keys, r)) + "}\n" for r in table.rows]
    return "".join(lines).encode("utf-8")


_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STATIC = {
    "[Content_Types].xml": _HEAD + (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '</Types>'),
    "_rels/.rels": _HEAD + (
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        '</Relationships>'),
    "xl/_rels/workbook.xml.rels": _HEAD + (
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'),
    "xl/styles.xml": _HEAD + (
        f'<styleSheet {_NS}><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
}
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _xlsx(table: Table, date_style: str) -> bytes:
    cols = [_col(i) for i in range(len(table.header))]
    excel_dates = date_style == "excel"
    parts = [_HEAD, f"<worksheet {_NS}><sheetData>"]

    def text(ref: str, v: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(v)}</t></is></c>'

    parts.append('<row r="1">' + "".join(text(f"{c}1", h) for c, h in zip(cols, table.header)) + "</row>")
    for n, r in enumerate(table.rows, 2):
        cells = []
        for c, v in zip(cols, r):
            if v is None:
                continue
            ref = f"{c}{n}"
            if isinstance(v, str):
                cells.append(text(ref, v))
            elif isinstance(v, dt.date):
                if excel_dates:
                    cells.append(f'<c r="{ref}" s="1"><v>{(v - _EXCEL_EPOCH).days}</v></c>')
                else:
                    cells.append(text(ref, v.isoformat()))
            else:
                cells.append(f'<c r="{ref}"><v>{v}</v></c>')
        parts.append(f'<row r="{n}">' + "".join(cells) + "</row>")
    parts.append("</sheetData></worksheet>")
    members = dict(_STATIC)
    members["xl/workbook.xml"] = _HEAD + (
        f'<workbook {_NS} xmlns:r="{_REL}"><sheets><sheet name="{escape(table.entity[:31])}" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>")
    members["xl/worksheets/sheet1.xml"] = "".join(parts)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in ("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                     "xl/styles.xml", "xl/worksheets/sheet1.xml"):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, members[name].encode("utf-8"))
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_entry(entity: str, name: str, delivery: Delivery, rows: int, data: bytes) -> dict:
    entry = {"entity": entity, "path": name, "format": delivery.format}
    if delivery.format == "csv":
        entry["encoding"] = delivery.encoding or "utf-8"
    entry["rows"] = rows
    entry["sha256"] = sha256(data)
    return entry


def manifest(export_id: str, county_code: str, business_date: dt.date, generated_at: str, mode: str,
             files: list[dict]) -> dict:
    return {"spec_version": SPEC_VERSION, "export_id": export_id, "county_code": county_code,
            "business_date": business_date.isoformat(), "generated_at": generated_at, "mode": mode, "files": files}


def render(tables: list[Table], delivery: Delivery) -> tuple[list[dict], dict[str, bytes]]:
    """Manifest file entries and the files' bytes for the tables of one export."""
    entries, blobs = [], {}
    for t in tables:
        name = file_name(t.entity, delivery)
        data = encode(t, delivery)
        entries.append(file_entry(t.entity, name, delivery, len(t.rows), data))
        blobs[name] = data
    return entries, blobs


def write_dir(folder: Path, manifest_: dict, blobs: dict[str, bytes]) -> int:
    """Write the files, then manifest.json last (a directory is complete once its manifest exists)."""
    if folder.exists():  # re-generating into the same place: leave no stale file behind
        for old in folder.iterdir():
            if old.name not in blobs and old.is_file():
                old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    for name, data in blobs.items():
        (folder / name).write_bytes(data)
        size += len(data)
    text = json.dumps(manifest_, ensure_ascii=False, indent=2) + "\n"
    (folder / "manifest.json").write_text(text, encoding="utf-8")
    return size + len(text)
