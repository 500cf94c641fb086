"""The issue-27 input rules one by one, as properties (hypothesis) of the readers and of the rules' SQL.

The readers run on real files written here byte for byte (CSV in UTF-8 and GB18030, workbooks as zip XML,
transitional and Strict Open XML, JSON Lines); the id and lost-text rules run in the suite's PostgreSQL against
their Python twins, so the county self-check, the pipeline and these tests agree on one definition.
test_input_kinds.py takes each kind through the whole pipeline.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import query
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from inputs_kit import sheet_xml_xlsx

from xuncha.extract import manifest as manifest_mod
from xuncha.normalize import csvtext, jsonl, xlsx
from xuncha.normalize.columns import StagingFailed, check_columns
from xuncha.spec import load_spec
from xuncha.text import id_as_issued, lost_to_question_marks
from xuncha.validate.suites import as_issued_expectation

FAST = dict(max_examples=40, deadline=None, derandomize=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
T = "2021-04-11T10:00:00+08:00"
ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!")
# Chinese text as counties write it: GB2312's level-1 characters (U+4E00… in GB order is not contiguous; these are
# common characters of county names and summaries)
HANZI = "城关镇东村社区街道巡察组问题线索整改资金管理混乱集体账外运行党委书记落实责任不力未更新公开栏长期"
chinese = st.text(st.sampled_from(HANZI), min_size=3, max_size=20)


# -- XLSX: error cells and Strict Open XML --------------------------------------------------------------------------

@hsettings(**FAST)
@given(error=st.sampled_from(ERRORS), column=st.integers(0, 5), row=st.integers(1, 4), strict=st.booleans())
def test_an_error_cell_anywhere_is_row_invalid_naming_cell_column_and_value(error, column, row, strict, tmp_path_factory):
    e = load_spec().entity("findings")
    good = ["410302-F{}", "410302-I1", "SJ1", "2021-04-11", "摘要", T]
    rows = [e.column_names] + [[v.format(n) for v in good] for n in range(1, 5)]
    rows[row][column] = ("e", error)
    path = tmp_path_factory.mktemp("x") / "findings.xlsx"
    path.write_bytes(sheet_xml_xlsx(rows, strict=strict))
    with pytest.raises(xlsx.XlsxProblems) as exc:
        xlsx.read(path, e, "findings.xlsx")
    [p] = exc.value.problems
    # python-calamine 0.9 cannot read a workbook holding Excel 365's newer error values at all: the cell is named
    # by its column letter then (the header is unread)
    newer = error in ("#GETTING_DATA", "#SPILL!", "#CALC!")
    assert (p.rule, p.row, p.value) == ("row.invalid", row, error)
    assert p.column == (xlsx.cell(row, column)[0] if newer else e.column_names[column])
    assert xlsx.cell(row, column) in p.message


@pytest.mark.parametrize("strict", [False, True])
def test_a_strict_or_transitional_workbook_loads_its_values_and_names_its_formula(strict, tmp_path):
    e = load_spec().entity("rounds")
    row = ["410302-R1", 11, 1, "regular", "2021-04-01", None, T]
    path = tmp_path / "rounds.xlsx"
    path.write_bytes(sheet_xml_xlsx([e.column_names, row], strict=strict, sheet_part="worksheets/data.xml"))
    header, rows = xlsx.read(path, e, "rounds.xlsx")
    assert rows == [["410302-R1", "11", "1", "regular", "2021-04-01", None, T]]
    path.write_bytes(sheet_xml_xlsx([e.column_names, row[:4] + [("f", "TEXT(TODAY(),\"yyyy-mm-dd\")", "2021-04-01")]
                                     + row[5:]], strict=strict))
    with pytest.raises(xlsx.XlsxProblems) as exc:
        xlsx.read(path, e, "rounds.xlsx")
    [p] = exc.value.problems
    assert (p.rule, p.row, p.column) == ("row.invalid", 1, "start_date") and p.value.startswith("=TEXT(")


def test_merged_cells_are_reported_with_their_column(tmp_path):
    from inputs_kit import xlsx_bytes

    e = load_spec().entity("findings")
    rows = [{"finding_id": f"410302-F{n}", "inspection_id": "410302-I1", "category": "SJ1", "found_date": "2021-04-11",
             "summary": "摘要", "updated_at": T} for n in (1, 2)]
    path = tmp_path / "findings.xlsx"
    path.write_bytes(xlsx_bytes("findings", rows, build=lambda wb, ws: ws.merge_range("E2:E3", "摘要")))
    with pytest.raises(xlsx.XlsxProblems) as exc:
        xlsx.read(path, e, "findings.xlsx")
    [p] = [p for p in exc.value.problems if "merged" in p.message]
    assert (p.rule, p.row, p.column, p.value) == ("file.format", 1, "summary", "E2:E3")


# -- CSV: the record holding bad bytes, a UTF-8 row in a GB18030 file, CR-only line ends ---------------------------

@hsettings(**FAST)
@given(n=st.integers(2, 600), data=st.data(), encoding=st.sampled_from(["utf-8", "gb18030"]),
       multiline=st.booleans())
def test_an_undecodable_byte_is_named_in_the_record_that_holds_it(n, data, encoding, multiline, tmp_path_factory):
    bad = data.draw(st.integers(1, n))
    e = load_spec().entity("org_units")
    lines = [",".join(e.column_names)]
    for k in range(1, n + 1):
        name = '"城关镇\r\n东村"' if multiline and k % 7 == 0 else "城关镇东村"
        lines.append(f"410302-O{k},{name},village,,2017-01-01,,{T}")
    blob = "\r\n".join(lines).encode(encoding) + b"\r\n"
    at = blob.index(f"410302-O{bad},".encode()) + 7
    blob = blob[:at] + (b"\xff" if encoding == "gb18030" else b"\x93") + blob[at + 1:]   # cp1252 's left quote
    path = tmp_path_factory.mktemp("c") / "org_units.csv"
    path.write_bytes(blob)
    [p] = csvtext.encoding_problems(path, encoding, "org_units.csv", lambda *a: None)
    assert (p.rule, p.file, p.row) == ("file.encoding", "org_units.csv", bad)
    with pytest.raises(StagingFailed) as exc:   # the Python path (entities with person columns) names it too
        list(csvtext.rows(path, encoding, "org_units.csv"))
    assert exc.value.problems[0].row == bad


@hsettings(**FAST)
@given(texts=st.lists(chinese, min_size=1, max_size=30), data=st.data())
def test_a_utf8_row_in_a_gb18030_file_is_named_and_a_gb18030_file_is_not(texts, data, tmp_path_factory):
    at = data.draw(st.integers(1, len(texts)))
    lines = ["org_id,org_name"] + [f"410302-O{k},{t}" for k, t in enumerate(texts, 1)]
    path = tmp_path_factory.mktemp("g") / "org_units.csv"
    path.write_bytes(b"\r\n".join(line.encode("gb18030") for line in lines))
    assert csvtext.gb18030_problems(path, "org_units.csv") == []
    mixed = [line.encode("utf-8" if k == at else "gb18030") for k, line in enumerate(lines)]
    path.write_bytes(b"\r\n".join(mixed))
    [p] = csvtext.gb18030_problems(path, "org_units.csv")
    assert (p.rule, p.row) == ("file.encoding", at), p


@pytest.mark.parametrize("body", [b"a,b\rc,d\r", b"finding_id,summary\r410302-F1,x\r410302-F2,y"])
def test_carriage_return_only_line_ends_are_named_with_the_file(body, tmp_path):
    path = tmp_path / "findings.csv"
    path.write_bytes(body)
    with pytest.raises(StagingFailed) as exc:
        csvtext.header(path, "utf-8", "findings.csv")
    [p] = exc.value.problems
    assert (p.rule, p.file, p.row) == ("file.format", "findings.csv", 0) and "CR" in p.message


@hsettings(**FAST)
@given(extra=st.lists(st.text(min_size=0, max_size=8), max_size=3000), data=st.data())
def test_a_wide_header_gives_bounded_problems_and_never_a_false_missing_or_twice(extra, data):
    e = load_spec().entity("findings")
    header = data.draw(st.permutations(e.column_names + extra))
    try:
        check_columns(e, header, "findings.csv")
        problems = []
    except StagingFailed as exc:
        problems = exc.problems
    assert len(problems) <= 50
    assert not any("missing" in p.message for p in problems)
    twice = {p.column for p in problems if "times" in p.message}
    assert all(header.count(c) > 1 for c in twice)


# -- JSON Lines: exponents, half surrogates, nesting ----------------------------------------------------------------

@pytest.mark.parametrize(("literal", "form"), [("1.8E7", "18000000"), ("2.5e+3", "2500"), ("1E400", None)])
def test_a_json_decimal_in_exponent_form_is_refused_saying_the_form_wanted(literal, form, tmp_path):
    e = load_spec().entity("case_outcomes")
    path = tmp_path / "case_outcomes.jsonl"
    path.write_text('{"outcome_id": "X1", "amount_recovered": ' + literal + "}\n", encoding="utf-8")
    problems = []
    header, rows = jsonl.rows(path, e, "case_outcomes.jsonl", problems)
    assert list(rows)[0][header.index("amount_recovered")] is None
    [p] = problems
    assert (p.rule, p.row, p.column, p.value) == ("row.invalid", 1, "amount_recovered", literal)
    assert "exponent" in p.message and ("1–2 decimals" in p.message) and (form is None or f"e.g. {form}" in p.message)


@hsettings(**FAST)
@given(half=st.integers(0xD800, 0xDFFF), prefix=st.text(max_size=5).filter(lambda s: not re.search("[\ud800-\udfff]", s)))
def test_half_a_surrogate_pair_is_row_invalid_and_quoted_as_its_escape(half, prefix, tmp_path_factory):
    e = load_spec().entity("findings")
    path = tmp_path_factory.mktemp("j") / "findings.jsonl"
    path.write_text(json.dumps({"finding_id": "F1", "summary": prefix + chr(half)}) + "\n", encoding="utf-8")
    problems = []
    _, rows = jsonl.rows(path, e, "findings.jsonl", problems)
    list(rows)
    [p] = problems
    assert (p.rule, p.row, p.column) == ("row.invalid", 1, "summary")
    assert f"\\u{half:04x}" in p.value and p.value.encode("utf-8")


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_a_value_nested_thousands_deep_is_file_format_not_a_crash(depth, tmp_path):
    e = load_spec().entity("findings")
    path = tmp_path / "findings.jsonl"
    path.write_text('{"finding_id": "F1"}\n{"summary": ' + "{\"a\": " * depth + "1" + "}" * depth + "}\n",
                    encoding="utf-8")
    with pytest.raises(StagingFailed) as exc:
        list(jsonl.rows(path, e, "findings.jsonl", [])[1])
    [p] = exc.value.problems
    assert (p.rule, p.row) == ("file.format", 2) and "nested" in p.message


# -- ids, lost text and the manifest's patterns: one definition in SQL and Python ----------------------------------

scientific = st.builds(lambda m, frac, sign, exp, low: f"{m}{'.' + frac if frac else ''}{'e' if low else 'E'}{sign}{exp}",
                       st.integers(1, 9), st.from_regex(r"[0-9]{0,6}", fullmatch=True), st.sampled_from("+-"),
                       st.from_regex(r"[0-9]{2,3}", fullmatch=True), st.booleans())
ascii_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True)
lookalike = st.sampled_from(["\u202e", "\u202d", "\u200b", "\u200d", "\u2060", "\u0430", "\u0435", "\u043e", "\u0391",
                             "\uff10", "\u00a0", "\u3000"])
ids_with_lookalikes = st.builds(lambda a, c, b: a + c + b, ascii_ids, lookalike, ascii_ids)


def _as_issued_refused(url: str, entity: str, column: str, values: list[str]) -> set[int]:
    """Positions (1-based) of `values` the suite's as-issued query refuses when they fill `column` of `entity`."""
    q = as_issued_expectation(load_spec().entity(entity))["kwargs"]["unexpected_rows_query"]
    cols = load_spec().entity(entity).column_names
    batch = ("(SELECT n AS row_no, " + ", ".join(f"v AS {c}" if c == column else f"NULL::text AS {c}" for c in cols)
             + " FROM unnest(%s::text[]) WITH ORDINALITY u(v, n)) b")
    return {r[0] for r in query(url, q.format(batch=batch), (values,))}


