"""Property tests (hypothesis) of input truth, on the real pipeline and PostgreSQL (issue 11).

1. Any value the spec allows, written by a county in CSV (UTF-8, GB18030), XLSX or JSON Lines, comes back equal
   in core: text (any Unicode letters, marks, digits, punctuation, symbols and spaces inside; trimmed ends),
   ids, dates, decimals.
2. Any order of delivery of the same set of nights ends in the same core and the same history (as a set of
   versions), and so the same state as of every night.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from decimal import Decimal

import pytest
from conftest import TABLES_TO_RESET, query
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st
from inputs_kit import FORMATS, base_rows, finding, night

from xuncha import registry
from xuncha.load import pipeline
from xuncha.spec import ENTITY_ORDER
from xuncha.text import ID_SCIENTIFIC_RE, PLACEHOLDERS, TRIM_CHARS, lost_to_question_marks

pytestmark = pytest.mark.inputs   # make test-inputs: a few minutes, beyond make test's budget

C = "410302"
# Each example is a real ingest (about 10 s for four formats), so make test-inputs runs a few: derandomize=True
# draws them from the test itself (no random seed), the same on every run, which keeps CI stable; failures found
# so far are kept as @example. To explore beyond them, XUNCHA_HYPOTHESIS_EXPLORE=N runs N random examples per test
# (hypothesis prints the seed of a failure: reproduce it with --hypothesis-seed).
_EXPLORE = int(os.environ.get("XUNCHA_HYPOTHESIS_EXPLORE", "0"))
_EXAMPLES = dict(max_examples=_EXPLORE or 6, deadline=None, derandomize=not _EXPLORE,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Text the spec allows: not text whose characters were lost to `?` (§8.4, issue 27).
text = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs")), min_size=1, max_size=40).map(
    lambda s: s.strip(TRIM_CHARS)).filter(lambda s: bool(s) and not lost_to_question_marks(s))
# Ids the spec allows: not a placeholder word, not a spreadsheet's scientific form (§8.4, issue 27).
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True).filter(
    lambda s: s not in PLACEHOLDERS and not re.search(ID_SCIENTIFIC_RE, s))
amounts = st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2, allow_nan=False)
dates = st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(2099, 12, 31))


def _reset(url, settings):
    import shutil
    tables = [f"{s}.{e}" for s in ("core", "history") for e in ENTITY_ORDER]
    query(url, f"TRUNCATE {', '.join(tables)}, {TABLES_TO_RESET}")
    for area in (settings.landing, settings.archive, settings.quarantine):
        shutil.rmtree(area, ignore_errors=True)
        area.mkdir(parents=True)


@pytest.fixture(scope="module")
def ingestor(warehouse):
    return pipeline.Ingestor(registry.default(), url=warehouse)


@hsettings(**_EXAMPLES)
@given(values=st.lists(st.tuples(ids, text, dates, amounts), min_size=1, max_size=12,
                       unique_by=lambda v: v[0]))
def test_any_spec_value_in_any_format_comes_back_equal_in_core(values, warehouse, settings, ingestor):
    _reset(warehouse, settings)
    dirs, want = [], set()
    for i, fmt in enumerate(FORMATS):
        rows = []
        for key, summary, day, amount in values:
            fid = f"{fmt}:{key}"
            cell_day = day if fmt == "xlsx" else day.isoformat()
            rows.append(finding(C, 0, summary, finding_id=fid, found_date=cell_day))
            want.add((fid, summary, day.isoformat()))
        clues = [{"clue_id": f"{fmt}:{key}", "inspection_id": f"{C}-I1", "recipient": "other", "transfer_date": "2021-04-11",
                  "disposal_method": None, "closed_date": None, "updated_at": "2021-04-11T10:00:00+08:00"}
                 for key, *_ in values]
        outcomes = [{"outcome_id": f"{fmt}:{key}", "clue_id": f"{fmt}:{key}", "person_ref": "P-0A1B2C3D4E",
                     "outcome_type": "sanction", "person_rank": "other", "decision_date": "2021-04-11",
                     "amount_recovered": float(amount) if fmt in ("xlsx", "jsonl") else str(amount),
                     "updated_at": "2021-04-11T10:00:00+08:00"} for key, _, _, amount in values]
        dirs.append(night(settings.landing, C, f"e{i}", f"2021-04-1{i + 1}",
                          base_rows(C) | {"findings": rows, "clues": clues, "case_outcomes": outcomes}, fmt))
    results = ingestor.ingest_many(dirs, registry.default().get(C))
    assert [r.status for r in results] == ["loaded"] * 4, [p for r in results for p in r.problems][:5]
    got = set(query(warehouse, "SELECT finding_id, summary, found_date::text FROM core.findings"))
    assert got == want
    amounts_got = dict(query(warehouse, "SELECT outcome_id, amount_recovered FROM core.case_outcomes"))
    for fmt in FORMATS:
        for key, _, _, amount in values:
            assert amounts_got[f"{fmt}:{key}"] == amount, (fmt, key)


KEYS = ("K1", "K2", "K3")


def _nights(root, plan):
    """One export per night: base rows plus the planned findings, each version stamped at its night."""
    out = []
    for n, keys in enumerate(plan, 1):
        day = f"2021-05-{n:02d}"
        rows = [finding(C, 0, f"v{n}-{k}", f"{day}T10:00:00+08:00", finding_id=f"{C}-{k}") for k in keys]
        out.append(night(root, C, f"n{n}", day, base_rows(C) | {"findings": rows},
                         generated_at=f"{day}T23:00:00+08:00"))
    return out


def _state(url):
    core = query(url, "SELECT finding_id, summary, updated_at, withdrawn_at FROM core.findings ORDER BY 1")
    history = sorted(query(url, "SELECT finding_id, summary, updated_at, withdrawn_at FROM history.findings"))
    days = [dt.date(2021, 5, d) for d in range(1, 6)]
    as_of = query(url, "SELECT as_of, finding_id, summary FROM mart.findings_as_of(%s::date[]) ORDER BY 1, 2", (days,))
    return core, history, as_of


@hsettings(**_EXAMPLES)
@given(plan=st.lists(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True), min_size=2, max_size=4),
       order_seed=st.integers(0, 10_000))
# Found by this property: nights 4, 1, 3, 2 (order_seed 2035 -> permutation (3, 0, 2, 1)); K3's late versions of
# nights 1 and 3 sat at the same recorded_at, and night 2's, placed 1 µs before them, was never in force (late.sql).
@example(plan=[["K1", "K2", "K3"], ["K1", "K2", "K3"], ["K3"], ["K2", "K3"]], order_seed=2035)
def test_any_delivery_order_of_the_same_nights_ends_in_the_same_core_and_history(plan, order_seed, warehouse,
                                                                                   settings, ingestor):
    county = registry.default().get(C)
    _reset(warehouse, settings)
    for d in _nights(settings.landing, plan):
        assert ingestor.ingest(d, county).status == "loaded"
    in_order = _state(warehouse)
    orders = list(itertools.permutations(range(len(plan))))
    order = orders[order_seed % len(orders)]
    _reset(warehouse, settings)
    dirs = _nights(settings.landing, plan)
    for i in order:
        assert ingestor.ingest(dirs[i], county).status == "loaded"
    assert _state(warehouse) == in_order, f"order {order}"
