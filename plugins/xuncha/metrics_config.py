"""The metric parameters: config/metrics.yml, validated into a MetricsConfig.

Everything a metric decides by policy (which round types count toward coverage, the satisfaction
threshold, the clue rules, the term calendar) lives in that file; `MetricsConfig.params()` turns it into
the query parameters of sql/marts/*.sql. Errors name the file and the key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


from xuncha.settings import get_settings, read_config

LEVELS = ("city", "county")
SECTIONS = {
    "terms": None,
    "coverage": {"round_types"},
    "rounds": {"targets"},
    "rectification": {"completed_statuses", "report_due_months"},
    "satisfaction": {"count_basically_satisfied", "threshold"},
    "clues": {"feedback_months", "clearance_days", "ageing_months"},
}


class MetricsConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Term:
    term_no: int
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class RoundTarget:
    min: int | None
    max: int | None


@dataclass(frozen=True)
class MetricsConfig:
    terms: tuple[Term, ...]
    coverage_round_types: tuple[str, ...]
    round_targets: dict[str, RoundTarget]
    completed_statuses: tuple[str, ...]
    report_due_months: int
    count_basically_satisfied: bool
    satisfaction_threshold: float
    feedback_months: int
    clearance_days: int
    ageing_months: tuple[int, ...]

    def params(self) -> dict:
        """The query parameters every mart file may use (psycopg2 adapts lists to arrays)."""
        levels = sorted(self.round_targets)
        return {
            "term_nos": [t.term_no for t in self.terms],
            "term_starts": [t.start for t in self.terms],
            "term_ends": [t.end for t in self.terms],
            "coverage_round_types": list(self.coverage_round_types),
            "target_levels": levels,
            "target_mins": [self.round_targets[lv].min for lv in levels],
            "target_maxs": [self.round_targets[lv].max for lv in levels],
            "completed_statuses": list(self.completed_statuses),
            "report_due_months": self.report_due_months,
            "count_basically_satisfied": self.count_basically_satisfied,
            "satisfaction_threshold": self.satisfaction_threshold,
            "feedback_months": self.feedback_months,
            "clearance_days": self.clearance_days,
            "ageing_months": list(self.ageing_months),
        }


def _codes(name: str) -> set[str]:
    from xuncha.spec import load_spec

    return set(load_spec().codes[name])


def _int(value, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MetricsConfigError(f"{where}: expected a whole number ≥ {minimum}, got {value!r}")
    return value


def _date(value, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise MetricsConfigError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _code_list(value, where: str, allowed: set[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise MetricsConfigError(f"{where}: expected a non-empty list")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise MetricsConfigError(f"{where}: unknown value(s) {unknown}; allowed: {sorted(allowed)}")
    if len(set(value)) != len(value):
        raise MetricsConfigError(f"{where}: listed twice: {sorted({v for v in value if value.count(v) > 1})}")
    return tuple(value)


def _section(raw: dict, name: str, source: str) -> dict:
    body = raw.get(name)
    if not isinstance(body, dict):
        raise MetricsConfigError(f"{source}: `{name}` must be a mapping with {sorted(SECTIONS[name])}")
    missing, unknown = SECTIONS[name] - set(body), set(body) - SECTIONS[name]
    if unknown:
        raise MetricsConfigError(f"{source}: {name}: unknown key(s) {sorted(unknown)}")
    if missing:
        raise MetricsConfigError(f"{source}: {name}: missing key(s) {sorted(missing)}")
    return body


def _terms(raw, source: str) -> tuple[Term, ...]:
    if not isinstance(raw, list) or not raw:
        raise MetricsConfigError(f"{source}: `terms` must be a non-empty list of {{term_no, start, end}}")
    terms = []
    for i, t in enumerate(raw, 1):
        where = f"{source}: terms #{i}"
        if not isinstance(t, dict) or set(t) != {"term_no", "start", "end"}:
            raise MetricsConfigError(f"{where}: expected exactly term_no, start and end")
        term = Term(_int(t["term_no"], f"{where}.term_no", 1), _date(t["start"], f"{where}.start"),
                    _date(t["end"], f"{where}.end"))
        if term.end < term.start:
            raise MetricsConfigError(f"{where}: end {term.end} is before start {term.start}")
        terms.append(term)
    nos = [t.term_no for t in terms]
    if len(set(nos)) != len(nos):
        raise MetricsConfigError(f"{source}: terms: term_no listed twice: {sorted({n for n in nos if nos.count(n) > 1})}")
    ordered = sorted(terms, key=lambda t: t.start)
    for a, b in zip(ordered, ordered[1:]):
        if b.start <= a.end:
            raise MetricsConfigError(f"{source}: terms {a.term_no} and {b.term_no} overlap")
    return tuple(ordered)


def _targets(raw, source: str) -> dict[str, RoundTarget]:
    where = f"{source}: rounds.targets"
    if not isinstance(raw, dict) or not raw:
        raise MetricsConfigError(f"{where}: expected a mapping of level to {{min, max}}")
    out = {}
    for level, body in raw.items():
        if level not in LEVELS:
            raise MetricsConfigError(f"{where}: unknown level {level!r}; levels are {list(LEVELS)}")
        if not isinstance(body, dict) or not body or set(body) - {"min", "max"}:
            raise MetricsConfigError(f"{where}.{level}: expected min and/or max")
        lo = _int(body["min"], f"{where}.{level}.min") if body.get("min") is not None else None
        hi = _int(body["max"], f"{where}.{level}.max") if body.get("max") is not None else None
        if lo is not None and hi is not None and hi < lo:
            raise MetricsConfigError(f"{where}.{level}: max {hi} is below min {lo}")
        out[level] = RoundTarget(lo, hi)
    return out


def parse(raw: dict, source: str = "metrics.yml") -> MetricsConfig:
    if not isinstance(raw, dict):
        raise MetricsConfigError(f"{source}: expected a mapping with {sorted(SECTIONS)}")
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise MetricsConfigError(f"{source}: unknown section(s) {sorted(unknown)}")
    cov, rnd, rect, sat, clu = (_section(raw, n, source) for n in ("coverage", "rounds", "rectification",
                                                                   "satisfaction", "clues"))
    threshold = sat["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise MetricsConfigError(f"{source}: satisfaction.threshold: expected a share in (0, 1], got {threshold!r}")
    if not isinstance(sat["count_basically_satisfied"], bool):
        raise MetricsConfigError(f"{source}: satisfaction.count_basically_satisfied: expected true or false")
    feedback = _int(clu["feedback_months"], f"{source}: clues.feedback_months", 1)
    edges = clu["ageing_months"]
    if (not isinstance(edges, list) or not edges
            or any(isinstance(e, bool) or not isinstance(e, int) or e < 1 for e in edges)
            or edges != sorted(set(edges))):
        raise MetricsConfigError(f"{source}: clues.ageing_months: expected increasing whole months ≥ 1, got {edges!r}")
    if feedback not in edges:
        raise MetricsConfigError(f"{source}: clues.ageing_months {edges} must include feedback_months ({feedback})")
    return MetricsConfig(
        terms=_terms(raw.get("terms"), source),
        coverage_round_types=_code_list(cov["round_types"], f"{source}: coverage.round_types", _codes("round_type")),
        round_targets=_targets(rnd["targets"], source),
        completed_statuses=_code_list(rect["completed_statuses"], f"{source}: rectification.completed_statuses",
                                      _codes("rectification_status")),
        report_due_months=_int(rect["report_due_months"], f"{source}: rectification.report_due_months", 1),
        count_basically_satisfied=sat["count_basically_satisfied"],
        satisfaction_threshold=float(threshold),
        feedback_months=feedback,
        clearance_days=_int(clu["clearance_days"], f"{source}: clues.clearance_days", 1),
        ageing_months=tuple(edges),
    )


def load(path: Path | None = None) -> MetricsConfig:
    path = path or get_settings().config_dir / "metrics.yml"
    return parse(read_config(path, MetricsConfigError, "metric parameters"), str(path))
