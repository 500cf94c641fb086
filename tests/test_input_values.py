"""Every value a county sends lands exactly as sent, or the export is quarantined (issue 11, kinds 1–4 and 6).

Inputs are written here, in every format the kind applies to (CSV UTF-8 and GB18030, XLSX, JSON Lines), and go
through the real pipeline on the suite's PostgreSQL: staging, Great Expectations, the merge.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import query
from inputs_kit import FORMATS, base_rows, finding, has_problem, night, xlsx_bytes

from xuncha import registry
from xuncha.load import pipeline
from xuncha.text import PLACEHOLDERS, TRIM_CHARS

C = "410302"


@pytest.fixture(scope="module")
def reg():
    return registry.default()


@pytest.fixture(scope="module")
def ingestor(warehouse, reg):
    return pipeline.Ingestor(reg, url=warehouse)


@pytest.fixture
def ingest(clean, ingestor, reg):
    def run(*dirs, county=C):
        return ingestor.ingest_many(list(dirs), reg.get(county))
    return run


def settings_url() -> str:
    """The suite's warehouse (the `clean` fixture has emptied it for the test)."""
    from xuncha.warehouse import db
    return db.warehouse_url()


def ext(fmt: str) -> str:
    return fmt.split("-")[0]


# -- 1 trimmed text -------------------------------------------------------------------------------------------------

def test_the_sql_definition_of_trimmed_text_is_the_python_one(warehouse):
    every = "".join(chr(c) for c in range(1, 0x3100) if not 0xD800 <= c < 0xE000) + "\ufeff"
    sql_trimmed = {r[0] for r in query(warehouse, "SELECT c FROM unnest(%s::text[]) c WHERE staging.trimmed('a' || c) = 'a'",
                                        (list(every),))}
    assert sql_trimmed == set(TRIM_CHARS)
    assert query(warehouse, "SELECT staging.trimmed(%s)", (" \u00a0\u3000\u200b\ufeff",))[0][0] is None
    assert query(warehouse, "SELECT staging.trimmed(%s)", ("\u3000a\u00a0b\u200b",))[0][0] == "a\u00a0b"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_key_sent_again_with_unicode_spaces_is_the_same_key(fmt, settings, ingest):
    first = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | {"findings": [
        finding(C, n, "初版") for n in range(1, 6)]}, fmt)
    pads = ["\u00a0", "\u3000", "\u200b", "\ufeff", " \u2003"]
    second = night(settings.landing, C, "e2", "2021-04-12", {"findings": [
        finding(C, n, "第二版", "2021-04-12T10:00:00+08:00", finding_id=pad + f"{C}-F{n}" + pad[::-1],
                inspection_id=f"{C}-I1" + pad) for n, pad in enumerate(pads, 1)]}, fmt)
    assert [r.status for r in ingest(first, second)] == ["loaded", "loaded"]
    assert query(settings_url(), "SELECT count(*), count(*) FILTER (WHERE summary = '第二版') FROM core.findings") == [(5, 5)]
    assert query(settings_url(), "SELECT count(*) FROM core.findings WHERE finding_id <> btrim(finding_id)") == [(0,)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_key_twice_after_trimming_is_the_duplicate_key_quarantine(fmt, settings, ingest):
    d = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | {"findings": [
        finding(C, 1), finding(C, 2), finding(C, 1, finding_id=f"{C}-F1\u3000")]}, fmt)
    [r] = ingest(d)
    assert r.status == "quarantined"
    assert has_problem(r, "row.invalid", f"findings.{ext(fmt)}", "finding_id", 3), r.problems


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_required_value_empty_after_trimming_is_the_required_quarantine_and_later_nights_load(fmt, settings, ingest):
    bad = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | {"findings": [
        finding(C, 1, "\u3000\u00a0 "), finding(C, 2, "\u200b"), finding(C, 3)]}, fmt)
    good = night(settings.landing, C, "e2", "2021-04-12", base_rows(C) | {"findings": [finding(C, 4)]}, fmt)
    bad_r, good_r = ingest(bad, good)
    assert bad_r.status == "quarantined" and good_r.status == "loaded"
    for row in (1, 2):
        assert has_problem(bad_r, "row.invalid", f"findings.{ext(fmt)}", "summary", row), bad_r.problems
    assert query(settings_url(), "SELECT finding_id FROM core.findings") == [(f"{C}-F4",)]


