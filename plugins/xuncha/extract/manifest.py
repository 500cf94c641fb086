"""Reading and checking an export's manifest.json against the spec and the files beside it."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from xuncha.extract import landing
from xuncha.extract import limits
from xuncha.errors import Problem
from xuncha.spec import manifest_schema
from xuncha.text import excerpt

_CHUNK = 1 << 20
# generated_at may be later than the platform's clock by at most this much (export spec §3, §4.3): a stamp from
# the future would otherwise let rows stamped up to it win over every later correction.
CLOCK_TOLERANCE = dt.timedelta(minutes=10)
_SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class ExportFile:
    """One file a manifest lists: entity, file name, format (csv|xlsx|jsonl), encoding, data rows, SHA-256."""
    entity: str
    path: str
    format: str
    encoding: str | None
    rows: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """A manifest.json that passed its schema (export spec §3); `raw` is the parsed JSON as sent."""
    export_id: str
    county_code: str
    business_date: dt.date
    generated_at: dt.datetime
    mode: str
    spec_version: str
    files: tuple[ExportFile, ...]
    raw: dict

    @property
    def declared_rows(self) -> int:
        """Data rows the manifest declares over all its files."""
        return sum(f.rows for f in self.files)


@functools.cache
def _ecma_regex(pattern: str) -> re.Pattern:
    """`pattern` with ECMA-262 semantics (JSON Schema's regex dialect): `$` at its end matches only at the end
    of the string, never before a final line break as Python's `$` does (so `"410303-20210411-01\\n"` does not
    match `^[A-Za-z0-9._-]+$`)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


