"""Quarantine: a rejected export moves, whole, to the county's quarantine area with a report.

The report comes twice: `_report.json` for machines and `_report.md` for people, bilingual
(中文 / English), naming file, row, column, rule and value for every problem.

Reports quote what a county sent as text, never as markup (export spec §10): every value and message in
`_report.md` is HTML-escaped and its Markdown specials are backslash-escaped, so no viewer renders a
county's `<script>`, link or table cell; `_report.json` writes `<`, `>` and `&` as JSON escapes (\u003c …),
the same strings for a JSON reader and inert in any HTML page. Values are bounded excerpts (errors.Problem).
`_report.html` (xuncha.reports.quarantine_page) is the same report as one self-contained page that opens offline,
every county value autoescaped.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
from pathlib import Path

from xuncha.errors import Problem


class Move:
    """Moving an export folder into an area (archive, quarantine), all or nothing: nothing ever sits under the
    export's name in the area before every byte is there. On the same file system a rename does it. Across file
    systems (the archive on another disk) `prepare` copies to a hidden `.<name>.<pid>.part` folder beside the
    destination; a full disk fails there, the partial copy is removed and the source is untouched. `commit` then
    renames the copy into place (a rename needs no space) and removes the source. Files in `extra` (the reports)
    are written into the copy before it is renamed, or beside the renamed folder (undone if that fails)."""

    def __init__(self, src: Path, dest_parent: Path, name: str):
        self.src, self.dest_parent, self.name = src, dest_parent, name
        self.part: Path | None = None

    def prepare(self, extra: dict[str, str] | None = None) -> "Move":
        """Make the move ready (see the class doc): nothing to do on one file system, else copy to the `.part`
        folder with `extra` in it. Returns self; an OSError (a full disk) leaves nothing behind."""
        self.dest_parent.mkdir(parents=True, exist_ok=True)
        if not src_is_link(self.src) and os.lstat(self.src).st_dev == os.stat(self.dest_parent).st_dev:
            return self
        self.part = self.dest_parent / f".{self.name}.{os.getpid()}.part"
        shutil.rmtree(self.part, ignore_errors=True)
        try:
            if src_is_link(self.src):          # a link is moved as what it is, never followed
                self.part.mkdir()
            else:
                shutil.copytree(self.src, self.part, symlinks=True, copy_function=_copy_regular)
            for fname, text in (extra or {}).items():
                (self.part / fname).write_text(text, encoding="utf-8")
        except BaseException:
            self.discard()
            raise
        return self

    def commit(self, extra: dict[str, str] | None = None) -> Path:
        """Put the export in place under its name (a suffix `.2`, `.3`… if taken), writing `extra` beside it after a
        rename; returns where it went."""
        dest = _unique(self.dest_parent, self.name)
        if self.part is None:
            os.rename(self.src, dest)
            try:
                for fname, text in (extra or {}).items():
                    (dest / fname).write_text(text, encoding="utf-8")
            except BaseException:
                for fname in extra or {}:
                    (dest / fname).unlink(missing_ok=True)
                os.rename(dest, self.src)
                raise
            return dest
        os.rename(self.part, dest)
        self.part = None
        if src_is_link(self.src):
            os.unlink(self.src)
        else:
            shutil.rmtree(self.src)
        return dest

    def discard(self) -> None:
        """Drop a prepared copy (the source was never touched)."""
        if self.part is not None:
            shutil.rmtree(self.part, ignore_errors=True)
            self.part = None


def _copy_regular(src: str, dst: str) -> None:
    """copytree's copy function: regular files only; a device, FIFO or socket is never opened (left behind)."""
    import stat

    if stat.S_ISREG(os.lstat(src).st_mode):
        shutil.copy2(src, dst, follow_symlinks=False)


def src_is_link(p: Path) -> bool:
    """True when `p` itself is a symbolic link (moved as a link, never followed: xuncha.extract.landing)."""
    return os.path.islink(p)


def _unique(dest_parent: Path, name: str) -> Path:
    dest = dest_parent / name
    n = 1
    while os.path.lexists(dest):
        n += 1
        dest = dest_parent / f"{name}.{n}"
    return dest


def move_unique(src: Path, dest_parent: Path, name: str, extra: dict[str, str] | None = None) -> Path:
    """Move `src` into `dest_parent/name` (a suffix if that name is taken: a re-delivery), with the files of
    `extra` in it, all or nothing (see `Move`)."""
    move = Move(src, dest_parent, name).prepare(extra)
    return move.commit(extra if move.part is None else None)


