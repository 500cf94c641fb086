"""Building real export folders for tests: real files in real encodings, manifest with real checksums."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from xuncha.spec import load_spec


def write_export(root: Path, county: str, export_id: str, business_date: str, files: dict[str, list[dict]],
                 mode: str = "delta", fmt: dict[str, str] | None = None, encoding: dict[str, str] | None = None,
                 generated_at: str | None = None, manifest_overrides: dict | None = None) -> Path:
    """Write OUT/<county>/<export_id>/ with one file per entity (CSV UTF-8 unless told) and its manifest."""
    spec = load_spec()
    d = root / county / export_id
    d.mkdir(parents=True, exist_ok=True)
    entries = []
    for entity, rows in files.items():
        f = (fmt or {}).get(entity, "csv")
        enc = (encoding or {}).get(entity, "utf-8") if f == "csv" else None
        cols = spec.entity(entity).column_names
        path = d / f"{entity}.{f}"
        if f == "csv":
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")
            w.writerow(cols)
            for r in rows:
                w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
            path.write_bytes(buf.getvalue().encode(enc))
        elif f == "jsonl":
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        elif f == "xlsx":
            from openpyxl import Workbook

            wb = Workbook(write_only=True)
            ws = wb.create_sheet(entity)
            ws.append(cols)
            for r in rows:
                ws.append([r.get(c) for c in cols])
            wb.save(path)
        entry = {"entity": entity, "path": path.name, "format": f, "rows": len(rows),
                 "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        if enc:
            entry["encoding"] = enc
        entries.append(entry)
    manifest = {
        "spec_version": "1.0", "export_id": export_id, "county_code": county, "business_date": business_date,
        "generated_at": generated_at or f"{business_date}T23:30:00+08:00", "mode": mode, "files": entries,
    }
    manifest.update(manifest_overrides or {})
    (d / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return d


def slice_rows(county: str = "410325", n_findings: int = 6, updated: str = "2019-03-15T20:00:00+08:00") -> dict[str, list[dict]]:
    """A small, consistent night: two organisations, one round, two inspections, findings in three categories."""
    p = f"{county}-"
    return {
        "org_units": [{"org_id": p + f"O{i}", "org_name": f"测试乡镇{i}", "org_type": "township", "parent_org_id": None,
                       "in_scope_from": "2017-01-01", "in_scope_to": None, "updated_at": updated} for i in (1, 2)],
        "rounds": [{"round_id": p + "R11-1", "term_no": 11, "round_no": 1, "round_type": "regular",
                    "start_date": "2019-03-01", "end_date": None, "updated_at": updated}],
        "inspections": [
            {"inspection_id": p + f"I{i}", "round_id": p + "R11-1", "org_id": p + f"O{i}", "org_county_code": None,
             "team_name": f"第{i}巡察组", "onsite_start": "2019-03-04", "onsite_end": None, "feedback_date": None,
             "updated_at": updated}
            for i in (1, 2)
        ],
        "findings": [
            {"finding_id": p + f"F{i:04d}", "inspection_id": p + f"I{1 + i % 2}", "category": ("SL1", "SJ1", "SJ2")[i % 3],
             "found_date": "2019-03-15", "summary": f"发现问题摘要 {i}：落实“两个责任”不力", "updated_at": updated}
            for i in range(1, n_findings + 1)
        ],
    }
