"""Person data stays out of the warehouse: every free-text column is checked for national ID numbers (18 characters
with their check character, and the 15-digit old form), mainland mobile numbers and bank card numbers (Luhn)
(migration 0041, spec-derived expectations); the export is quarantined as `person.clear` and the report quotes the
value masked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import query
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.load import pipeline
from xuncha.validate import suites
from xuncha.spec import load_spec

INPUT = Path("/work/shared/inputs/pii-in-free-text")


@pytest.mark.parametrize("text,kind", [
    ("当事人身份证号410302198001011230，已谈话", "resident_id"),
    ("身份证 41030219800101123X", None),                       # wrong check character: not an ID number
    ("证件号 11010519491231002X 复核", "resident_id"),          # ends in X
    ("旧证 410302800101123 仍在用", "old_id"),
    ("联系电话13812345678", "mobile"),
    ("电话 +86 139-0000-0000", None),                           # dashes split it; not a run of 11
    ("卡号 6222 0212 3456 7899 转入", None),                    # Luhn fails
    ("卡号6222021234567894转入", "bank_card"),
    ("卡号 4111-1111-1111-1111 转入", "bank_card"),
    ("违规资金 12345678.90 元，2019年3月15日", None),
    ("编号 410325-F0001", None),
    ("410302198001011230123", None),                            # a longer number is not searched inside
    (None, None),
])
def test_what_counts_as_person_data(warehouse, text, kind):
    assert query(warehouse, "SELECT staging.pii_kind(%s)", (text,)) == [(kind,)]


def test_the_cheap_prefilter_never_hides_person_data(warehouse):
    """The rule runs staging.may_hold_pii before staging.pii_kind (migration 0092); it must pass every value pii_kind
    classifies. Random text dense in digits, spaces and dashes (seeded), plus numbers of each kind embedded in it."""
    import random

    rnd = random.Random(16)
    def noise(n):
        return "".join(rnd.choice("0123456789012345678901234567890123456789 -xX号a") for _ in range(n))
    kinds = ["410302198001011230", "11010519491231002X", "410302800101123", "13812345678", "6222021234567894",
             "4111-1111-1111-1111", "4111 1111 1111 1111 123"]
    values = [noise(rnd.randint(1, 40)) for _ in range(20000)]
    values += [noise(rnd.randint(0, 5)) + rnd.choice(["", " ", "号"]) + k + rnd.choice(["", " ", "元"]) + noise(rnd.randint(0, 5))
               for k in kinds for _ in range(300)]
    [(found, hidden)] = query(warehouse, """SELECT count(*) FILTER (WHERE staging.pii_kind(v) IS NOT NULL),
                                                   count(*) FILTER (WHERE staging.pii_kind(v) IS NOT NULL AND NOT staging.may_hold_pii(v))
                                              FROM unnest(%s::text[]) v""", (values,))
    assert found > 1000, "the sample must hold person data for the check to mean anything"
    assert hidden == 0
    [(passed,)] = query(warehouse, "SELECT count(*) FROM unnest(%s::text[]) v WHERE staging.may_hold_pii(v)",
                        (["编号 410325-F0001", "违规资金 12345678.90 元", "2019年3月15日 谈话"],))
    assert passed == 0, "ids, amounts and dates are not sent to the full check"


def test_a_report_quote_is_masked_escaped_and_bounded(warehouse):
    [(m,)] = query(warehouse, "SELECT staging.pii_masked(%s)", ("身份证410302198001011230\x1b[31m" + "长" * 300,))
    assert "410302198001011230" not in m and "41**************30" in m
    assert "\x1b" not in m and len(m) <= 201


def test_every_free_text_column_has_the_check_and_it_quarantines_by_default():
    spec = load_spec()
    for entity in spec.entities.values():
        suite = suites.load_suite(entity.name)
        checked = {e["meta"]["rule"].split()[0]: e["severity"] for e in suite["expectations"]
                   if e["meta"].get("rule", "").endswith(suites.PERSON_DATA_RULE)}
        free_text = {c.name for c in entity.columns if c.type == "string" and not c.pattern}
        assert set(checked) == free_text, entity.name
        assert set(checked.values()) == {"critical"}, entity.name


def test_a_columns_severity_chosen_in_the_suite_survives_regeneration():
    entity = load_spec().entity("findings")
    suite = json.loads(json.dumps(suites.load_suite("findings")))
    for e in suite["expectations"]:
        if e["meta"].get("rule") == f"summary {suites.PERSON_DATA_RULE}":
            e["severity"] = "warning"
    again = suites.render_suite(entity, suite)
    assert [e["severity"] for e in again["expectations"] if e["meta"].get("rule") == f"summary {suites.PERSON_DATA_RULE}"] == ["warning"]


def test_the_shared_input_pii_in_free_text_is_quarantined_masked(clean, settings):
    """/work/shared/inputs/pii-in-free-text: two findings quote 18-character ID numbers in `summary`."""
    if INPUT.exists():
        export = settings.landing / "410302" / "410302-20210411-01"
        shutil.copytree(INPUT / "410302" / "410302-20210411-01", export)
        clear = "410302198001011230"
    else:  # the same fault, built here
        rows = slice_rows("410302")
        clear = "410302198001011230"
        rows["findings"][0]["summary"] = f"当事人身份证号{clear}"
        export = write_export(settings.landing, "410302", "410302-20210411-01", "2019-03-15", rows)
    reg = registry.default()
    [r] = pipeline.Ingestor(reg, url=clean, move=True).ingest_many([export], reg.get("410302"))
    assert r.status == "quarantined"
    assert any(p.rule == "person.clear" and p.file == "findings.csv" and p.column == "summary" for p in r.problems), r.problems
    for p in (settings.quarantine / "410302").rglob("_report.*"):
        assert clear not in p.read_text(encoding="utf-8"), p
    assert query(clean, "SELECT count(*) FROM audit.validation_results WHERE sample::text LIKE %s", (f"%{clear}%",)) == [(0,)]
    assert query(clean, "SELECT count(*) FROM audit.batches WHERE error LIKE %s", (f"%{clear}%",)) == [(0,)]
    assert query(clean, "SELECT count(*) FROM core.findings WHERE summary ~ '[0-9]{17}[0-9Xx]'") == [(0,)]
    assert query(clean, "SELECT count(*) FROM history.findings WHERE summary ~ '[0-9]{17}[0-9Xx]'") == [(0,)]


@pytest.mark.parametrize("column,value", [("team_name", "第一巡察组 联系人13812345678"),
                                          ("summary", "款项转入卡号6222021234567894")])
def test_any_free_text_column_not_only_person_columns(clean, settings, column, value):
    rows = slice_rows("410302")
    entity = "inspections" if column == "team_name" else "findings"
    rows[entity][0][column] = value
    export = write_export(settings.landing, "410302", "410302-20190315-01", "2019-03-15", rows)
    reg = registry.default()
    [r] = pipeline.Ingestor(reg, url=clean, move=True).ingest_many([export], reg.get("410302"))
    assert r.status == "quarantined"
    [p] = [p for p in r.problems if p.rule == "person.clear"]
    assert (p.file, p.column, p.row) == (f"{entity}.csv", column, 1)
    assert value not in json.dumps([x.to_dict() for x in r.problems], ensure_ascii=False)
