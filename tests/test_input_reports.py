"""The quarantine report names county, file, row, column, rule and value of each problem (issue 11, "Done when").

One export per format a county may use, with two wrong values in known places (a code outside its code list in
row 2, an unresolved reference in row 3), through the county's night on the suite's PostgreSQL: `_report.json`
and `_report.md` (what the county reads) both carry, for each problem, the county, the file, the row, the column,
the rule and the value as sent. Behind the `inputs` marker (make test-inputs): make test keeps its budget.
"""

from __future__ import annotations

import json

import pytest
from inputs_kit import FORMATS, base_rows, finding, night

from xuncha import registry
from xuncha.load import county_night
from xuncha.extract import inbox
from xuncha.load import pipeline

pytestmark = pytest.mark.inputs

C = "410302"


@pytest.fixture(scope="module")
def ingestor(warehouse):
    return pipeline.Ingestor(registry.default(), url=warehouse)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_problem_names_county_file_row_column_rule_and_value(fmt, settings, clean, ingestor):
    reg = registry.default()
    d = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | {"findings": [
        finding(C, 1), finding(C, 2, category="XX9"), finding(C, 3, inspection_id=f"{C}-I404")]}, fmt)
    [r] = county_night.run(reg, C, None, url=ingestor.url, exports=[inbox.receive(d)], ingestor=ingestor).exports
    assert r.status == "quarantined", r.problems
    ext = "csv" if fmt.startswith("csv") else fmt
    report = json.loads((r.moved_to / "_report.json").read_text(encoding="utf-8"))
    assert report["county_code"] == C and report["county_name"] and report["export_id"] == "e1"
    want = {("row.invalid", 2, "category", "XX9"), ("row.reference", 3, "inspection_id", f"{C}-I404")}
    # a rule may name its check after a colon (row.invalid:expect_column_values_to_be_in_set)
    got = {(p["rule"].split(":")[0], p["row"], p["column"], p["value"]) for p in report["problems"]
           if p["file"] == f"findings.{ext}"}
    assert want <= got, report["problems"]
    md = (r.moved_to / "_report.md").read_text(encoding="utf-8")
    assert C in md.splitlines()[0]
    lines = [line for line in md.splitlines() if line.startswith("|") and f"findings.{ext}" in line]

    def esc(text: str) -> str:   # Markdown escapes what it quotes (kind 11)
        return text.replace("_", "\\_")

    for rule, row, column, value in want:
        assert any(f"`{esc(rule)}" in line and f"| {row} |" in line and f"| {esc(column)} |" in line
                   and f"| {esc(value)} |" in line for line in lines), (rule, lines)


def test_a_report_says_where_the_files_are_and_what_to_do_in_chinese(settings, clean, ingestor):
    """County trial: `xuncha ingest` without --move wrote "all its files were moved to quarantine" while the files
    stayed in landing; and the fix sentence was English only. Moved or not, the report now says where the files
    are, and each problem carries its Chinese fix (message_zh) in _report.json and _report.md."""
    reg = registry.default()
    rows = base_rows(C) | {"findings": [finding(C, 1, category="XX9"), finding(C, 2, inspection_id=f"{C}-I404")]}
    kept = night(settings.landing, C, "kept", "2021-04-11", rows)
    [r] = pipeline.Ingestor(reg, url=ingestor.url, move=False).ingest_many([kept], reg.get(C))
    assert r.status == "quarantined" and (kept / "manifest.json").is_file(), "without --move the files stay"
    md = (r.moved_to / "_report.md").read_text(encoding="utf-8")
    assert "were not moved" in md and "文件未移动" in md and "were moved to quarantine" not in md, md
    report = json.loads((r.moved_to / "_report.json").read_text(encoding="utf-8"))
    assert report["files_moved"] is False
    zh = {(p["rule"], p["column"]): p["message_zh"] for p in report["problems"]}
    assert "代码表" in zh[("row.invalid", "category")] and "找不到" in zh[("row.reference", "inspection_id")], zh
    assert "请使用规范代码表中的代码" in md

    moved = night(settings.landing, C, "moved", "2021-04-11", rows)
    [m] = pipeline.Ingestor(reg, url=ingestor.url, move=True).ingest_many([moved], reg.get(C))
    md = (m.moved_to / "_report.md").read_text(encoding="utf-8")
    assert not moved.exists() and "all its files were moved to quarantine" in md and "were not moved" not in md