def test_a_full_snapshot_compares_trimmed_keys_and_references_resolve_trimmed(settings, ingest):
    first = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | {"findings": [finding(C, 1), finding(C, 2)]})
    snap = night(settings.landing, C, "e2", "2021-04-12", {
        "inspections": [dict(base_rows(C)["inspections"][0], round_id=f"\u00a0{C}-R1\u3000")],
        "findings": [finding(C, 1, finding_id=f"{C}-F1\u00a0", inspection_id=f"\u200b{C}-I1")]}, mode="full")
    assert [r.status for r in ingest(first, snap)] == ["loaded", "loaded"]
    assert query(settings_url(), "SELECT finding_id, withdrawn_at IS NULL FROM core.findings ORDER BY 1") == [
        (f"{C}-F1", True), (f"{C}-F2", False)]


# -- 2 encodings ----------------------------------------------------------------------------------------------------

def test_utf8_bytes_declared_gb18030_and_gb18030_declared_utf8_are_file_encoding(settings, ingest):
    rows = [finding(C, 1, "ASCII only"), finding(C, 2, "铁门镇党员长期未参加组织生活")]
    from inputs_kit import _csv
    a = night(settings.landing, C, "e1", "2021-04-11", base_rows(C),
              raw={"findings": ("csv", "gb18030", _csv("findings", rows, "utf-8"), 2)})
    b = night(settings.landing, C, "e2", "2021-04-12", base_rows(C),
              raw={"findings": ("csv", "utf-8", _csv("findings", rows, "gb18030"), 2)})
    ra, rb = ingest(a, b)
    assert ra.status == rb.status == "quarantined"
    assert has_problem(ra, "file.encoding", "findings.csv", row=2), ra.problems
    assert has_problem(rb, "file.encoding", "findings.csv"), rb.problems
    assert query(settings_url(), "SELECT count(*) FROM core.findings") == [(0,)]


@pytest.mark.parametrize("fmt", ["csv-utf-8", "csv-gb18030", "jsonl"])
def test_a_nul_character_is_reported_with_row_and_column_not_as_an_encoding(fmt, settings, ingest):
    d = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | {"findings": [
        finding(C, 1), finding(C, 2, "摘要\x00\x00")]}, fmt)
    [r] = ingest(d)
    assert r.status == "quarantined"
    assert has_problem(r, "row.invalid", f"findings.{ext(fmt)}", "summary", 2), r.problems
    assert not has_problem(r, "file.encoding")


# -- 3 XLSX ---------------------------------------------------------------------------------------------------------

def _xlsx_night(settings, export_id, day, data: bytes, rows: int, entity="findings"):
    return night(settings.landing, C, export_id, day, base_rows(C), fmt="xlsx", raw={entity: ("xlsx", None, data, rows)})


def test_xlsx_date_cells_in_every_date_format_and_both_date_systems_read_as_that_date(settings, ingest):
    day = dt.date(2021, 4, 11)
    dirs = []
    for i, (num_format, d1904) in enumerate([('yyyy"年"m"月"d"日"', False), ("m/d/yyyy", False), ("yyyy-mm-dd", True),
                                             ('[$-F800]dddd, mmmm dd, yyyy', False), ("d-mmm-yy", True)], 1):
        data = xlsx_bytes("findings", [finding(C, i, found_date=day)], date_1904=d1904, formats={"found_date": num_format})
        dirs.append(_xlsx_night(settings, f"e{i}", f"2021-04-1{i}", data, 1))
    assert [r.status for r in ingest(*dirs)] == ["loaded"] * 5
    assert query(settings_url(), "SELECT count(*) FROM core.findings WHERE found_date = '2021-04-11'") == [(5,)]


def test_xlsx_every_cell_is_read_whatever_the_stored_dimension_says(settings, ingest, tmp_path):
    import zipfile
    data = xlsx_bytes("findings", [finding(C, n, f"第{n}条") for n in (1, 2, 3)])
    src, out = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    src.write_bytes(data)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                import re
                body = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>', body)
                assert b'<dimension ref="A1"/>' in body
            zout.writestr(item, body)
    [r] = ingest(_xlsx_night(settings, "e1", "2021-04-11", out.read_bytes(), 3))
    assert r.status == "loaded", r.problems
    assert query(settings_url(), "SELECT summary FROM core.findings ORDER BY 1") == [("第1条",), ("第2条",), ("第3条",)]


@pytest.mark.parametrize("case", ["merged", "formula-cached", "formula-uncached", "empty-header", "number-id",
                                  "16-digit-id", "date-in-text", "bool"])
