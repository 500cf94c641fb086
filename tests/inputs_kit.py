"""Small export files written in the test, byte for byte, in every format a county may use (issue 11 tests).

`night(...)` writes one export folder: each entity's rows in the chosen format — CSV in UTF-8, UTF-8 with BOM or
GB18030, XLSX (xlsxwriter: a str is a text cell, an int/float a number cell, a date a date cell in yyyy-mm-dd format
unless `formats` gives its column another), or JSON Lines
(values written as given: a str is a JSON string, a number a JSON number) — and its manifest with real SHA-256s.
`raw` files (bytes as given) are for inputs no writer would produce.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path

from xuncha.spec import load_spec

FORMATS = ("csv-utf-8", "csv-gb18030", "xlsx", "jsonl")


def base_rows(county: str, updated: str = "2021-04-10T10:00:00+08:00") -> dict[str, list[dict]]:
    """An organisation, a round and an inspection: what findings refer to."""
    p = f"{county}-"
    return {
        "org_units": [{"org_id": p + "O1", "org_name": "测试街道", "org_type": "township", "parent_org_id": None,
                       "in_scope_from": "2017-01-01", "in_scope_to": None, "updated_at": updated}],
        "rounds": [{"round_id": p + "R1", "term_no": 11, "round_no": 1, "round_type": "regular",
                    "start_date": "2021-04-01", "end_date": None, "updated_at": updated}],
        "inspections": [{"inspection_id": p + "I1", "round_id": p + "R1", "org_id": p + "O1", "org_county_code": None,
                         "team_name": "第一巡察组", "onsite_start": "2021-04-02", "onsite_end": None,
                         "feedback_date": None, "updated_at": updated}],
    }


def finding(county: str, n: int, summary: str = "问题摘要", updated: str = "2021-04-11T10:00:00+08:00", **kw) -> dict:
    row = {"finding_id": f"{county}-F{n}", "inspection_id": f"{county}-I1", "category": "SJ1",
           "found_date": "2021-04-11", "summary": summary, "updated_at": updated}
    row.update(kw)
    return row


def _csv(entity: str, rows: list[dict], encoding: str) -> bytes:
    cols = load_spec().entity(entity).column_names
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    return buf.getvalue().encode("utf-8-sig" if encoding == "utf-8-sig" else encoding)


def _jsonl(entity: str, rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def xlsx_bytes(entity: str | None, rows: list[dict] | list[list], header: list | None = None, date_1904: bool = False,
               formats: dict[str, str] | None = None, build=None) -> bytes:
    """A workbook whose first sheet holds header + rows; `formats` maps a column to a number format for its cells;
    `build(workbook, worksheet)` may add anything else (merged ranges, formulas)."""
    import xlsxwriter

    buf = io.BytesIO()
    # A date written without a format of its own gets Excel's ISO date format, as Excel gives a typed date: without
    # one, xlsxwriter stores the bare serial number, a number cell, which §8.2 rejects in a date column.
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "date_1904": date_1904, "strings_to_numbers": False,
                                   "strings_to_formulas": False, "strings_to_urls": False,
                                   "default_date_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("data")
    cols = header if header is not None else load_spec().entity(entity).column_names
    fmts = {c: wb.add_format({"num_format": f}) for c, f in (formats or {}).items()}
    for i, c in enumerate(cols):
        if c is not None:
            ws.write_string(0, i, c)
    for r, row in enumerate(rows, start=1):
        values = row if isinstance(row, list) else [row.get(c) for c in cols]
        for i, v in enumerate(values):
            fmt = fmts.get(cols[i]) if i < len(cols) else None
            if v is None:
                continue
            if isinstance(v, str):
                ws.write_string(r, i, v, fmt)
            elif isinstance(v, (dt.date, dt.datetime)):
                ws.write_datetime(r, i, v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time()), fmt)
            else:
                ws.write_number(r, i, v, fmt)
    if build:
        build(wb, ws)
    wb.close()
    return buf.getvalue()


def encode(entity: str, rows: list[dict], fmt: str) -> tuple[str, str | None, bytes]:
    """(file format, encoding, bytes) of rows in one of FORMATS."""
    if fmt.startswith("csv-"):
        enc = fmt[4:]
        return "csv", enc, _csv(entity, rows, enc)
    if fmt == "jsonl":
        return "jsonl", None, _jsonl(entity, rows)
    return "xlsx", None, xlsx_bytes(entity, rows)


def night(root: Path, county: str, export_id: str, day: str, files: dict[str, list[dict]], fmt: str = "csv-utf-8",
          raw: dict[str, tuple[str, str | None, bytes, int]] | None = None, generated_at: str | None = None,
          mode: str = "delta") -> Path:
    """Write root/county/export_id/ with `files` in `fmt` and `raw` files {entity: (format, encoding, bytes, rows)}."""
    d = root / county / export_id
    d.mkdir(parents=True, exist_ok=True)
    entries = []
    items = {e: (*encode(e, rows, fmt), len(rows)) for e, rows in files.items()} | (raw or {})
    for entity, (f, enc, data, n) in items.items():
        path = d / f"{entity}.{f}"
        path.write_bytes(data)
        entry = {"entity": entity, "path": path.name, "format": f, "rows": n, "sha256": hashlib.sha256(data).hexdigest()}
        if f == "csv":
            entry["encoding"] = enc
        entries.append(entry)
    manifest = {"spec_version": "1.0", "export_id": export_id, "county_code": county, "business_date": day,
                "generated_at": generated_at or f"{day}T23:30:00+08:00", "mode": mode, "files": entries}
    (d / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return d


def report(result) -> dict:
    """The _report.json of a quarantined or failed BatchResult."""
    path = next(Path(result.moved_to).glob("_report.json")) if result.moved_to else None
    return json.loads(path.read_text(encoding="utf-8"))


def has_problem(result, rule: str, file: str | None = None, column: str | None = None, row: int | None = None) -> bool:
    for p in result.problems:
        if rule in p.rule and (file is None or p.file == file) and (column is None or p.column == column) \
                and (row is None or p.row == row):
            return True
    return False


_TRANSITIONAL = {"main": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                 "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                 "rel": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
_STRICT = {"main": "http://purl.oclc.org/ooxml/spreadsheetml/main",
           "r": "http://purl.oclc.org/ooxml/officeDocument/relationships",
           "rel": "http://purl.oclc.org/ooxml/officeDocument/relationships"}


def sheet_xml_xlsx(rows: list[list], strict: bool = False, sheet_part: str = "worksheets/sheet1.xml") -> bytes:
    """A workbook written as its zip XML, byte for byte, for cells no writer library makes on demand: each value of
    `rows` (row 1 = the header) is a str (an inline text cell), an int/float (a number cell), None (no cell),
    ("e", "#N/A") (an error cell, no formula: a pasted VLOOKUP) or ("f", "TODAY()", "cached text") (a formula with
    its cached string result). `strict` writes Strict Open XML (the purl.oclc.org namespaces Excel's "Strict Open
    XML Spreadsheet" uses)."""
    import zipfile
    from xml.sax.saxutils import escape

    ns = _STRICT if strict else _TRANSITIONAL

    def col(i: int) -> str:
        letters, n = "", i + 1
        while n:
            n, r = divmod(n - 1, 26)
            letters = chr(65 + r) + letters
        return letters

    out = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for i, v in enumerate(row):
            ref = f"{col(i)}{r}"
            if v is None:
                continue
            if isinstance(v, tuple) and v[0] == "e":
                cells.append(f'<c r="{ref}" t="e"><v>{escape(v[1])}</v></c>')
            elif isinstance(v, tuple) and v[0] == "f":
                cells.append(f'<c r="{ref}" t="str"><f>{escape(v[1])}</f><v>{escape(v[2])}</v></c>')
            elif isinstance(v, str):
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(v)}</t></is></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{v!r}</v></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{ns["main"]}" '
             f'xmlns:r="{ns["r"]}"><sheetData>{"".join(out)}</sheetData></worksheet>')
    conformance = ' conformance="strict"' if strict else ""
    workbook = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{ns["main"]}" '
                f'xmlns:r="{ns["r"]}"{conformance}><sheets>'
                f'<sheet name="data" sheetId="1" r:id="rId1"/></sheets></workbook>')
    rel = ns["rel"]
    package_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
                    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
                    f'{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    workbook_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
                     'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
                     f'{rel}/worksheet" Target="{sheet_part}"/></Relationships>')
    types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/'
             'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
             'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
             '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
             f'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/{sheet_part}" ContentType="application/vnd.'
             'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", package_rels)
        z.writestr("xl/workbook.xml", workbook)
        z.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        z.writestr(f"xl/{sheet_part}", sheet)
    return buf.getvalue()