@hsettings(**FAST)
@given(sample=st.lists(st.one_of(scientific, ascii_ids, ids_with_lookalikes), min_size=1, max_size=30))
def test_the_id_rule_refuses_scientific_and_non_ascii_ids_in_postgresql_as_in_python(sample, warehouse):
    for entity, column in (("findings", "finding_id"), ("rectifications", "finding_id")):
        refused = _as_issued_refused(warehouse, entity, column, sample)
        assert refused == {i for i, v in enumerate(sample, 1) if not id_as_issued(v)}, sample
    assert not id_as_issued("4.10302E+17") and not id_as_issued("4.10304E+017") and id_as_issued("410302-E-12")


@hsettings(**FAST)
@given(sample=st.lists(st.text(st.sampled_from("??? ab中文？!12"), max_size=12), min_size=1, max_size=30))
def test_the_lost_text_rule_is_the_same_in_postgresql_and_python(sample, warehouse):
    sample = [s for s in (s.strip() for s in sample) if s] or ["??"]
    refused = _as_issued_refused(warehouse, "findings", "summary", sample)
    assert refused == {i for i, s in enumerate(sample, 1) if lost_to_question_marks(s)}, sample
    assert lost_to_question_marks("????12??????") and not lost_to_question_marks("Why?? 三资 accounts")


@hsettings(**FAST)
@given(export_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True),
       tail=st.sampled_from(["\n", "\r\n", " ", "\u2028"]))
def test_a_manifest_pattern_matches_the_whole_value_as_json_schema_means(export_id, tail):
    from xuncha.spec import manifest_schema

    validator = manifest_mod._validator_class()(manifest_schema())
    pattern = manifest_schema()["properties"]["export_id"]["pattern"]
    assert not list(validator.descend(export_id, {"pattern": pattern}))
    assert list(validator.descend(export_id + tail, {"pattern": pattern}))