@functools.cache
def _validator_class():
    """Draft 2020-12 with `pattern` checked as JSON Schema means it (_ecma_regex): jsonschema's own check uses
    Python's re.search, whose `$` accepts an `export_id` ending in a line break (issue 27)."""
    import jsonschema

    def pattern(validator, patrn, instance, schema):
        if validator.is_type(instance, "string") and not _ecma_regex(patrn).search(instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": pattern})


def read(export_dir: Path) -> tuple[Manifest | None, list[Problem]]:
    """Parse and schema-check manifest.json; (None, problems) when it cannot be used."""
    path = export_dir / "manifest.json"
    try:
        with landing.open_regular(path) as fh:   # never through a link (xuncha.extract.landing)
            raw = json.loads(fh.read().decode("utf-8-sig"))
    except FileNotFoundError:
        return None, [Problem("manifest.missing", f"no manifest.json in {export_dir.name}", file="manifest.json")]
    except OSError:
        return None, [Problem(landing.RULE, "manifest.json is not a regular file: refused without being read",
                              file="manifest.json")]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [Problem("manifest.json", f"manifest.json is not valid UTF-8 JSON: {exc}", file="manifest.json")]
    except RecursionError:
        return None, [Problem("manifest.json", "manifest.json nests a value too deep to read (§3)", file="manifest.json")]
    import jsonschema

    validator = _validator_class()(manifest_schema(), format_checker=jsonschema.FormatChecker())
    problems = [
        Problem("manifest.schema", f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {excerpt(e.message)}",
                file="manifest.json", column="/".join(map(str, e.absolute_path)) or None)
        for e in sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        return None, problems
    # The schema's patterns admit month 13 or 25:61 (and `format` is only checked where the optional format
    # validators are installed): the dates are parsed here, so a bad one is this export's problem, never a crash.
    try:
        business_date = dt.date.fromisoformat(raw["business_date"])
    except ValueError as exc:
        problems.append(Problem("manifest.schema", f"business_date: not a calendar date ({exc})", file="manifest.json",
                                column="business_date", value=excerpt(raw["business_date"])))
    try:
        generated_at = dt.datetime.fromisoformat(raw["generated_at"].replace("Z", "+00:00"))
    except ValueError as exc:
        problems.append(Problem("manifest.schema", f"generated_at: not an ISO 8601 date-time ({exc})",
                                file="manifest.json", column="generated_at", value=excerpt(raw["generated_at"])))
    if problems:
        return None, problems
    night_start = dt.datetime.combine(business_date, dt.time(0), _SHANGHAI)
    if generated_at < night_start:
        problems.append(Problem("manifest.time", f"generated_at {generated_at.isoformat()} is before the business "
                                f"night {business_date} began (Asia/Shanghai)", file="manifest.json",
                                column="generated_at", value=raw["generated_at"]))
    if generated_at > dt.datetime.now(dt.timezone.utc) + CLOCK_TOLERANCE:
        problems.append(Problem("manifest.time", f"generated_at {generated_at.isoformat()} is in the future (more than "
                                f"{CLOCK_TOLERANCE} ahead of the platform's clock)", file="manifest.json",
                                column="generated_at", value=raw["generated_at"]))
    if problems:
        return None, problems
    entities = [f["entity"] for f in raw["files"]]
    dupes = sorted({e for e in entities if entities.count(e) > 1})
    if dupes:
        return None, [Problem("manifest.schema", f"entity listed twice: {', '.join(dupes)}", file="manifest.json")]
    files = tuple(
        ExportFile(f["entity"], f["path"], f["format"], f.get("encoding"), f["rows"], f["sha256"]) for f in raw["files"]
    )
    manifest = Manifest(
        export_id=raw["export_id"],
        county_code=raw["county_code"],
        business_date=business_date,
        generated_at=generated_at,
        mode=raw["mode"],
        spec_version=raw["spec_version"],
        files=files,
        raw=raw,
    )
    return manifest, []


# A row's updated_at may be later than its export's night by at most this much (export spec §4.3): exporters stamp
# rows by their own clock and often write the night some hours after it ends.
UPDATED_AT_TOLERANCE = dt.timedelta(days=1)


def updated_at_bound(manifest: Manifest, now: dt.datetime | None = None) -> dt.datetime:
    """The latest updated_at a row of this export may carry (export spec §4.3): the later of generated_at and the
    end of the business night (24:00 Asia/Shanghai), plus UPDATED_AT_TOLERANCE — and never past the platform's
    clock (+ CLOCK_TOLERANCE). A stamp after it would win over every later correction of the row."""
    night_end = dt.datetime.combine(manifest.business_date + dt.timedelta(days=1), dt.time(0), _SHANGHAI)
    now = now or dt.datetime.now(dt.timezone.utc)
    return min(max(manifest.generated_at, night_end) + UPDATED_AT_TOLERANCE, now + CLOCK_TOLERANCE)


def content(manifest: Manifest) -> frozenset[tuple[str, str, str]]:
    """What an export holds, as (entity, path, sha256) of its files: equal content = a re-send (§4.4)."""
    return frozenset((f.entity, f.path, f.sha256) for f in manifest.files)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with landing.open_regular(path) as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def check_files(manifest: Manifest, export_dir: Path, expected_county: str | tuple[str, ...]) -> tuple[dict[str, str], list[Problem]]:
    """County code, presence and checksums. Returns (actual sha256 per path, problems)."""
    problems: list[Problem] = []
    allowed = (expected_county,) if isinstance(expected_county, str) else expected_county
    if manifest.county_code not in allowed:
        problems.append(Problem(
            "manifest.county",
            f"manifest says county {manifest.county_code}, but the export was delivered for {allowed[0]}",
            file="manifest.json", column="county_code", value=manifest.county_code,
        ))
    actual: dict[str, str] = {}
    present = []
    for f in manifest.files:
        p = export_dir / f.path
        if not p.is_file():
            problems.append(Problem("file.missing", f"{f.entity} file listed in the manifest is not in the export", file=f.path))
        else:
            present.append((f.path, p))
    too_big = limits.check_sizes(present)   # before any byte is hashed
    if too_big:
        return actual, problems + too_big
    for f in manifest.files:
        p = export_dir / f.path
        if not p.is_file():
            continue
        try:
            actual[f.path] = sha256_of(p)
        except OSError:   # swapped for a link or a FIFO since xuncha.extract.landing.check_tree looked
            problems.append(Problem(landing.RULE, "not a regular file: refused without being read", file=f.path))
            continue
        if actual[f.path] != f.sha256:
            problems.append(Problem(
                "file.sha256", f"SHA-256 is {actual[f.path]}, manifest declares {f.sha256}", file=f.path, value=actual[f.path],
            ))
    return actual, problems