def test_xlsx_cells_that_cannot_be_read_as_sent_are_quarantined_with_their_address(case, settings, ingest):
    rows = [finding(C, 1), finding(C, 2)]
    header, build, where = None, None, ("summary", 2)
    if case == "merged":
        def build(wb, ws):
            ws.merge_range("E3:F3", "合并")
        where = ("file.format", None)
    elif case.startswith("formula"):
        def build(wb, ws):
            ws.write_formula("E3", "=CONCATENATE(\"a\",\"b\")", None, "ab" if case == "formula-cached" else 0)
        where = ("summary", 2)
    elif case == "empty-header":
        header = ["finding_id", "inspection_id", None, "category", "found_date", "summary", "updated_at"]
        rows = [[r["finding_id"], r["inspection_id"], None, r["category"], r["found_date"], r["summary"],
                 r["updated_at"]] for r in rows]
        where = ("C1", 0)
    elif case == "number-id":
        rows[1]["finding_id"] = 120
        where = ("finding_id", 2)
    elif case == "16-digit-id":
        rows[1]["inspection_id"] = 4103040010010001
        where = ("inspection_id", 2)
    elif case == "date-in-text":
        rows[1]["summary"] = dt.date(2021, 4, 11)
    elif case == "bool":
        rows[1]["summary"] = True
    data = xlsx_bytes("findings", rows, header=header, build=build)
    [r] = ingest(_xlsx_night(settings, "e1", "2021-04-11", data, 2))
    assert r.status == "quarantined"
    column, row = where
    if column == "file.format":
        assert has_problem(r, "file.format", "findings.xlsx") and "E3:F3" in str(r.problems)
    else:
        assert has_problem(r, "", "findings.xlsx", column, row), r.problems
    assert query(settings_url(), "SELECT count(*) FROM core.findings") == [(0,)]


# -- 4 placeholders and references ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_placeholder_words_in_ids_codes_dates_and_numbers_are_never_stored(fmt, settings, ingest):
    words = list(PLACEHOLDERS)
    findings = [finding(C, n, inspection_id=w) for n, w in enumerate(words, 1)]
    findings += [finding(C, 100 + n, category=w) for n, w in enumerate(words[:4], 1)]
    findings += [finding(C, 200 + n, found_date=w) for n, w in enumerate(words[:4], 1)]
    orgs = base_rows(C)["org_units"] + [
        dict(base_rows(C)["org_units"][0], org_id=f"{C}-O{n + 2}", org_type="village", parent_org_id=w)
        for n, w in enumerate(words[:3])]
    d = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | {"org_units": orgs, "findings": findings}, fmt)
    [r] = ingest(d)
    assert r.status == "quarantined"
    e = ext(fmt)
    assert has_problem(r, "row.invalid", f"findings.{e}", "inspection_id")
    assert has_problem(r, "row.reference", f"findings.{e}", "inspection_id")
    assert has_problem(r, "row.invalid", f"findings.{e}", "category")
    assert has_problem(r, "row.invalid", f"findings.{e}", "found_date")
    assert has_problem(r, "row.invalid", f"org_units.{e}", "parent_org_id")
    sample = {s["value"] for o in query(settings_url(), "SELECT sample FROM audit.validation_results "
                                                      "WHERE batch_id = %s AND column_name = 'inspection_id' "
                                                      "AND NOT success", (r.batch_id,)) for s in o[0]}
    assert {"None", "nan", "NULL", "N/A", "-", "—"} <= sample


@pytest.mark.parametrize("entity,column,fmt", [
    ("inspections", "round_id", "csv-utf-8"), ("inspections", "org_id", "jsonl"), ("findings", "inspection_id", "xlsx"),
    ("org_units", "parent_org_id", "csv-gb18030"), ("rectifications", "finding_id", "csv-utf-8"),
    ("clues", "inspection_id", "jsonl"), ("case_outcomes", "clue_id", "csv-utf-8"),
    ("satisfaction_surveys", "inspection_id", "xlsx")])
