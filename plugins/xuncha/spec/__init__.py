"""The county export specification, loaded from the files beside this module.

`entities.yml` and `manifest.schema.json` are the single source of truth, and COLUMN_TYPES is the one home of the
column type system (PostgreSQL type, cast, strict format): the parser, the validator,
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

@dataclass(frozen=True)
class ColumnType:
    """One column type of the spec: how its text is checked in staging and typed in core.

    Staging holds every column as text; Great Expectations checks `strict_format` (the exact text counties
    must send, export spec §4) and `staging.is_valid(value, valid_as)` (PostgreSQL's own parser, migration
    0004: the regex admits 2019-02-30); xuncha.normalize.typed casts the trimmed text to `pg_type` once, after staging
    (`cast`: that expression for one column).
    """

    name: str
    pg_type: str
    """PostgreSQL type of the core and history column."""
    strict_format: str | None = None
    """Regex the staged text must match; None = any text."""
    valid_as: str | None = None
    """Type name given to staging.is_valid; None = no parse check."""
    doc: str = ""
    """How docs/export-spec.md names the type."""
    strict_function: str | None = None
    """SQL function (schema staging) equal to `~ strict_format` and cheaper than the regex (migration 0171); None =
    the rule runs the regex itself."""

    def strict_test(self, column: str) -> str | None:
        """SQL condition, true when the staged text of `column` is in `strict_format` (NULL for NULL); None when the
        type has no strict format. staging.is_strict_date and is_strict_timestamp answer exactly what the regex
        answers, at a half to two thirds of its cost (migration 0171, tests/test_strict_forms.py)."""
        if not self.strict_format:
            return None
        if self.strict_function:
            return f"staging.{self.strict_function}({column})"
        return f"{column} ~ '{self.strict_format}'"

    def cast(self, column: str) -> str:
        """SQL expression turning the staged text of `column` into `pg_type`: trimmed by the one definition of
        trimmed text (staging.trimmed, migration 0020; export spec §8.4), blank = NULL."""
        text = f"staging.trimmed({column})"
        return text if self.pg_type == "text" else f"{text}::{self.pg_type}"


# Strict ISO formats (PostgreSQL would accept more; counties must send exactly these).
_DATE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_TIMESTAMP = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
              r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:?[0-9]{2})$")

COLUMN_TYPES: dict[str, ColumnType] = {t.name: t for t in (
    ColumnType("string", "text", doc="text"),
    ColumnType("code", "text", doc="code"),
    ColumnType("date", "date", _DATE, "date", "date `YYYY-MM-DD`", "is_strict_date"),
    ColumnType("timestamp", "timestamptz", _TIMESTAMP, "timestamptz", "timestamp, ISO 8601 with UTC offset",
               "is_strict_timestamp"),
    ColumnType("integer", "integer", r"^-?[0-9]{1,9}$", "integer", "integer"),
    ColumnType("decimal", "numeric(16,2)", r"^-?[0-9]{1,14}(\.[0-9]{1,2})?$", "numeric", "decimal, ≤ 2 places"),
    ColumnType("person", "text", doc="person reference"),
)}
"""Every column type of the spec, by the name entities.yml uses."""

@dataclass(frozen=True)
class Column:
    """One column of an entity as entities.yml defines it (type: a key of COLUMN_TYPES; codes: a code list name)."""
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
    def type_info(self) -> ColumnType:
        """The column's type: PostgreSQL type, cast and strict format (COLUMN_TYPES)."""
        return COLUMN_TYPES[self.type]

    @property
    def pg_type(self) -> str:
        """PostgreSQL type of the column in core and history."""
        return self.type_info.pg_type


@dataclass(frozen=True)
class Entity:
    """One entity of the export spec: its key, columns in file order and the code lists they use."""
    name: str
    zh: str
    row: str
    key: str
    columns: tuple[Column, ...]
    codes: dict[str, dict[str, str]] = field(repr=False, default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        """Column names in spec order (the staging table's columns after row_no)."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column named `name`; KeyError if the entity has none."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def allowed_codes(self, column: Column) -> dict[str, str]:
        """The code list (code → label) a `code` column takes its values from."""
        assert column.codes is not None
        return self.codes[column.codes]


@dataclass(frozen=True)
class Spec:
    """The export specification: its version, code lists and entities (entities.yml)."""
    version: str
    codes: dict[str, dict[str, str]]
    entities: dict[str, Entity]

    def entity(self, name: str) -> Entity:
        """The entity named `name`; KeyError naming the spec's entities if there is none."""
        try:
            return self.entities[name]
        except KeyError:
            raise KeyError(f"unknown entity {name!r}; spec {self.version} has {sorted(self.entities)}") from None


@cache
def load_spec() -> Spec:
    """entities.yml, checked (known column types and code lists) and cached; raises ValueError on a fault."""
    raw = yaml.safe_load((SPEC_DIR / "entities.yml").read_text(encoding="utf-8"))
    codes = raw["codes"]
    entities = {}
    for name, body in raw["entities"].items():
        cols = tuple(Column(**c) for c in body["columns"])
        for c in cols:
            if c.type not in COLUMN_TYPES:
                raise ValueError(f"spec: {name}.{c.name} has unknown type {c.type!r}")
            if c.type == "code" and c.codes not in codes:
                raise ValueError(f"spec: {name}.{c.name} refers to unknown code list {c.codes!r}")
        entities[name] = Entity(name=name, zh=body["zh"], row=body["row"], key=body["key"], columns=cols, codes=codes)
    return Spec(version=str(raw["spec_version"]), codes=codes, entities=entities)


@cache
def manifest_schema() -> dict:
    """The JSON Schema of manifest.json (spec/v1/manifest.schema.json), cached."""
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
