"""The ledger: every row the simulated systems ever hold, as a timeline of changes.

A `Row` is created on a business date with its values and then changed on later dates. `versions()`
turns the timelines into what the systems export: one version per row per business night (several
changes on one day collapse into the day's last state), nothing after the term's end, each version
stamped with an `updated_at` during that day's office hours. The exporting system of a version is the
one that owns the row's lineage on that night (after a code change, the successor).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from xuncha.spec import ENTITY_ORDER, load_spec

from .profiles import Profile

ID_LETTER = {"org_units": "O", "inspections": "I", "findings": "F", "clues": "C", "case_outcomes": "D",
             "rectifications": "T", "satisfaction_surveys": "S"}
ID_WIDTH = {"org_units": 5, "inspections": 5, "findings": 6, "clues": 5, "case_outcomes": 5,
            "rectifications": 6, "satisfaction_surveys": 5}
TZ = "+08:00"


@dataclass(slots=True, eq=False)
class Row:
    entity: str
    key: str
    unit: str                 # the unit whose lineage holds the row (its original county code)
    created: dt.date
    values: dict
    changes: list = field(default_factory=list)
    deleted: dt.date | None = None   # removed from the source system on this date (withdrawn by a full export)

    def change(self, day: dt.date, **fields) -> None:
        if day < self.created:
            raise ValueError(f"{self.key}: change on {day} before creation on {self.created}")
        self.changes.append((day, fields))

    def value_at_end(self, name: str, end: dt.date):
        """The column's value in the last state on or before `end`."""
        v = self.values.get(name)
        for day, fields in sorted(self.changes, key=lambda c: c[0]):
            if day <= end and name in fields:
                v = fields[name]
        return v


class Ledger:
    def __init__(self, profile: Profile, seed: int):
        self.profile = profile
        self.seed = seed
        self.rows: dict[str, list[Row]] = {e: [] for e in ENTITY_ORDER}
        self._counters: dict[tuple[str, str], int] = defaultdict(int)
        self._successor = {(c.old_code): (c.new_code, c.effective) for c in profile.code_changes
                           if profile.term_start <= c.effective <= profile.term_end}
        spec = load_spec()
        self.columns = {e: [c for c in spec.entity(e).column_names if c != "updated_at"] for e in ENTITY_ORDER}
        self.keys = {e: spec.entity(e).key for e in ENTITY_ORDER}

    def system_for(self, unit: str, day: dt.date) -> str:
        """The county code `unit`'s system exports under on business date `day`."""
        succ = self._successor.get(unit)
        return succ[0] if succ and day >= succ[1] else unit

    def new(self, entity: str, unit: str, created: dt.date, key: str | None = None, **values) -> Row:
        if key is None:
            owner = self.system_for(unit, created)
            self._counters[(owner, entity)] += 1
            key = f"{owner}-{ID_LETTER[entity]}{self._counters[(owner, entity)]:0{ID_WIDTH[entity]}d}"
        values[self.keys[entity]] = key
        missing = set(self.columns[entity]) - set(values)
        if missing:
            raise ValueError(f"{entity} {key}: missing values {sorted(missing)}")
        row = Row(entity, key, unit, created, values)
        self.rows[entity].append(row)
        return row

    def updated_at(self, key: str, day: dt.date) -> str:
        """A deterministic time during office hours (08:00-21:59) of `day`, local time."""
        s = 8 * 3600 + zlib.crc32(f"{self.seed}|{key}|{day.toordinal()}".encode()) % (14 * 3600)
        return f"{day.isoformat()}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{TZ}"

    def versions(self, entity: str) -> Iterator[tuple[Row, dt.date, tuple]]:
        """(row, business date, values in spec column order incl. updated_at) for every exported version."""
        end = self.profile.term_end
        cols = self.columns[entity]
        for row in self.rows[entity]:
            if row.created > end:
                continue
            state = dict(row.values)
            day = row.created
            for cday, fields in sorted(row.changes, key=lambda c: c[0]):
                if cday > end:
                    break
                if cday != day:
                    yield row, day, (*(state[c] for c in cols), self.updated_at(row.key, day))
                    day = cday
                state.update(fields)
            yield row, day, (*(state[c] for c in cols), self.updated_at(row.key, day))

    def count(self) -> dict[str, int]:
        return {e: len(r) for e, r in self.rows.items()}
