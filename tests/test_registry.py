"""The county registry: the real file loads, and mistakes are named precisely."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from xuncha import registry
from xuncha.registry import RegistryError

ROOT = Path(__file__).resolve().parents[1]


def test_the_luoyang_registry_loads_with_its_2021_code_changes():
    reg = registry.default()
    assert len(reg.counties) == 19
    assert reg.get("410300").level == "city"
    assert [c.code for c in reg.active(dt.date(2021, 2, 28)) if c.code in ("410306", "410322", "410381", "410307", "410308")] == \
        ["410306", "410322", "410381"]
    assert [c.code for c in reg.active(dt.date(2021, 3, 1)) if c.code in ("410306", "410322", "410381", "410307", "410308")] == \
        ["410307", "410308"]
    assert reg.lineage("410308") == ("410308", "410306", "410322")
    assert reg.lineage("410307") == ("410307", "410381")
    assert len(reg.active(dt.date(2019, 1, 1))) == 17


def base(**over):
    return {"defaults": {"timezone": "Asia/Shanghai", "deadline": "06:00", "delivery": {"landing": "default"},
                         "active_from": "2016-10-01"},
            "counties": [{"code": "410325", "name": "嵩县", "level": "county", **over}]}


@pytest.mark.parametrize("over, message", [
    ({"code": "41032"}, "code must be 6 digits"),
    ({"level": "province"}, "level must be one of"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"deadline": "25:00"}, "deadline must be HH:MM"),
    ({"delivery": {}}, "exactly one of `landing` or `http`"),
    ({"delivery": {"http": {}}}, "needs a conn_id"),
    ({"successor": "410399", "active_to": "2021-02-28"}, "successor 410399 is not in the registry"),
    ({"active_to": "2015-01-01"}, "active_to is before active_from"),
    ({"colour": "red"}, "unknown field"),
    ({"name": ""}, "`name` is required"),
    ({"poll_seconds": 0}, "poll_seconds must be a whole number of seconds from 1 to 3600"),
    ({"active_from": "2016-13-01"}, "'2016-13-01' is not a date"),
    ({"schedule": "every night"}, "is not a cron expression"),
])
def test_registry_errors_name_the_entry_and_the_field(over, message):
    with pytest.raises(RegistryError, match=message) as exc:
        registry.parse(base(**over), "counties.yml")
    assert "counties.yml: county #1" in str(exc.value)


def test_the_registry_schema_is_json_schema_and_the_real_file_passes_it():
    import json

    import jsonschema
    import yaml

    from xuncha.settings import PROJECT_ROOT

    schema = json.loads(registry.SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    raw = yaml.safe_load((PROJECT_ROOT / "config" / "counties.yml").read_text(encoding="utf-8"))
    county = jsonschema.Draft202012Validator(schema["$defs"]["county"], format_checker=jsonschema.FormatChecker())
    for item in raw["counties"]:
        assert not list(county.iter_errors(registry._plain({**raw["defaults"], **item}))), item


def test_duplicate_codes_are_refused():
    raw = base()
    raw["counties"].append(dict(raw["counties"][0]))
    with pytest.raises(RegistryError, match="duplicate county code"):
        registry.parse(raw)


def test_an_edited_counties_yml_is_seen_without_a_restart(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setenv("XUNCHA_CONFIG", str(tmp_path))
    raw = base()
    (tmp_path / "counties.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert [c.code for c in registry.default().counties] == ["410325"]
    raw["counties"].append({"code": "410326", "name": "汝阳县", "level": "county"})
    (tmp_path / "counties.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert [c.code for c in registry.default().counties] == ["410325", "410326"]
    from xuncha.orchestration import nightly

    assert [c["code"] for c in nightly.plan(registry.load(), dt.date(2019, 3, 15))] == ["410325", "410326"]


def test_the_plan_starts_the_longest_night_first(tmp_path, monkeypatch):
    """A catch-up's longest chain (a successor taking its predecessors' years) is mapped first, so the pool starts
    it first; the rest keep registry order."""
    from xuncha.orchestration import nightly

    monkeypatch.setenv("XUNCHA_LANDING", str(tmp_path))
    reg = registry.default()
    day = dt.date(2021, 3, 1)                          # 孟津区 410308 takes 孟津县 410322 and 吉利区 410306
    for code, n in {"410322": 2, "410306": 1, "410308": 1, "410325": 3, "410326": 0}.items():
        for i in range(n):
            (tmp_path / code / f"{code}-2021030{i + 1}-01").mkdir(parents=True)
    (tmp_path / "410326" / "_partial").mkdir(parents=True)  # `_` or `.` first: not an export folder
    planned = [c["code"] for c in nightly.plan(reg, day)]
    rest = [c.code for c in reg.active(day) if c.exports_on(day) and c.code not in ("410308", "410325")]
    assert planned == ["410308", "410325", *rest]
    assert nightly.plan(reg, day, ["410326", "410325"]) == [{"code": "410325", "label": reg.get("410325").label},
                                                           {"code": "410326", "label": reg.get("410326").label}]


def test_an_unchanged_registry_is_parsed_once_and_an_edited_one_is_seen_at_once(tmp_path):
    """registry.load is called several times per county task: unchanged bytes give the same parsed registry, an edit
    (no restart) gives the new one, and a fault written into the file is raised, not hidden by the cache."""
    path = tmp_path / "counties.yml"
    text = (ROOT / "config" / "counties.yml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = registry.load(path)
    assert registry.load(path) is first
    path.write_text(text.replace("name: 嵩县,", "name: 嵩县二,"), encoding="utf-8")
    edited = registry.load(path)
    assert edited is not first and edited.get("410325").name == "嵩县二" and first.get("410325").name == "嵩县"
    path.write_text(text.replace('code: "410325"', 'code: "41032"'), encoding="utf-8")
    with pytest.raises(registry.RegistryError):
        registry.load(path)
    path.unlink()
    with pytest.raises(registry.RegistryError, match="not found"):
        registry.load(path)
