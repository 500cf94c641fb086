"""The county registry: config/counties.yml, validated into County records.

Read at DAG parse time (it is a small local file, no database), so every county appears by name in the
Airflow UI. Errors name the entry and the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from xuncha.settings import get_settings, read_config

class RegistryError(ValueError):
    """counties.yml is missing, not YAML, or breaks a rule; the message names the entry and the field."""


LEVEL_LABELS = {"city": "市级（市委巡察）", "county": "县级（县委巡察）"}
"""counties.yml `level` → its Chinese label (the party committee that inspects: 市委 or 县委); the one place readers'
pages and the workbook take it from. Its keys are the schema's enum (schemas/counties.schema.json)."""

@dataclass(frozen=True)
class County:
    """One county-level system that exports to Xuncha (one entry of counties.yml; fields as documented there)."""

    code: str
    name: str
    level: str
    timezone: str
    deadline: dt.time
    delivery: dict = field(hash=False)
    active_from: dt.date
    active_to: dt.date | None = None
    successor: str | None = None
    predecessors: tuple[str, ...] = ()
    schedule: str = "@daily"
    poll_seconds: int = 300
    contacts: dict = field(default_factory=dict, hash=False)   # {email: [...], chat_conn_id: ...}; {} = none
    volume: dict = field(default_factory=dict, hash=False)     # volume monitor thresholds (xuncha.monitor.volume)
    region: str = ""
    owner: str = "xuncha-data"

    @property
    def channel(self) -> str:
        """How the county's exports reach us: `http` (pulled from its system), `remote` (a landing URL: s3://,
        sftp://, file://) or `landing` (a local folder). A tag of the county's DAG."""
        if self.pulled:
            return "http"
        return "remote" if "://" in str(self.delivery.get("landing", "")) else "landing"

    def exports_on(self, day: dt.date) -> bool:
        """Does this county export for business night `day` (its `schedule`, a cron expression over nights)?"""
        if self.schedule == "@daily":
            return True
        from croniter import croniter

        return croniter.match(self.schedule, dt.datetime.combine(day, dt.time(0)))

    @property
    def label(self) -> str:
        """Name and code, e.g. `嵩县 410325`: how the county is shown in the Airflow grid and in messages."""
        return f"{self.name} {self.code}"

    def active_on(self, day: dt.date) -> bool:
        """Does the county export under this code for business night `day` (active_from ≤ day ≤ active_to)?"""
        return self.active_from <= day and (self.active_to is None or day <= self.active_to)

    def landing_dir(self, landing_root: Path | None = None) -> Path:
        """The county's local inbox: `<landing root>/<code>` (XUNCHA_LANDING) by default, else the path its
        delivery names."""
        target = self.delivery.get("landing", "default")
        if target == "default":
            return (landing_root or get_settings().landing) / self.code
        return Path(target)

    @property
    def pulled(self) -> bool:
        """Is the county's system pulled over HTTP (delivery.http) rather than writing into a landing area?"""
        return "http" in self.delivery


@dataclass(frozen=True)
class Registry:
    """Every county of counties.yml, in file order."""

    counties: tuple[County, ...]

    def get(self, code: str) -> County:
        """The county with this code; KeyError if there is none."""
        for c in self.counties:
            if c.code == code:
                return c
        raise KeyError(f"county {code} is not in the registry")

    def active(self, day: dt.date) -> list[County]:
        """Counties that export under their code for night `day`."""
        return [c for c in self.counties if c.active_on(day)]

    def active_successor(self, code: str, day: dt.date) -> County | None:
        """County `code` if it is active on night `day`, else its successor (`successor`, followed to the one active
        on `day`); None when none of them is active then (an end without a successor, or before `code`'s start)."""
        c, seen = self.get(code), set()
        while not c.active_on(day) and c.successor and c.code not in seen:
            seen.add(c.code)
            c = self.get(c.successor)
        return c if c.active_on(day) else None

    def lineage(self, code: str) -> tuple[str, ...]:
        """The code and every code whose system it continues (transitively), e.g. 410308 → 410308, 410306, 410322."""
        out, todo = [], [code]
        while todo:
            c = todo.pop(0)
            if c not in out:
                out.append(c)
                todo.extend(self.get(c).predecessors)
        return tuple(out)


SCHEMA = Path(__file__).parent / "schemas" / "counties.schema.json"
"""JSON Schema of counties.yml: each entry's fields, types and formats. Rules across entries stay in `parse`."""
_FIELD_ORDER = ("code", "name", "level", "timezone", "deadline", "delivery", "schedule", "poll_seconds", "active_from",
                "active_to", "successor", "contacts", "volume", "region", "owner")


@cache
def _schema() -> dict:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def _message(error) -> str:
    """One line for a schema error: the schema's own `x-message` (xuncha's wording), else jsonschema's."""
    if error.validator == "additionalProperties":
        inside = ".".join(map(str, error.path))   # e.g. `contacts` for a field unknown inside it
        return (f"{inside + ': ' if inside else ''}unknown field(s) "
                f"{sorted(set(error.instance) - set(error.schema.get('properties', {})))}")
    if error.validator == "required" and error.absolute_path == error.relative_path and not error.path:
        missing = [f for f in error.validator_value if f not in error.instance]
        return f"`{missing[0]}` is required"
    text = error.schema.get("x-message")
    return text.format(value=error.instance) if text else error.message


