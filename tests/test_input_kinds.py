"""Input truth, third round (issue 27): each kind of hostile input, in files of our own, through the real pipeline.

What spreadsheets and converters do to exports (error cells, scientific ids, `?` for lost characters, a UTF-8 row
in a GB18030 file), names that only look right (direction, look-alike and zero-width characters in ids, a
manifest `export_id` ending in a line break), inputs that used to crash (Strict Open XML with a formula, half a
surrogate pair, JSON nested 100,000 deep) and errors that must point at the right place (the record holding bad
bytes, CR-only line ends, a 20,000-column header, a 100 KB column name, report rule ids exactly §10.1). Every one
ends `quarantined` naming file, row and column — never `export.failed` — and the county self-check agrees.
The shared examples of each kind are ../shared/inputs-new (test_shared_inputs.py); these are other files.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import query
from inputs_kit import base_rows, finding, has_problem, night, report, sheet_xml_xlsx

from xuncha import registry
from xuncha.errors import RULES_ZH
from xuncha.load import pipeline
from xuncha.spec import load_spec

C = "410302"
T = "2021-04-11T10:00:00+08:00"


@pytest.fixture(scope="module")
def reg():
    return registry.default()


@pytest.fixture(scope="module")
def ingestor(warehouse, reg):
    return pipeline.Ingestor(reg, url=warehouse, move=True)


@pytest.fixture
def ingest(clean, ingestor, reg):
    def run(*dirs, county=C):
        return ingestor.ingest_many(list(dirs), reg.get(county))
    return run


def _csv(entity: str, rows: list[list[str]], encoding: str = "utf-8", newline: str = "\r\n") -> bytes:
    cols = load_spec().entity(entity).column_names
    return newline.join([",".join(cols), *(",".join(r) for r in rows)]).encode(encoding) + newline.encode()


def _problems_of(r, file: str) -> list:
    return [p for p in r.problems if p.file == file]


def test_ids_that_only_look_right_and_text_lost_to_question_marks_are_refused_naming_row_and_column(settings, ingest):
    """Scientific ids (Excel's and LibreOffice's form), direction/look-alike/zero-width characters inside ids, and
    names and summaries whose Chinese became `?` are row.invalid; trimmed ends, full-width ？ and an English
    question stay fine."""
    lost = "城关镇东村村“三资”管理混乱，集体资金12万元账外运行".encode("ascii", "replace").decode("ascii")
    rows = base_rows(C)
    rows["org_units"].append({**rows["org_units"][0], "org_id": "4.10302E+17", "org_name": "第二街道"})
    rows["org_units"].append({**rows["org_units"][0], "org_id": f"{C}-O3", "org_name": "????"})
    rows["inspections"][0]["team_name"] = "?????"
    rows["inspections"].append({**rows["inspections"][0], "inspection_id": f"{C}-I2", "team_name": "第二巡察组",
                                "org_id": f"{C}-O\u04301"})                   # Cyrillic а
    d = night(settings.landing, C, "e1", "2021-04-11", rows | {"findings": [
        finding(C, 1, finding_id=f"{C}-F\u202e1"),                             # right-to-left override
        finding(C, 2, finding_id=f"{C}-F\u200b2"),                             # zero-width space inside
        finding(C, 3, finding_id="4.10304E+017"),                              # LibreOffice's form
        finding(C, 4, lost),
        finding(C, 5, "是否合规？？", finding_id=f"{C}-F5\u200b"),             # full-width ？; ZWSP at the end is trimmed
        finding(C, 6, "Why?? 三资 accounts outside the books")]})
    [r] = ingest(d)
    assert r.status == "quarantined", r.problems
    for file, row, column in [("org_units.csv", 2, "org_id"), ("org_units.csv", 3, "org_name"),
                              ("inspections.csv", 1, "team_name"), ("inspections.csv", 2, "org_id"),
                              ("findings.csv", 1, "finding_id"), ("findings.csv", 2, "finding_id"),
                              ("findings.csv", 3, "finding_id"), ("findings.csv", 4, "summary")]:
        assert has_problem(r, "row.invalid", file, column, row), (file, row, column, r.problems)
    assert not [p for p in _problems_of(r, "findings.csv") if p.row in (5, 6)], r.problems
    data = report(r)
    # §10.1: the rule is exactly a rule id; the check that found it is its own field
    assert {p["rule"] for p in data["problems"]} <= set(RULES_ZH), data["problems"]
    [scientific] = [p for p in data["problems"] if p["value"] == "4.10302E+17"]
    assert scientific["expectation"] == "unexpected_rows_expectation" and "scientific" in scientific["message"]
    [rlo] = [p for p in data["problems"] if p["row"] == 1 and p["file"] == "findings.csv"]
    assert "direction" in rlo["message"] and rlo["column"] == "finding_id"
    [cyrillic] = [p for p in r.problems if p.file == "inspections.csv" and p.row == 2 and p.rule_id == "row.invalid"]
    assert "U+0430 CYRILLIC SMALL LETTER A at position 9" in cyrillic.message, "the look-alike is named"
    assert str(cyrillic).startswith("[row.invalid, as issued 原样]"), "the check in plain words, no GX expectation name"
    assert all(p["message_zh"] for p in data["problems"]), [p for p in data["problems"] if not p["message_zh"]]
    assert "科学计数法" in scientific["message_zh"] and "文本" in scientific["message_zh"]
    assert query(settings_url(), "SELECT count(*) FROM core.org_units") == [(0,)]


def settings_url() -> str:
    from xuncha.warehouse import db
    return db.warehouse_url()


def test_every_hostile_file_of_an_export_is_the_countys_problem_never_export_failed(settings, ingest):
    """One export whose every file breaks in its own way: each is named with its rule, row and column, and the
    export is quarantined, not failed (no crash, no retry)."""
    spec = load_spec()
    base = base_rows(C)
    org = base["org_units"][0]
    gb_rows = [[org["org_id"], "城关镇", "township", "", "2017-01-01", "", T],
               [f"{C}-O2", "城关镇南街社区", "township", "", "2017-01-01", "", T],   # replaced by its UTF-8 bytes
               [f"{C}-O3", "西关社区", "township", "", "2017-01-01", "", T]]
    gb = _csv("org_units", gb_rows, "gb18030").split(b"\r\n")
    gb[2] = ",".join(gb_rows[1]).encode("utf-8")                        # row 2 (line 3) appended by another system
    org_units = b"\r\n".join(gb)
    rounds = _csv("rounds", [[f"{C}-R1", "11", "1", "regular", "2021-04-01", "", T]], newline="\r")
    # json.dumps writes half a surrogate pair as its escape, as the exporter did: "第一巡察组\ud83d"
    inspections = json.dumps({**base["inspections"][0], "team_name": "第一巡察组\ud83d"}) + "\n"
    findings = sheet_xml_xlsx([spec.entity("findings").column_names,
                               [f"{C}-F1", f"{C}-I1", "SJ1", "2021-04-11", "摘要", T],
                               [f"{C}-F2", f"{C}-I1", "SJ1", "2021-04-11", ("f", 'CONCAT("摘","要")', "摘要"), T]],
                              strict=True)
    clues = (json.dumps({"clue_id": f"{C}-C1", "inspection_id": f"{C}-I1", "recipient": "other",
                         "transfer_date": "2021-04-11", "updated_at": T}) + "\n"
             + '{"clue_id": "' + C + '-C2", "disposal_method": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    outcomes = json.dumps({"outcome_id": f"{C}-X1", "clue_id": f"{C}-C1", "person_ref": "P-0A1B2C3D4E",
                           "outcome_type": "sanction", "person_rank": "other", "decision_date": "2021-04-11",
                           "updated_at": T})[:-1] + ', "amount_recovered": 1.8E7}\n'
    rectifications = sheet_xml_xlsx([spec.entity("rectifications").column_names,   # #REF! in a required column
                                     [f"{C}-T1", f"{C}-I1", None, ("e", "#REF!"), "2021-06-30", "ongoing", None, T]])
    surveys = [[f"{C}-S{n}", f"{C}-I1", "2021-05-01", "10", "8", "1", "1", T] for n in range(1, 401)]
    surveys_bytes = bytearray(_csv("satisfaction_surveys", surveys))
    at = surveys_bytes.index(f"{C}-S300,".encode())
    surveys_bytes[at + len(C) + 2] = 0xA0                                 # a Latin-1 no-break space inside row 300
    raw = {"org_units": ("csv", "gb18030", org_units, 3), "rounds": ("csv", "utf-8", rounds, 1),
           "inspections": ("jsonl", None, inspections.encode(), 1), "findings": ("xlsx", None, findings, 2),
           "clues": ("jsonl", None, clues.encode(), 2), "case_outcomes": ("jsonl", None, outcomes.encode(), 1),
           "rectifications": ("xlsx", None, rectifications, 1),
           "satisfaction_surveys": ("csv", "utf-8", bytes(surveys_bytes), 400)}
    d = night(settings.landing, C, "e1", "2021-04-11", {}, raw=raw)
    started = time.monotonic()
    [r] = ingest(d)
    assert r.status == "quarantined", r.problems
    assert time.monotonic() - started < 60
    want = [("file.encoding", "org_units.csv", None, 2), ("file.format", "rounds.csv", None, 0),
            ("row.invalid", "inspections.jsonl", "team_name", 1), ("row.invalid", "findings.xlsx", "summary", 2),
            ("file.format", "clues.jsonl", None, 2), ("row.invalid", "case_outcomes.jsonl", "amount_recovered", 1),
            ("row.invalid", "rectifications.xlsx", "responsible_org", 1),
            ("file.encoding", "satisfaction_surveys.csv", None, 300)]
    for rule, file, column, row in want:
        assert has_problem(r, rule, file, column, row), (rule, file, column, row, [str(p) for p in r.problems])
    by_file = {p.file: p for p in r.problems}
    assert "CR" in by_file["rounds.csv"].message and "LF" in by_file["rounds.csv"].message
    assert "18000000" in by_file["case_outcomes.jsonl"].message, "the error says what form is wanted"
    [ref] = _problems_of(r, "rectifications.xlsx")
    assert ref.value == "#REF!" and "error value" in ref.message and "required" not in ref.message
    assert not any(p.rule.startswith("export.failed") for p in r.problems)
    assert all(p.message_zh for p in r.problems), [str(p) for p in r.problems if not p.message_zh]
    assert "回车" in by_file["rounds.csv"].message_zh and "GB18030" in by_file["org_units.csv"].message_zh
    text = (r.moved_to / "_report.json").read_text(encoding="utf-8")
    assert "\\\\ud83d" in text, "half a surrogate is quoted as its escape in the report"


def test_a_header_of_20000_junk_columns_gives_a_bounded_report_without_false_problems(settings, ingest):
    cols = load_spec().entity("findings").column_names
    junk = [f"junk{n}" for n in range(20_000)] + ["", ""]
    header = ",".join(cols[:3] + junk + cols[3:])
    big_name = "列" * 100_000
    f1 = (header + "\r\n").encode()
    f2 = (",".join(cols + [big_name]) + "\r\n").encode()
    started = time.monotonic()
    [r1] = ingest(night(settings.landing, C, "e1", "2021-04-11", base_rows(C),
                        raw={"findings": ("csv", "utf-8", f1, 0)}))
    [r2] = ingest(night(settings.landing, C, "e2", "2021-04-12", base_rows(C),
                        raw={"findings": ("csv", "utf-8", f2, 0)}))
    assert time.monotonic() - started < 30, "a wide header or a 100 KB column name costs seconds, not minutes"
    assert r1.status == r2.status == "quarantined"
    p1 = _problems_of(r1, "findings.csv")
    assert 1 < len(p1) <= 20, len(p1)
    assert not any("missing" in p.message for p in p1), "every spec column is present"
    assert [p.column for p in p1 if "times" in p.message] == [""], "only the empty name is repeated"
    assert any("19,991 more unknown columns" in p.message for p in p1), [p.message for p in p1]
    [p2] = _problems_of(r2, "findings.csv")
    assert p2.rule == "file.columns" and len(p2.column) < 300 and len(json.dumps(report(r2))) < 20_000


def test_a_manifest_export_id_ending_in_a_line_break_fails_the_schema(settings, ingest):
    d = night(settings.landing, C, "e1", "2021-04-11", base_rows(C))
    m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    m["export_id"] = "e1\n"
    (d / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    [r] = ingest(d)
    assert r.status == "quarantined" and has_problem(r, "manifest.schema", "manifest.json", "export_id"), r.problems


def test_a_manifest_field_that_fails_its_pattern_is_told_in_plain_words_not_a_regex(tmp_path):
    """County trial: `export_id: '…\\n' does not match '^[A-Za-z0-9]…$'`. The schema problem says what is wrong
    and what to do, in English and Chinese, and names the characters that are not allowed."""
    from xuncha.extract import manifest

    d = night(tmp_path, C, "e1", "2021-04-11", base_rows(C))
    m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    for value, words, zh in [("e1\n", "ends in a line break", "末尾带有换行符"),
                             ("e1 2021/04", "holds characters other than A-Z a-z 0-9 . _ - (U+0020 /)", "U+0020 /"),
                             ("", "is empty", "为空")]:
        (d / "manifest.json").write_text(json.dumps(m | {"export_id": value}), encoding="utf-8")
        got, [p] = manifest.read(d)
        assert got is None and (p.rule, p.column, p.value) == ("manifest.schema", "export_id", value)
        assert words in p.message and "[A-Za-z" not in p.message and "^" not in p.message, p.message
        assert zh in p.message_zh and "export_id" in p.message_zh
    (d / "manifest.json").write_text(json.dumps(m | {"county_code": "41030"}), encoding="utf-8")
    _, [p] = manifest.read(d)
    assert "six digits" in p.message and "6 位数字" in p.message_zh and "[0-9]" not in p.message


def test_utf16_files_and_gb18030_declared_utf8_say_what_the_file_is(settings, ingest):
    """County trial: Excel's "Unicode text" (UTF-16, with a BOM or without) was called "CR-only line ends", and
    GB18030 bytes in a file declared utf-8 "invalid start byte (byte 0xb3)". Both are file.encoding saying which
    encoding the file is and what to do (§8.1), naming the row."""
    org = base_rows(C)["org_units"][0]
    cols = load_spec().entity("org_units").column_names
    text = "\r\n".join([",".join(cols), ",".join(org[c] or "" for c in cols)]) + "\r\n"
    second = ",".join({**org, "org_id": f"{C}-O2", "org_name": "城关镇南街社区"}[c] or "" for c in cols) + "\r\n"
    variants = {"u16le": b"\xff\xfe" + text.encode("utf-16-le"), "u16be": b"\xfe\xff" + text.encode("utf-16-be"),
                "u16nobom": text.encode("utf-16-le"), "u32": text.encode("utf-32"),
                "gb": text.encode("utf-8") + second.encode("gb18030")}
    dirs = [night(settings.landing, C, name, "2021-04-11", {}, raw={"org_units": (
        "csv", "utf-8", data, 2 if name == "gb" else 1)}) for name, data in variants.items()]
    results = {r.export_id: r for r in ingest(*dirs)}
    for name in ("u16le", "u16be", "u16nobom", "u32"):
        [p] = results[name].problems
        assert (p.rule, p.file) == ("file.encoding", "org_units.csv") and "CR" not in p.message, p
        assert ("UTF-32" if name == "u32" else "UTF-16") in p.message and "CSV UTF-8" in p.message
        assert "另存为" in p.message_zh
    [p] = results["gb"].problems
    assert (p.rule, p.row) == ("file.encoding", 2) and "looks like GB18030" in p.message, p
    assert "declare `gb18030`" in p.message and p.value.startswith(f"{C}-O2,城关镇南街社区") and "gb18030" in p.message_zh


def test_ingest_exits_non_zero_when_the_platform_failed_on_an_export(settings, clean, monkeypatch):
    """`xuncha ingest` printed "1 failed" and exited 0 (issue 27): a failure of ours now exits 3."""
    from typer.testing import CliRunner

    from xuncha.cli import app
    from xuncha.load import merge as loading

    def broken(*a, **k):
        raise RuntimeError("a defect of ours")

    monkeypatch.setattr(loading, "merge", broken)
    d = night(settings.landing, C, "e1", "2021-04-11", base_rows(C))
    res = CliRunner().invoke(app, ["ingest", str(d), "--county", C])
    assert "1 failed" in res.output and res.exit_code == 3, (res.exit_code, res.output)


def test_the_county_self_check_gives_the_same_verdict_on_ids_and_lost_text(tmp_path):
    from xuncha.intake import selfcheck

    rows = base_rows(C)
    rows["org_units"][0]["org_name"] = "??????"
    d = night(tmp_path, C, "e1", "2021-04-11", rows | {"findings": [finding(C, 1, finding_id="4.10302E+17"),
                                                                     finding(C, 2, finding_id=f"{C}-F\u202e2")]})
    rep = selfcheck.check_export(d)
    assert rep.exit_code == 2
    got = {(p.rule.split(":")[0], p.file, p.row, p.column) for p in rep.critical}
    assert {("row.invalid", "org_units.csv", 1, "org_name"), ("row.invalid", "findings.csv", 1, "finding_id"),
            ("row.invalid", "findings.csv", 2, "finding_id")} <= got, rep.lines()
