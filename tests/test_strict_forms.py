"""The strict forms of dates and timestamps (export spec §4) as staging's SQL functions (migration 0171): each must
answer exactly what the spec's regex (`ColumnType.strict_format`) answers in PostgreSQL, since the suites' format
rules now run the function instead of the regex (issue 26, P1)."""

from __future__ import annotations

import pytest
from conftest import query
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from xuncha.spec import COLUMN_TYPES

VALID = {"date": ["2019-03-15", "2000-12-31", "1901-01-01", "2019-02-30"],
         "timestamp": ["2019-03-15T21:04:11+08:00", "2019-12-31 23:59:59.123456Z", "2000-01-01T00:00:00-0530",
                       "2019-10-29T19:50:09.5+0800", "2019-03-15T21:04:11.000001-00:00"]}
# What a county's system or a spreadsheet puts in instead: other digits, separators, letters, full-width and
# Arabic-Indic digits, white space, a line break, and characters whose UTF-8 is longer than one byte.
NOISE = "0123456789-:T Z+./x９٣\n年"


@st.composite
def near(draw, type_):
    """A valid value of `type_` with up to four characters replaced, inserted or removed, or any short text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(NOISE, max_size=30))
    chars = list(draw(st.sampled_from(VALID[type_])))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(chars)))
        op = draw(st.sampled_from("rid"))
        if op == "i" or at == len(chars):
            chars.insert(at, draw(st.sampled_from(NOISE)))
        elif op == "r":
            chars[at] = draw(st.sampled_from(NOISE))
        else:
            del chars[at]
    return "".join(chars)


@pytest.mark.parametrize("type_", ["date", "timestamp"])
def test_the_function_answers_exactly_what_the_regex_answers(warehouse, type_):
    t = COLUMN_TYPES[type_]
    seen = {"matched": 0, "refused": 0}

    @hsettings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(near(type_), min_size=50, max_size=200))
    def check(values):
        rows = query(warehouse, f"SELECT v, v ~ %s, {t.strict_test('v')} FROM unnest(%s::text[]) v",
                     (t.strict_format, values))
        assert [(v, r) for v, r, f in rows if r is not f] == []
        seen["matched"] += sum(1 for _, r, _ in rows if r)
        seen["refused"] += sum(1 for _, r, _ in rows if r is False)

    check()
    assert seen["matched"] > 500 and seen["refused"] > 500, f"the sample must hold both kinds: {seen}"
    assert query(warehouse, f"SELECT {t.strict_test('NULL::text')}") == [(None,)]
