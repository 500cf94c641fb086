"""docs/export-spec.md is the contract county engineers read: it must say exactly what the spec files say."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from xuncha.spec.docs import BEGIN, DOC, END, doc_tables, render_entity_tables
from xuncha_sim.generator.faults import RULES
from xuncha_sim.generator.profiles import CODE_CHANGES_2021
from xuncha.spec import ENTITY_ORDER, load_spec, manifest_schema

TEXT = DOC.read_text(encoding="utf-8")


def test_the_entity_tables_in_the_doc_are_the_ones_rendered_from_entities_yml():
    assert TEXT.count(BEGIN) == 1 and TEXT.count(END) == 1
    assert doc_tables(TEXT) == render_entity_tables(), "run `python -m xuncha.spec.docs` after changing entities.yml"


def test_the_rendered_tables_name_every_column_type_and_code():
    spec = load_spec()
    tables = render_entity_tables()
    for name in ENTITY_ORDER:
        e = spec.entity(name)
        section = tables.split(f"`{name}` — {e.zh}")[1].split("### ")[0]
        for i, c in enumerate(e.columns, 1):
            line = next(l for l in section.splitlines() if l.startswith(f"| {i} | `{c.name}` |"))
            assert c.zh in line and ("| yes |" if c.required else "| no |") in line
    for code_list, codes in spec.codes.items():
        for code, label in codes.items():
            assert f"| `{code}` | {label} |" in tables, (code_list, code)


def test_the_manifest_examples_in_the_doc_validate_against_the_schema():
    validator = jsonschema.Draft202012Validator(manifest_schema(), format_checker=jsonschema.FormatChecker())
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", TEXT, re.S) if '"spec_version"' in b]
    assert len(blocks) == 2
    for b in blocks:
        assert list(validator.iter_errors(b)) == []
    # and every manifest field is documented
    for field in manifest_schema()["properties"]:
        assert f"| `{field}` |" in TEXT
    for field in manifest_schema()["properties"]["files"]["items"]["properties"]:
        assert f"| `{field}` |" in TEXT


def test_every_quarantine_rule_of_the_platform_is_documented():
    documented = set(re.findall(r"^\| `([a-z]+\.[a-z_0-9]+)` \|", TEXT, re.M))
    assert set(RULES.values()) <= documented
    from xuncha.errors import RULES_ZH

    assert set(RULES_ZH) <= documented, set(RULES_ZH) - documented
    for rule, zh in RULES_ZH.items():
        assert f"| `{rule}` | {zh} |" in TEXT


def test_the_crosswalk_in_the_doc_is_the_one_the_generator_applies():
    for c in CODE_CHANGES_2021:
        assert f"| {c.old_code} | {c.old_name} | {c.new_code} | {c.new_name} | {c.effective.isoformat()} |" in TEXT


def test_the_doc_covers_formats_http_and_versioning():
    for needle in ("utf-8-sig", "gb18030", "RFC 4180", "first sheet", "JSON Lines", "updated_since", "next_page",
                   "Authorization: Bearer", "spec_version", "major", "minor", "full", "delta", "withdrawn", "person_ref"):
        assert needle in TEXT, needle
    for path in ("/api/v1/{county}/exports?updated_since", "/api/v1/{county}/exports/{export_id}/manifest.json",
                 "/api/v1/{county}/exports/{export_id}/files/{name}"):
        assert path in TEXT


def test_the_doc_is_utf8_markdown_in_the_repository():
    assert DOC == Path(__file__).resolve().parents[1] / "docs" / "export-spec.md"
    assert TEXT.startswith("# County export specification, version 1")
