"""The validation rules as written: suite files, their rule kinds, and the column types they are derived from."""

from __future__ import annotations

import json
import re

import pytest
from conftest import query

from xuncha.validate import suites
from xuncha.spec import COLUMN_TYPES, ENTITY_ORDER, load_spec


@pytest.mark.parametrize("entity", ENTITY_ORDER)
def test_a_rule_that_looks_rows_up_elsewhere_is_of_kind_reference_and_no_other_is(entity):
    for e in suites.load_suite(entity)["expectations"]:
        query = e["kwargs"].get("unexpected_rows_query", "")
        looks_up = bool(re.search(r"\{export\.\w+\}|\bcore\.", query))
        assert (suites.rule_kind(e["meta"]) == "reference") == looks_up, e["meta"]


def test_a_suite_with_an_unknown_rule_kind_is_refused(tmp_path, monkeypatch):
    suite = json.loads(suites.suite_path("findings").read_text(encoding="utf-8"))
    suite["expectations"][-1]["meta"]["kind"] = "orphan"
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", tmp_path)
    (tmp_path / "findings.json").write_text(json.dumps(suite), encoding="utf-8")
    suites.load_suite.cache_clear()
    try:
        with pytest.raises(ValueError, match="meta.kind 'orphan'"):
            suites.load_suite("findings")
    finally:
        suites.load_suite.cache_clear()


@pytest.mark.parametrize("good, bad, type_", [
    ("2019-03-15", "2019-3-15", "date"),
    ("2019-03-15T20:00:00+08:00", "2019-03-15 20:00", "timestamp"),
    ("-123456789", "1234567890", "integer"),
    ("12000.50", "12000.505", "decimal"),
])
def test_each_typed_column_has_one_strict_format_its_suite_expectations_use(warehouse, good, bad, type_):
    t = COLUMN_TYPES[type_]
    assert re.match(t.strict_format, good) and not re.match(t.strict_format, bad)
    assert query(warehouse, f"SELECT {t.strict_test('%s')}, {t.strict_test('%s')}", (good, bad)) == [(True, False)]
    spec = load_spec()
    col = next(c for e in spec.entities.values() for c in e.columns if c.type == type_)
    entity = next(e for e in spec.entities.values() if col in e.columns)
    # One row filter per column, so the file's one pass answers it (xuncha.validate.row_rules).
    rules = [e["kwargs"]["unexpected_rows_query"].format(batch="v") for e in suites.spec_expectations(entity)
             if e["meta"].get("rule", "").startswith(f"{col.name} is a {type_}:")]
    assert rules == [f"SELECT row_no, {col.name} AS value FROM v WHERE {col.name} IS NOT NULL AND NOT ({t.strict_test(col.name)})"]
    assert t.cast(col.name).endswith(f"::{t.pg_type}")
