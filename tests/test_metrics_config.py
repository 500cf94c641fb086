"""config/metrics.yml: the metric parameters, validated with errors that name the key."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import yaml

from xuncha.metrics import config as metrics_config
from xuncha.metrics.config import MetricsConfigError
from xuncha.settings import PROJECT_ROOT

RAW = yaml.safe_load((PROJECT_ROOT / "config" / "metrics.yml").read_text(encoding="utf-8"))


def test_the_shipped_parameters_are_the_briefs_defaults():
    cfg = metrics_config.load()
    assert cfg.params() == {
        "term_nos": [11], "term_starts": [dt.date(2016, 10, 1)], "term_ends": [dt.date(2021, 9, 30)],
        "coverage_round_types": ["regular", "special", "mobile", "linked", "cross", "escalated"],
        "target_levels": ["city", "county"], "target_mins": [3, 4], "target_maxs": [None, 5],
        "completed_statuses": ["done", "basically_done", "on_the_spot"], "report_due_months": 2,
        "count_basically_satisfied": False, "satisfaction_threshold": 0.9,
        "feedback_months": 3, "clearance_days": 180, "ageing_months": [3, 6, 12],
    }


def edited(path: tuple, value):
    raw = copy.deepcopy(RAW)
    node = raw
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return raw


@pytest.mark.parametrize("path, value, message", [
    (("coverage", "round_types"), ["regular", "walkabout"], "coverage.round_types: unknown value(s) ['walkabout']"),
    (("coverage", "round_types"), [], "coverage.round_types: expected a non-empty list"),
    (("satisfaction", "threshold"), 90, "satisfaction.threshold: expected a share in (0, 1], got 90"),
    (("satisfaction", "count_basically_satisfied"), "yes", "satisfaction.count_basically_satisfied: expected true or false"),
    (("clues", "ageing_months"), [6, 12], "clues.ageing_months [6, 12] must include feedback_months (3)"),
    (("clues", "ageing_months"), [6, 3], "clues.ageing_months: expected increasing whole months"),
    (("clues", "clearance_days"), 0, "clues.clearance_days: expected a whole number ≥ 1, got 0"),
    (("clues", "clearance_days"), KeyError, "clues: missing key(s) ['clearance_days']"),
    (("clues", "clearance_weeks"), 4, "clues: unknown key(s) ['clearance_weeks']"),
    (("rectification", "completed_statuses"), ["done", "finished"], "rectification.completed_statuses: unknown value(s) ['finished']"),
    (("rectification", "report_due_months"), "2", "rectification.report_due_months: expected a whole number ≥ 1, got '2'"),
    (("rounds", "targets"), {"township": {"min": 1}}, "rounds.targets: unknown level 'township'"),
    (("rounds", "targets"), {"county": {"min": 5, "max": 4}}, "rounds.targets.county: max 4 is below min 5"),
    (("terms",), [{"term_no": 11, "start": "2016-10-01", "end": "2021-09-30"},
                  {"term_no": 12, "start": "2021-09-01", "end": "2026-09-30"}], "terms 11 and 12 overlap"),
    (("terms",), [{"term_no": 11, "start": "2016-10-01", "end": "2011-09-30"}], "terms #1: end 2011-09-30 is before start"),
    (("terms",), [{"term_no": 11, "start": "2016-13-01", "end": "2021-09-30"}], "terms #1.start: '2016-13-01' is not a date"),
    (("weather",), {}, "unknown section(s) ['weather']"),
])
def test_a_bad_parameter_is_refused_naming_it(path, value, message):
    with pytest.raises(MetricsConfigError) as exc:
        metrics_config.parse(edited(path, value), "metrics.yml")
    assert str(exc.value).startswith("metrics.yml: ") and message in str(exc.value)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path):
    with pytest.raises(MetricsConfigError, match="metric parameters not found: .*nope.yml"):
        metrics_config.load(tmp_path / "nope.yml")
    (tmp_path / "bad.yml").write_text("clues: [unclosed\n", encoding="utf-8")
    with pytest.raises(MetricsConfigError, match="bad.yml: not valid YAML"):
        metrics_config.load(tmp_path / "bad.yml")
