"""The nightly export plan: which county systems export on which business night, and what each holds.

Every active system exports every night (a night without changes is a heartbeat: a manifest with no
files). A delta export holds each row changed that night once, in its state at the end of the day.
A system with `full_snapshots` sends a `full` export on the first night of each quarter: org_units as a
complete snapshot, plus a complete snapshot of every other entity that changed that night.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from dataclasses import dataclass

from xuncha.spec import ENTITY_ORDER, load_spec

from .ledger import TZ, Ledger
from .profiles import Delivery, Profile

D = dt.timedelta


@dataclass(frozen=True)
class System:
    code: str
    name: str
    level: str
    delivery: Delivery
    full_snapshots: bool
    active_from: dt.date
    active_to: dt.date
    lineage: tuple[str, ...]   # the codes whose rows this system holds (itself first)
    index: int

    def active(self, night: dt.date) -> bool:
        return self.active_from <= night <= self.active_to


def systems(profile: Profile) -> list[System]:
    t0, t1 = profile.term_start, profile.term_end
    changes = {c.old_code: c for c in profile.code_changes if t0 < c.effective <= t1}
    out = []
    for i, u in enumerate(profile.committees):
        chg = changes.get(u.code)
        out.append(System(u.code, u.name, u.level, u.delivery, u.full_snapshots, t0,
                          chg.effective - D(days=1) if chg else t1, (u.code,), i))
    codes = {u.code for u in profile.committees}
    for j, succ in enumerate(profile.successors):
        olds = [c for c in changes.values() if c.new_code == succ.code and c.old_code in codes]
        if olds:
            out.append(System(succ.code, succ.name, "county", succ.delivery, False, olds[0].effective, t1,
                              (succ.code, *(c.old_code for c in olds)), len(profile.committees) + j))
    return out


def generated_at(system: System, night: dt.date, hour: int = 1, day_offset: int = 1) -> str:
    """When a system writes the export of `night`: the small hours of the next morning, fixed per system."""
    minute = (5 + 3 * system.index) % 60
    second = zlib.crc32(f"{system.code}|{night.toordinal()}".encode()) % 60
    return f"{(night + D(days=day_offset)).isoformat()}T{hour:02d}:{minute:02d}:{second:02d}{TZ}"


def export_id(code: str, night: dt.date, seq: int) -> str:
    return f"{code}-{night:%Y%m%d}-{seq:02d}"


def is_full_night(system: System, night: dt.date) -> bool:
    return system.full_snapshots and night.day == 1 and night.month in (1, 4, 7, 10)


Night = dict[str, dict[str, list[tuple]]]   # system code -> entity -> rows


@dataclass
class Plan:
    nights: dict[dt.date, Night]
    deletions: dict[tuple[str, dt.date], list[tuple[str, str]]]   # (system, night) -> [(entity, key)]
    key_index: dict[str, int]


def build_plan(ledger: Ledger) -> Plan:
    spec = load_spec()
    key_index = {}
    nights: dict[dt.date, Night] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for entity in ENTITY_ORDER:
        ent = spec.entity(entity)
        if ent.column_names[-1] != "updated_at":
            raise ValueError(f"{entity}: the generator expects updated_at as the last column")
        key_index[entity] = ent.column_names.index(ent.key)
        for row, day, values in ledger.versions(entity):
            nights[day][ledger.system_for(row.unit, day)][entity].append(values)
    for night in nights.values():
        for tables in night.values():
            for entity, rows in tables.items():
                k = key_index[entity]
                rows.sort(key=lambda r: (r[-1], r[k]))
    deletions: dict[tuple[str, dt.date], list[tuple[str, str]]] = defaultdict(list)
    for entity, rows in ledger.rows.items():
        for row in rows:
            if row.deleted and row.deleted <= ledger.profile.term_end:
                deletions[(ledger.system_for(row.unit, row.deleted), row.deleted)].append((entity, row.key))
    return Plan(nights, deletions, key_index)


class SnapshotState:
    """The current rows of one system, kept night by night to write its full snapshots."""

    def __init__(self, key_index: dict[str, int]):
        self.key_index = key_index
        self.rows: dict[str, dict[str, tuple]] = {e: {} for e in ENTITY_ORDER}

    def apply(self, tables: dict[str, list[tuple]], deletions: list[tuple[str, str]]) -> None:
        for entity, rows in tables.items():
            k = self.key_index[entity]
            state = self.rows[entity]
            for r in rows:
                state[r[k]] = r
        for entity, key in deletions:
            self.rows[entity].pop(key, None)

    def snapshot(self, changed: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
        out = {}
        for entity in ENTITY_ORDER:
            if entity == "org_units" or changed.get(entity):
                out[entity] = [self.rows[entity][k] for k in sorted(self.rows[entity])]
        return out
