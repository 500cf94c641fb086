"""The county registry: the real file loads, and mistakes are named precisely."""

from __future__ import annotations

import datetime as dt

import pytest

from xuncha import registry
from xuncha.registry import RegistryError


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
])
def test_registry_errors_name_the_entry_and_the_field(over, message):
    with pytest.raises(RegistryError, match=message) as exc:
        registry.parse(base(**over), "counties.yml")
    assert "counties.yml: county #1" in str(exc.value)


def test_duplicate_codes_are_refused():
    raw = base()
    raw["counties"].append(dict(raw["counties"][0]))
    with pytest.raises(RegistryError, match="duplicate county code"):
        registry.parse(raw)
