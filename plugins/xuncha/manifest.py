"""Reading and checking an export's manifest.json against the spec and the files beside it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from xuncha import landing
from xuncha.errors import Problem
from xuncha.spec import manifest_schema

_CHUNK = 1 << 20


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


def read(export_dir: Path) -> tuple[Manifest | None, list[Problem]]:
    """Parse and schema-check manifest.json; (None, problems) when it cannot be used."""
    path = export_dir / "manifest.json"
    try:
        with landing.open_regular(path) as fh:   # never through a link (xuncha.landing)
            raw = json.loads(fh.read().decode("utf-8-sig"))
    except FileNotFoundError:
        return None, [Problem("manifest.missing", f"no manifest.json in {export_dir.name}", file="manifest.json")]
    except OSError:
        return None, [Problem(landing.RULE, "manifest.json is not a regular file: refused without being read",
                              file="manifest.json")]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [Problem("manifest.json", f"manifest.json is not valid UTF-8 JSON: {exc}", file="manifest.json")]
    import jsonschema

    validator = jsonschema.Draft202012Validator(manifest_schema(), format_checker=jsonschema.FormatChecker())
    problems = [
        Problem("manifest.schema", f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}", file="manifest.json")
        for e in sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    ]
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
        business_date=dt.date.fromisoformat(raw["business_date"]),
        generated_at=dt.datetime.fromisoformat(raw["generated_at"].replace("Z", "+00:00")),
        mode=raw["mode"],
        spec_version=raw["spec_version"],
        files=files,
        raw=raw,
    )
    return manifest, []


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
    for f in manifest.files:
        p = export_dir / f.path
        if not p.is_file():
            problems.append(Problem("file.missing", f"{f.entity} file listed in the manifest is not in the export", file=f.path))
            continue
        try:
            actual[f.path] = sha256_of(p)
        except OSError:   # swapped for a link or a FIFO since xuncha.landing.check_tree looked
            problems.append(Problem(landing.RULE, "not a regular file: refused without being read", file=f.path))
            continue
        if actual[f.path] != f.sha256:
            problems.append(Problem(
                "file.sha256", f"SHA-256 is {actual[f.path]}, manifest declares {f.sha256}", file=f.path, value=actual[f.path],
            ))
    return actual, problems
