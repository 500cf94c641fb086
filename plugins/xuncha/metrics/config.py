"""The metric parameters: config/metrics.yml, validated into a MetricsConfig.

Everything a metric decides by policy (which round types count toward coverage, the satisfaction
threshold, the clue rules, the term calendar) lives in that file; `MetricsConfig.params()` turns it into
the query parameters of sql/marts/*.sql. The file's shape, types and ranges are checked by JSON Schema
(plugins/xuncha/schemas/metrics.schema.json, whose `x-error` gives each message); only the rules across
entries stay here (codes of the export spec, terms in order and not overlapping, min ≤ max, ageing edges).
Errors name the file and the key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from xuncha.settings import get_settings, read_config

LEVELS = ("city", "county")
SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "metrics.schema.json"


class MetricsConfigError(ValueError):
    """config/metrics.yml is missing, not YAML or breaks its schema or a cross-entry rule (the message names the key)."""


@dataclass(frozen=True)
class Term:
    """A committee term (届次): number and the inclusive dates it covers (metrics.yml `terms`)."""
    term_no: int
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class RoundTarget:
    """Rounds a year (巡察轮次) one level aims at (metrics.yml `rounds.targets`): at least `min`, at most `max`;
    None = no bound."""
    min: int | None
    max: int | None


@dataclass(frozen=True)
class MetricsConfig:
    """The metric parameters of config/metrics.yml, validated (each field is the file's key of that name; units:
    months, days, shares 0–1). `params()` gives them to the mart SQL as query parameters."""
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


def _date(value, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise MetricsConfigError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _code_list(value: list, where: str, allowed: set[str]) -> tuple[str, ...]:
    """A list of codes of one spec code list (the schema has checked it is a non-empty list of text)."""
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise MetricsConfigError(f"{where}: unknown value(s) {unknown}; allowed: {sorted(allowed)}")
    if len(set(value)) != len(value):
        raise MetricsConfigError(f"{where}: listed twice: {sorted({v for v in value if value.count(v) > 1})}")
    return tuple(value)


def _schema_errors(raw, source: str) -> None:
    """Validate `raw` against metrics.schema.json; raise the first error as `source: key: message`."""
    import json

    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    plain = _plain(raw)
    errors = sorted(jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).iter_errors(plain),
                    key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    e = errors[0]
    path = list(e.absolute_path)
    if e.validator in ("additionalProperties", "required"):
        known = set(e.schema.get("properties", {}))
        keys = sorted(set(e.instance) - known) if e.validator == "additionalProperties" else sorted(
            set(e.schema["required"]) - set(e.instance))
        what = ("unknown section(s)" if not path else "unknown key(s)") if e.validator == "additionalProperties" \
            else "missing section(s)" if not path else "missing key(s)"
        if not (path and path[0] == "terms"):
            raise MetricsConfigError(f"{source}: {_where(path) + ': ' if path else ''}{what} {keys}")
    node, value, at = schema, plain, []           # the deepest node on the path that says its error (x-error)
    message, message_at = None, []
    for part in path:
        node = node["items"] if isinstance(part, int) else node.get("properties", {}).get(part, node.get("additionalProperties"))
        value = value[part]
        at.append(part)
        if isinstance(node, dict) and "x-error" in node:
            message, message_at, message_value = node["x-error"], list(at), value
    if message is None:
        raise MetricsConfigError(f"{source}: {_where(path) or '(top)'}: {e.message}")
    raise MetricsConfigError(f"{source}: {_where(message_at)}: {message.format(value=message_value)}")


def _where(path: list) -> str:
    """A key path as the messages name it: clues.clearance_days, terms #1.start."""
    out = ""
    for part in path:
        out += f" #{part + 1}" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _plain(value):
    """YAML values as JSON Schema sees them: dates as ISO text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _terms(raw, source: str) -> tuple[Term, ...]:
    terms = []
    for i, t in enumerate(raw, 1):
        where = f"{source}: terms #{i}"
        term = Term(t["term_no"], _date(t["start"], f"{where}.start"), _date(t["end"], f"{where}.end"))
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
    out = {}
    for level, body in raw.items():
        if level not in LEVELS:
            raise MetricsConfigError(f"{where}: unknown level {level!r}; levels are {list(LEVELS)}")
        lo, hi = body.get("min"), body.get("max")
        if lo is not None and hi is not None and hi < lo:
            raise MetricsConfigError(f"{where}.{level}: max {hi} is below min {lo}")
        out[level] = RoundTarget(lo, hi)
    return out


def parse(raw: dict, source: str = "metrics.yml") -> MetricsConfig:
    """Validate the parsed file (schema, then the rules across entries) into a MetricsConfig.

    Raises MetricsConfigError `source: key: what is wrong` (e.g. `metrics.yml: clues.clearance_days: expected a
    whole number ≥ 1, got 0`).
    """
    if not isinstance(raw, dict):
        raise MetricsConfigError(f"{source}: expected a mapping with terms, coverage, rounds, rectification, "
                                 "satisfaction and clues")
    _schema_errors(raw, source)
    cov, rnd, rect, sat, clu = (raw[n] for n in ("coverage", "rounds", "rectification", "satisfaction", "clues"))
    feedback, edges = clu["feedback_months"], clu["ageing_months"]
    if edges != sorted(set(edges)):
        raise MetricsConfigError(f"{source}: clues.ageing_months: expected increasing whole months ≥ 1, got {edges!r}")
    if feedback not in edges:
        raise MetricsConfigError(f"{source}: clues.ageing_months {edges} must include feedback_months ({feedback})")
    return MetricsConfig(
        terms=_terms(raw["terms"], source),
        coverage_round_types=_code_list(cov["round_types"], f"{source}: coverage.round_types", _codes("round_type")),
        round_targets=_targets(rnd["targets"], source),
        completed_statuses=_code_list(rect["completed_statuses"], f"{source}: rectification.completed_statuses",
                                      _codes("rectification_status")),
        report_due_months=rect["report_due_months"],
        count_basically_satisfied=sat["count_basically_satisfied"],
        satisfaction_threshold=float(sat["threshold"]),
        feedback_months=feedback,
        clearance_days=clu["clearance_days"],
        ageing_months=tuple(edges),
    )


def load(path: Path | None = None) -> MetricsConfig:
    """config/metrics.yml (or `path`), validated; a missing or malformed file raises MetricsConfigError naming it."""
    path = path or get_settings().config_dir / "metrics.yml"
    return parse(read_config(path, MetricsConfigError, "metric parameters"), str(path))
