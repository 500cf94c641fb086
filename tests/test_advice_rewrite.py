"""The Chinese advice gives a date or time sent in the wrong form back in the spec's form (county clerk trial,
issue 26): `2017-3-1` → `本行应写为 2017-03-01`, and never a value that is not the same day and time or that the spec
would refuse."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings, strategies as st

from xuncha.advice_zh import rewritten
from xuncha.errors import Problem
from xuncha.spec import load_spec

DATE_SEPARATORS = st.sampled_from([("-", "-", ""), ("/", "/", ""), (".", ".", ""), ("年", "月", "日"), (" - ", " - ", "")])


def strict(kind: str) -> re.Pattern:
    column = next(c for e in load_spec().entities.values() for c in e.columns if c.type == kind)
    return re.compile(column.type_info.strict_format)


@settings(max_examples=300, derandomize=True)
@given(day=st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)), seps=DATE_SEPARATORS, pad=st.booleans())
def test_a_date_in_another_form_comes_back_as_the_same_day_in_the_spec_form(day, seps, pad):
    a, b, c = seps
    m, d = (f"{day.month:02}", f"{day.day:02}") if pad else (str(day.month), str(day.day))
    got = rewritten(f"{day.year}{a}{m}{b}{d}{c}", "date")
    assert got == day.isoformat() and strict("date").fullmatch(got)


@settings(max_examples=300, derandomize=True)
@given(day=st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)), clock=st.times(), seconds=st.booleans(),
       sep=st.sampled_from([" ", "T", "  "]))
def test_a_time_without_offset_comes_back_as_beijing_time_in_the_spec_form(day, clock, seconds, sep):
    clock = clock.replace(microsecond=0, second=clock.second if seconds else 0)
    text = f"{day.isoformat()}{sep}{clock.hour}:{clock.minute:02}" + (f":{clock.second:02}" if seconds else "")
    got = rewritten(text, "timestamp")
    assert got == f"{day.isoformat()}T{clock.isoformat()}+08:00（如为北京时间）"
    assert strict("timestamp").fullmatch(got.split("（")[0])


def test_what_cannot_be_read_without_a_guess_gets_no_rewrite():
    for value, kind in (("2017-02-30", "date"), ("01/03/2017", "date"), ("2017-03-01 8:00", "date"),
                        ("2017-03-01 25:00", "timestamp"), ("2017-3-1 8:00+08:00", "timestamp"), ("昨天", "date")):
        assert rewritten(value, kind) is None, value


def test_the_problem_of_a_date_format_carries_the_rewrite_in_its_chinese_advice():
    p = Problem("row.invalid:unexpected_rows_expectation", "found_date is a date: YYYY-MM-DD (1 row(s) fail)",
                file="findings.csv", row=1, column="found_date", value="2017-3-1")
    assert p.message_zh.endswith("本行应写为 2017-03-01")
    valid = Problem("row.invalid:unexpected_rows_expectation", "found_date is a valid date (1 row(s) fail)",
                    file="findings.csv", row=2, column="found_date", value="2017-02-30")
    assert "应写为" not in valid.message_zh, "a day that does not exist is not guessed"
