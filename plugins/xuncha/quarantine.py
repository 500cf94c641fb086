"""Quarantine: a rejected export moves, whole, to the county's quarantine area with a report.

The report comes twice: `_report.json` for machines and `_report.md` for people, bilingual
(中文 / English), naming file, row, column, rule and value for every problem.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from xuncha.errors import Problem


def move_unique(src: Path, dest_parent: Path, name: str) -> Path:
    """Move `src` into `dest_parent/name`, adding a suffix if that name is taken (a re-delivery)."""
    dest_parent.mkdir(parents=True, exist_ok=True)
    dest = dest_parent / name
    n = 1
    while dest.exists():
        n += 1
        dest = dest_parent / f"{name}.{n}"
    shutil.move(str(src), dest)
    return dest


def write_report(dest: Path, county_code: str, county_name: str, export_id: str, batch_id: int | None,
                 problems: list[Problem], warnings: list[Problem] = (), data_docs: str | None = None) -> Path:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    data = {
        "county_code": county_code,
        "county_name": county_name,
        "export_id": export_id,
        "batch_id": batch_id,
        "status": "quarantined",
        "quarantined_at": now,
        "problems": [p.to_dict() for p in problems],
        "warnings": [p.to_dict() for p in warnings],
        "data_docs": data_docs,
    }
    (dest / "_report.json").write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# 导出隔离报告 / Quarantine report — {county_name} {county_code}, {export_id}",
        "",
        "本批导出未入库，全部文件已移入隔离区。请修正后以新的导出批次号重新导出该业务日期的数据。  ",
        "This export was not loaded; all its files were moved to quarantine. Fix the problems and send the night "
        "again as a new export (new export_id).",
        "",
        f"- 批次 / batch: {batch_id if batch_id is not None else '—'}",
        f"- 时间 / at: {now}",
        *([f"- 校验详情 / Great Expectations Data Docs: {data_docs}"] if data_docs else []),
        "",
        "| # | 规则 / rule | 文件 / file | 行 / row | 列 / column | 值 / value | 说明 / detail |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, p in enumerate(problems, 1):
        lines.append(
            f"| {i} | {p.rule_zh} `{p.rule}` | {p.file or ''} | {p.row if p.row is not None else ''} | "
            f"{p.column or ''} | {_cell(p.value)} | {_cell(p.message)} |"
        )
    if warnings:
        lines += ["", "## 警告（不影响入库）/ Warnings (would not block loading)", ""]
        lines += [f"- {w}" for w in warnings]
    (dest / "_report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest / "_report.md"


def _cell(v) -> str:
    return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")
