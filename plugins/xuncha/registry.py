"""The county registry: config/counties.yml, validated into County records.

Read at DAG parse time (it is a small local file, no database), so every county appears by name in the
Airflow UI. Errors name the entry and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


from xuncha.settings import get_settings, read_config

LEVELS = ("city", "county")
_CODE = re.compile(r"^[0-9]{6}$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class RegistryError(ValueError):
    pass


@dataclass(frozen=True)
class County:
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

    def exports_on(self, day: dt.date) -> bool:
        """Does this county export for business night `day` (its `schedule`, a cron expression over nights)?"""
        if self.schedule == "@daily":
            return True
        from croniter import croniter

        return croniter.match(self.schedule, dt.datetime.combine(day, dt.time(0)))

    @property
    def label(self) -> str:
        return f"{self.name} {self.code}"

    def active_on(self, day: dt.date) -> bool:
        return self.active_from <= day and (self.active_to is None or day <= self.active_to)

    def landing_dir(self, landing_root: Path | None = None) -> Path:
        target = self.delivery.get("landing", "default")
        if target == "default":
            return (landing_root or get_settings().landing) / self.code
        return Path(target)

    @property
    def pulled(self) -> bool:
        return "http" in self.delivery


@dataclass(frozen=True)
class Registry:
    counties: tuple[County, ...]

    def get(self, code: str) -> County:
        for c in self.counties:
            if c.code == code:
                return c
        raise KeyError(f"county {code} is not in the registry")

    def active(self, day: dt.date) -> list[County]:
        return [c for c in self.counties if c.active_on(day)]

    def lineage(self, code: str) -> tuple[str, ...]:
        """The code and every code whose system it continues (transitively), e.g. 410308 → 410308, 410306, 410322."""
        out, todo = [], [code]
        while todo:
            c = todo.pop(0)
            if c not in out:
                out.append(c)
                todo.extend(self.get(c).predecessors)
        return tuple(out)


def _date(value, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise RegistryError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse(raw: dict, source: str = "counties.yml") -> Registry:
    if not isinstance(raw, dict) or not isinstance(raw.get("counties"), list):
        raise RegistryError(f"{source}: expected a mapping with a `counties` list")
    defaults = raw.get("defaults") or {}
    entries: list[dict] = []
    for i, item in enumerate(raw["counties"], start=1):
        entry = {**defaults, **(item or {})}
        where = f"{source}: county #{i} ({entry.get('code', '?')} {entry.get('name', '')})".rstrip()
        unknown = set(entry) - {"code", "name", "level", "timezone", "deadline", "delivery", "active_from", "active_to", "successor", "schedule", "poll_seconds"}
        if unknown:
            raise RegistryError(f"{where}: unknown field(s) {sorted(unknown)}")
        for req in ("code", "name", "level"):
            if not entry.get(req):
                raise RegistryError(f"{where}: `{req}` is required")
        code = str(entry["code"])
        if not _CODE.match(code):
            raise RegistryError(f"{where}: code must be 6 digits")
        if entry["level"] not in LEVELS:
            raise RegistryError(f"{where}: level must be one of {LEVELS}")
        try:
            ZoneInfo(entry["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise RegistryError(f"{where}: unknown time zone {entry['timezone']!r}") from None
        if not _TIME.match(str(entry["deadline"])):
            raise RegistryError(f"{where}: deadline must be HH:MM")
        delivery = entry["delivery"]
        if not isinstance(delivery, dict) or len(set(delivery) & {"landing", "http"}) != 1:
            raise RegistryError(f"{where}: delivery must have exactly one of `landing` or `http`")
        if "http" in delivery and not (isinstance(delivery["http"], dict) and delivery["http"].get("conn_id")):
            raise RegistryError(f"{where}: delivery.http needs a conn_id (an Airflow connection with the URL and token)")
        schedule = str(entry.get("schedule", "@daily"))
        if schedule != "@daily":
            from croniter import croniter

            if not croniter.is_valid(schedule):
                raise RegistryError(f"{where}: schedule {schedule!r} is not a cron expression (or @daily)")
        poll = entry.get("poll_seconds", 300)
        if not isinstance(poll, int) or not 1 <= poll <= 3600:
            raise RegistryError(f"{where}: poll_seconds must be a whole number of seconds from 1 to 3600")
        entry.update(code=code, where=where, schedule=schedule, poll_seconds=poll, active_from=_date(entry["active_from"], where))
        entry["active_to"] = _date(entry["active_to"], where) if entry.get("active_to") else None
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
        succ = str(succ)
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
            poll_seconds=e["poll_seconds"],
        )
        for e in entries
    )
    return Registry(counties)


def load(path: Path | None = None) -> Registry:
    path = path or get_settings().config_dir / "counties.yml"
    return parse(read_config(path, RegistryError, "county registry"), str(path))


@cache
def default() -> Registry:
    return load()