def write_report(dest: Path, county_code: str, county_name: str, export_id: str, batch_id: int | None,
                 problems: list[Problem], warnings: list[Problem] = (), data_docs: str | None = None,
                 status: str = "quarantined") -> Path:
    """Write `_report.json`, `_report.md` and `_report.html` into `dest`; returns the path of `_report.md`. `status` is
    `quarantined` (the county's export was rejected and moved here), `rejected_in_place` (rejected, but left where
    it was: `xuncha ingest` without --move; the report says so) or `failed` (the platform could not handle it)."""
    for fname, text in render_report(county_code, county_name, export_id, batch_id, problems, warnings, data_docs,
                                     status).items():
        (dest / fname).write_text(text, encoding="utf-8")
    return dest / "_report.md"


def render_report(county_code: str, county_name: str, export_id: str, batch_id: int | None,
                  problems: list[Problem], warnings: list[Problem] = (), data_docs: str | None = None,
                  status: str = "quarantined") -> dict[str, str]:
    """The three reports of a quarantined (or failed) export, {file name: text}; county values quoted as text."""
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    data = {
        "county_code": county_code,
        "county_name": county_name,
        "export_id": export_id,
        "batch_id": batch_id,
        "status": "quarantined" if status == "rejected_in_place" else status,
        "files_moved": status == "quarantined",
        "quarantined_at": now,
        "problems": [p.to_dict() for p in problems],
        "warnings": [p.to_dict() for p in warnings],
        "data_docs": data_docs,
    }
    report_json = (json.dumps(data, ensure_ascii=False, indent=2).replace("<", "\\u003c").replace(">", "\\u003e")
                   .replace("&", "\\u0026") + "\n")
    head = ([f"# 导出隔离报告 / Quarantine report — {_md(county_name)} {_md(county_code)}, {_md(export_id)}",
             "",
             "本批导出未入库，全部文件已移入隔离区。请修正后以新的导出批次号重新导出该业务日期的数据。  ",
             "This export was not loaded; all its files were moved to quarantine. Fix the problems and send the night "
             "again as a new export (new export_id)."]
            if status == "quarantined" else
            [f"# 导出隔离报告 / Quarantine report — {_md(county_name)} {_md(county_code)}, {_md(export_id)}",
             "",
             "本批导出未入库；文件未移动，仍在原目录（运行时未加 --move），此处只有报告。请修正后以新的导出批次号重新导出该业务日期的数据。  ",
             "This export was not loaded; its files were not moved (the run was without --move) and are still where "
             "they were: only this report is here. Fix the problems and send the night again as a new export (new "
             "export_id)."]
            if status == "rejected_in_place" else
            [f"# 导出处理失败报告 / Failure report — {_md(county_name)} {_md(county_code)}, {_md(export_id)}",
             "",
             "平台处理本批导出时出错，非县区责任，运维人员已收到告警；导出保留在接收区，修复后自动重试。  ",
             "The platform failed while handling this export — not the county's fault. Operators were alerted; the "
             "export stays in the landing area and is retried once the fault is fixed."])
    lines = [
        *head,
        "",
        f"- 批次 / batch: {batch_id if batch_id is not None else '—'}",
        f"- 时间 / at: {now}",
        # Data Docs: for the platform's operators (Airflow UI); the county is sent no platform path (issue 28).
        *(["- 校验详情 / Great Expectations Data Docs: 平台运维人员在 Airflow 界面「巡察 → 隔离报告」中查看 / "
            "operators open it in the Airflow UI (Xuncha → quarantine report)"] if data_docs else []),
        "",
        "行 / row：数据行，1 = 表头后第一行（电子表格中的第 2 行） / data row, 1 = the first row after the header.",
        "",
        "| # | 规则 / rule | 文件 / file | 行 / row | 列 / column | 值 / value | 说明 / detail |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, p in enumerate(problems, 1):
        lines.append(
            f"| {i} | {p.rule_zh} `{_md(p.rule_id)}`{f' ({_md(p.check_words)})' if p.check_words else ''} | {_cell(p.file)} | {p.row if p.row is not None else ''} | "
            f"{_cell(p.column)} | {_cell(p.value)} | {_cell(p.message)}{'<br>' + _cell(p.message_zh) if p.message_zh else ''} |"
        )
    if warnings:
        lines += ["", "## 警告（不影响入库）/ Warnings (would not block loading)", ""]
        lines += [f"- {_cell(w)}" for w in warnings]
    from xuncha.reports import quarantine_page

    return {"_report.json": report_json, "_report.md": "\n".join(lines) + "\n",
            "_report.html": quarantine_page.render(data)}   # the UI's page links Data Docs (orchestration.ui)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def _md(v) -> str:
    """A value as inert Markdown text: HTML-escaped (no tag, entity or script survives), Markdown specials escaped."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", str(v)), quote=False)


def _cell(v) -> str:
    """A table cell: _md, on one line."""
    return "" if v is None else _md(v).replace("\r", " ").replace("\n", " ")
