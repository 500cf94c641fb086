"""The county export specification, loaded from the files beside this module.

`entities.yml` and `manifest.schema.json` are the single source of truth: the parser, the validator,
the loader and the generator all read them through this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

SPEC_DIR = Path(__file__).parent / "v1"
SPEC_VERSION = "1.0"

# PostgreSQL type of each spec column type (staging is all text; core is typed with these).
PG_TYPES = {
    "string": "text",
    "code": "text",
    "date": "date",
    "timestamp": "timestamptz",
    "integer": "integer",
    "decimal": "numeric(16,2)",
    "person": "text",
}


@dataclass(frozen=True)
class Column:
    name: str
    zh: str
    type: str
    required: bool
    codes: str | None = None
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    ref: str | None = None
    note: str | None = None

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]


@dataclass(frozen=True)
class Entity:
    name: str
    zh: str
    row: str
    key: str
    columns: tuple[Column, ...]
    codes: dict[str, dict[str, str]] = field(repr=False, default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def allowed_codes(self, column: Column) -> dict[str, str]:
        assert column.codes is not None
        return self.codes[column.codes]


@dataclass(frozen=True)
class Spec:
    version: str
    codes: dict[str, dict[str, str]]
    entities: dict[str, Entity]

    def entity(self, name: str) -> Entity:
        try:
            return self.entities[name]
        except KeyError:
            raise KeyError(f"unknown entity {name!r}; spec {self.version} has {sorted(self.entities)}") from None


@cache
def load_spec() -> Spec:
    raw = yaml.safe_load((SPEC_DIR / "entities.yml").read_text(encoding="utf-8"))
    codes = raw["codes"]
    entities = {}
    for name, body in raw["entities"].items():
        cols = tuple(Column(**c) for c in body["columns"])
        for c in cols:
            if c.type not in PG_TYPES:
                raise ValueError(f"spec: {name}.{c.name} has unknown type {c.type!r}")
            if c.type == "code" and c.codes not in codes:
                raise ValueError(f"spec: {name}.{c.name} refers to unknown code list {c.codes!r}")
        entities[name] = Entity(name=name, zh=body["zh"], row=body["row"], key=body["key"], columns=cols, codes=codes)
    return Spec(version=str(raw["spec_version"]), codes=codes, entities=entities)


@cache
def manifest_schema() -> dict:
    return json.loads((SPEC_DIR / "manifest.schema.json").read_text(encoding="utf-8"))


ENTITY_ORDER = (
    "org_units",
    "rounds",
    "inspections",
    "findings",
    "clues",
    "case_outcomes",
    "rectifications",
    "satisfaction_surveys",
)
"""Load order: every entity comes after the entities it refers to."""