def test_every_reference_column_the_spec_names_quarantines_when_unresolved(entity, column, fmt, settings, ingest):
    p = f"{C}-"
    rows = {
        "org_units": dict(base_rows(C)["org_units"][0], org_id=p + "O2", org_type="village", parent_org_id=p + "O1"),
        "inspections": dict(base_rows(C)["inspections"][0], inspection_id=p + "I2"),
        "findings": finding(C, 9),
        "rectifications": {"task_id": p + "T1", "inspection_id": p + "I1", "finding_id": p + "F1",
                           "responsible_org": "测试街道", "due_date": "2021-06-11", "status": "in_progress",
                           "completed_date": None, "updated_at": "2021-04-11T10:00:00+08:00"},
        "clues": {"clue_id": p + "C1", "inspection_id": p + "I1", "recipient": "discipline", "transfer_date": "2021-04-11",
                  "disposal_method": None, "closed_date": None, "updated_at": "2021-04-11T10:00:00+08:00"},
        "case_outcomes": {"outcome_id": p + "D1", "clue_id": p + "C1", "person_ref": "P-9A1B2C3D4E5F",
                          "outcome_type": "sanction", "person_rank": "other", "decision_date": "2021-04-11",
                          "amount_recovered": None, "updated_at": "2021-04-11T10:00:00+08:00"},
        "satisfaction_surveys": {"survey_id": p + "S1", "inspection_id": p + "I1", "survey_date": "2021-04-11",
                                 "respondents": 10, "satisfied": 8, "basically_satisfied": 1, "dissatisfied": 1,
                                 "updated_at": "2021-04-11T10:00:00+08:00"},
    }
    good = dict(rows[entity])
    bad = dict(rows[entity], **{load_key(entity): good[load_key(entity)] + "X", column: p + "NEVER-SENT"})
    extra = {"findings": [finding(C, 1)]} if entity == "rectifications" else {}
    extra |= {"clues": [rows["clues"]]} if entity == "case_outcomes" else {}
    d = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | extra | {entity: [good, bad]}, fmt)
    [r] = ingest(d)
    assert r.status == "quarantined"
    assert has_problem(r, "row.reference", f"{entity}.{ext(fmt)}", column, 2), r.problems
    assert query(settings_url(), f"SELECT count(*) FROM core.{entity}") == [(0,)]


def load_key(entity):
    from xuncha.spec import load_spec
    return load_spec().entity(entity).key


# -- 6 JSON Lines ---------------------------------------------------------------------------------------------------

def test_jsonl_values_of_the_wrong_json_kind_are_quarantined_never_stored_converted(settings, ingest):
    lines = [finding(C, 1, {"a": 1}), finding(C, 2, [1, 2]), finding(C, 3, True),
             finding(C, 4, 12345678901234567890.5), finding(C, 5, inspection_id=12345), finding(C, 6)]
    import json
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
    text = text.replace("1.2345678901234567e+19", "12345678901234567890.5")
    d = night(settings.landing, C, "e1", "2021-04-11", base_rows(C), fmt="jsonl",
              raw={"findings": ("jsonl", None, text.encode(), len(lines))})
    dup = night(settings.landing, C, "e2", "2021-04-12", base_rows(C), fmt="jsonl", raw={"findings": (
        "jsonl", None, b'{"finding_id":"410302-F7","finding_id":"410302-F8","inspection_id":"410302-I1","category":"SJ1",'
        b'"found_date":"2021-04-11","summary":"x","updated_at":"2021-04-11T10:00:00+08:00"}\n', 1)})
    nan = night(settings.landing, C, "e3", "2021-04-13", base_rows(C), fmt="jsonl", raw={"satisfaction_surveys": (
        "jsonl", None, b'{"survey_id":"S1","inspection_id":"410302-I1","survey_date":"2021-04-11","respondents":NaN,'
        b'"satisfied":1,"basically_satisfied":0,"dissatisfied":0,"updated_at":"2021-04-11T10:00:00+08:00"}\n', 1)})
    r, rd, rn = ingest(d, dup, nan)
    assert r.status == rd.status == rn.status == "quarantined"
    for row, column in ((1, "summary"), (2, "summary"), (3, "summary"), (4, "summary"), (5, "inspection_id")):
        assert has_problem(r, "row.invalid", "findings.jsonl", column, row), (row, r.problems)
    assert has_problem(rd, "file.format", "findings.jsonl", row=1) and "twice" in str(rd.problems)
    assert has_problem(rn, "file.format", "satisfaction_surveys.jsonl", row=1)
    assert query(settings_url(), "SELECT count(*) FROM core.findings") == [(0,)]


def test_jsonl_numbers_keep_their_exact_text(settings, ingest):
    outcome = ('{"outcome_id":"410302-D1","clue_id":"410302-C1","person_ref":"P-9A1B2C3D4E5F","outcome_type":"sanction",'
               '"person_rank":"other","decision_date":"2021-04-11","amount_recovered":12345678901234.57,'
               '"updated_at":"2021-04-11T10:00:00+08:00"}\n')
    clue = {"clue_id": f"{C}-C1", "inspection_id": f"{C}-I1", "recipient": "discipline", "transfer_date": "2021-04-11",
            "disposal_method": None, "closed_date": None, "updated_at": "2021-04-11T10:00:00+08:00"}
    d = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | {"clues": [clue]}, fmt="jsonl",
              raw={"case_outcomes": ("jsonl", None, outcome.encode(), 1)})
    [r] = ingest(d)
    assert r.status == "loaded", r.problems
    assert query(settings_url(), "SELECT amount_recovered::text FROM core.case_outcomes") == [("12345678901234.57",)]
