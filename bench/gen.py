"""Writers of large, valid findings exports for the benchmarks (real files, real SHA-256 in the manifest).

Same layout as tests/exports.py's `write_export` (OUT/<county>/<export_id>/manifest.json + one CSV per
entity), but streamed in chunks so a 2 GB export is written without holding it in memory.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FINDING_COLS = ["finding_id", "inspection_id", "category", "found_date", "summary", "updated_at"]
ROUND_COLS = ["round_id", "term_no", "round_no", "round_type", "start_date", "end_date", "updated_at"]
ORG_COLS = ["org_id", "org_name", "org_type", "parent_org_id", "in_scope_from", "in_scope_to", "updated_at"]
INSPECTION_COLS = ["inspection_id", "round_id", "org_id", "org_county_code", "team_name", "onsite_start",
                   "onsite_end", "feedback_date", "updated_at"]
CATEGORIES = ("SL1", "SL2", "SL3", "SL4", "SJ1", "SJ2", "SJ3", "OT")
UPDATED = "2024-06-01T20:00:00+08:00"
_PHRASE = "落实“两个责任”不力，基层党组织软弱涣散，群众身边腐败问题和不正之风仍有发生。"


def _write(path: Path, header: list[str], lines) -> tuple[str, int, int]:
    """Write header + lines (an iterable of str chunks); returns sha256, bytes, rows."""
    h = hashlib.sha256()
    size = rows = 0
    with path.open("wb") as fh:
        for chunk in ([",".join(header) + "\r\n"], *lines):
            data = "".join(chunk).encode("utf-8")
            h.update(data)
            fh.write(data)
            size += len(data)
            rows += len(chunk)
    return h.hexdigest(), size, rows - 1


def summary_text(chars: int) -> str:
    return (_PHRASE * (chars // len(_PHRASE) + 1))[:chars]


def write_findings_export(root: Path, county: str, export_id: str, n_findings: int, summary_chars: int = 24,
                          n_inspections: int = 200, business_date: str = "2024-06-01") -> tuple[Path, int]:
    """A delta export: the organisations inspected, 1 round, `n_inspections` inspections, `n_findings` findings
    (every reference resolves, export spec §4.8). Returns (dir, total bytes)."""
    d = root / county / export_id
    d.mkdir(parents=True, exist_ok=True)
    p = f"{county}-"
    body = summary_text(summary_chars)

    def orgs():
        yield [f"{p}O{i},测试单位{i},dept,,2017-01-01,,{UPDATED}\r\n" for i in range(n_inspections)]

    def rounds():
        yield [f"{p}R11-1,11,1,regular,2024-01-02,,{UPDATED}\r\n"]

    def inspections():
        yield [f"{p}I{i},{p}R11-1,{p}O{i},,第{i % 9 + 1}巡察组,2024-01-08,,,{UPDATED}\r\n" for i in range(n_inspections)]

    def findings(chunk: int = 20000):
        for start in range(0, n_findings, chunk):
            yield [f"{p}F{i:09d},{p}I{i % n_inspections},{CATEGORIES[i % 8]},2024-05-{1 + i % 28:02d},"
                   f"问题{i}：{body},{UPDATED}\r\n" for i in range(start, min(start + chunk, n_findings))]

    entries, total = [], 0
    for entity, cols, gen in (("org_units", ORG_COLS, orgs), ("rounds", ROUND_COLS, rounds), ("inspections", INSPECTION_COLS, inspections),
                              ("findings", FINDING_COLS, findings)):
        sha, size, rows = _write(d / f"{entity}.csv", cols, gen())
        total += size
        entries.append({"entity": entity, "path": f"{entity}.csv", "format": "csv", "encoding": "utf-8",
                        "rows": rows, "sha256": sha})
    manifest = {"spec_version": "1.0", "export_id": export_id, "county_code": county, "business_date": business_date,
                "generated_at": f"{business_date}T23:30:00+08:00", "mode": "delta", "files": entries}
    (d / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return d, total


def chars_for_row_bytes(row_bytes: int) -> int:
    """Summary length (CJK chars, 3 bytes each in UTF-8) giving findings rows of about `row_bytes` bytes."""
    return max(4, (row_bytes - 90) // 3)