def _first(errors) -> object:
    def rank(e):
        field = e.path[0] if e.path else None
        kind = 0 if e.validator == "additionalProperties" else 1 if e.validator == "required" and not e.path else 2
        return kind, _FIELD_ORDER.index(field) if field in _FIELD_ORDER else len(_FIELD_ORDER), list(map(str, e.path))

    return min(errors, key=rank)


def _plain(entry: dict) -> dict:
    """YAML's own types as JSON text: dates as ISO strings, unquoted codes as strings."""
    out = dict(entry)
    for k in ("active_from", "active_to"):
        if isinstance(out.get(k), dt.date):
            out[k] = out[k].isoformat()
    for k in ("code", "successor"):
        if isinstance(out.get(k), int) and not isinstance(out.get(k), bool):
            out[k] = str(out[k])
    return out


def parse(raw: dict, source: str = "counties.yml") -> Registry:
    """A Registry from the parsed YAML of counties.yml (`source` names the file in errors).

    Each entry (with `defaults` merged under it) is checked against the JSON Schema (SCHEMA); then what a
    schema cannot say: the time zone exists, the schedule is a cron expression, active_to is not before
    active_from, codes are unique, and a successor exists and is named only by entries that end.
    Raises RegistryError naming the entry ("county #n (code name)") and the field of the first fault."""
    import jsonschema

    if not jsonschema.Draft202012Validator(_schema()).is_valid(raw):
        raise RegistryError(f"{source}: {_schema()['x-message']}")
    county_schema = jsonschema.Draft202012Validator(_schema()["$defs"]["county"], format_checker=jsonschema.FormatChecker())
    defaults = raw.get("defaults") or {}
    entries: list[dict] = []
    for i, item in enumerate(raw["counties"], start=1):
        entry = _plain({**defaults, **(item or {})})
        where = f"{source}: county #{i} ({entry.get('code', '?')} {entry.get('name', '')})".rstrip()
        errors = list(county_schema.iter_errors(entry))
        if errors:
            raise RegistryError(f"{where}: {_message(_first(errors))}")
        try:
            ZoneInfo(entry["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise RegistryError(f"{where}: unknown time zone {entry['timezone']!r}") from None
        schedule = entry.get("schedule", "@daily")
        if schedule != "@daily":
            from croniter import croniter

            if not croniter.is_valid(schedule):
                raise RegistryError(f"{where}: schedule {schedule!r} is not a cron expression (or @daily)")
        entry.update(where=where, schedule=schedule, poll_seconds=entry.get("poll_seconds", 300),
                     active_from=dt.date.fromisoformat(entry["active_from"]))
        entry["active_to"] = dt.date.fromisoformat(entry["active_to"]) if entry.get("active_to") else None
        if entry["active_to"] and entry["active_to"] < entry["active_from"]:
            raise RegistryError(f"{where}: active_to is before active_from")
        entries.append(entry)

    codes = [e["code"] for e in entries]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise RegistryError(f"{source}: duplicate county code(s) {dupes}")
    preds: dict[str, list[str]] = {c: [] for c in codes}
    for e in entries:
        succ = e.get("successor")
        if succ is None:
            continue
        if succ not in preds:
            raise RegistryError(f"{e['where']}: successor {succ} is not in the registry")
        if e["active_to"] is None:
            raise RegistryError(f"{e['where']}: a county with a successor needs active_to")
        preds[succ].append(e["code"])
        e["successor"] = succ
    counties = tuple(
        County(
            code=e["code"], name=str(e["name"]), level=e["level"], timezone=e["timezone"],
            deadline=dt.time.fromisoformat(str(e["deadline"])), delivery=e["delivery"],
            active_from=e["active_from"], active_to=e["active_to"], successor=e.get("successor"),
            predecessors=tuple(preds[e["code"]]), schedule=e["schedule"],
            poll_seconds=e["poll_seconds"], contacts=dict(e.get("contacts") or {}), volume=dict(e.get("volume") or {}),
            region=str(e.get("region") or ""), owner=e.get("owner") or "xuncha-data",
        )
        for e in entries
    )
    return Registry(counties)


_PARSED: dict[tuple[str, str], Registry] = {}
"""Registries parsed in this process, by (path, SHA-256 of the file's bytes): the last few only."""


def load(path: Path | None = None) -> Registry:
    """The registry in `path` (default: counties.yml of the config folder, XUNCHA_CONFIG), as the file is now.

    The file is read on every call, so an edited counties.yml is seen without a restart; it is parsed and validated
    again only when its bytes changed (a county task asks several times, and at 1,000 counties a parse costs 0.16 s
    of CPU: docs/performance.md). Registries are immutable, so callers share one. Raises RegistryError naming the
    entry and field of the first fault (a faulty file is never cached)."""
    path = path or get_settings().config_dir / "counties.yml"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RegistryError(f"county registry not found: {path}") from None
    key = (str(path), hashlib.sha256(raw).hexdigest())
    if key not in _PARSED:
        text = raw.decode("utf-8")
        registry = parse(read_config(path, RegistryError, "county registry", text), str(path))
        while len(_PARSED) >= 4:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = registry
    return _PARSED[key]


def default() -> Registry:
    """The configured registry, read afresh (the same as `load()`)."""
    return load()
