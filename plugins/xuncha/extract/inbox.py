"""Receiving exports: the landing inbox of each county (landing/<code>/), one `Arrival` per export folder.

An export folder holds a `manifest.json` and its files (export spec §2); a county writes the manifest last, so a
folder with a manifest is complete. Listing the inbox reads each manifest once (`manifest.read`: JSON, schema)
and keeps it on the Arrival, so the pipeline does not read it again. Folders whose name starts with `.` or `_`
are not exports (partial downloads, reports).

`nights_waiting` answers "which nights are waiting?" for the arrival check without reading a manifest twice:
each manifest's business date is remembered by its path, size and modification time.
"""

from __future__ import annotations

import datetime as dt
import json
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from xuncha.extract import landing
from xuncha.extract import manifest as manifest_mod
from xuncha.errors import Problem
from xuncha.registry import County, Registry
from xuncha.settings import Settings, get_settings


@dataclass
class Arrival:
    """One export folder as received: its manifest read once (None, with `problems`, when unusable)."""

    path: Path
    manifest: manifest_mod.Manifest | None
    problems: list[Problem] = field(default_factory=list)
    declared: dict = field(default_factory=dict, repr=False)
    """business_date and generated_at as written, even in a manifest that fails the schema (for ordering)."""

    @property
    def export_id(self) -> str:
        """The manifest's export_id, or the folder name when the manifest cannot be read."""
        return self.manifest.export_id if self.manifest else self.path.name

    @property
    def business_date(self) -> dt.date | None:
        """The night the export covers (None when the manifest cannot be read)."""
        return self.manifest.business_date if self.manifest else None

    @property
    def generated_at(self) -> dt.datetime | None:
        """When the county system wrote the export (None when the manifest cannot be read)."""
        return self.manifest.generated_at if self.manifest else None

    @property
    def night(self) -> str:
        """Business date (ISO) as declared, or "" if the manifest cannot be read at all."""
        return self.declared.get("business_date", "")

    def sort_key(self) -> tuple[str, str, str]:
        """Oldest night first, then generation time, then folder name; unreadable manifests sort first."""
        return self.night, self.declared.get("generated_at", ""), self.path.name


def receive(export_dir: Path) -> Arrival:
    """Read an export folder's manifest (once) into an Arrival; problems name the manifest's faults.

    Links, devices, FIFOs and sockets in the folder are refused before anything is opened (xuncha.extract.landing); a
    refused folder or manifest is not read at all."""
    problems = landing.check_tree(export_dir)
    if any(p.file in (export_dir.name, "manifest.json") for p in problems):
        return Arrival(export_dir, None, problems, {})
    manifest, read_problems = manifest_mod.read(export_dir)
    problems += read_problems
    if manifest is not None:
        declared = {"business_date": manifest.raw["business_date"], "generated_at": manifest.raw["generated_at"]}
    else:  # a manifest that fails the schema still sorts by what it declares; it is quarantined with the reason
        declared = _declared(export_dir / "manifest.json")
    return Arrival(export_dir, manifest, problems, declared)


def _declared(path: Path) -> dict:
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
        return {k: str(raw.get(k, "")) for k in ("business_date", "generated_at")}
    except (OSError, ValueError, AttributeError):
        return {}


def _export_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "_"))]


def backlog(county: County, settings: Settings | None = None) -> int:
    """How many export folders wait in the county's inbox, whatever their night; reads no manifest (cheap enough
    for a plan over a catch-up of thousands)."""
    return len(_export_dirs(county.landing_dir((settings or get_settings()).landing)))


def waiting(county: County, settings: Settings | None = None, up_to: dt.date | None = None) -> list[Arrival]:
    """Exports waiting in the county's inbox for nights up to `up_to` (all if None), oldest night first.

    Exports whose manifest cannot be read at all are included (they are quarantined with the reason)."""
    root = county.landing_dir((settings or get_settings()).landing)
    arrivals = sorted((receive(d) for d in _export_dirs(root)), key=Arrival.sort_key)
    return [a for a in arrivals if up_to is None or a.night == "" or a.night <= up_to.isoformat()]


def find(path: Path) -> list[Arrival]:
    """`path` itself if it is an export folder, else every export folder below it; oldest night first."""
    if (path / "manifest.json").is_file():
        return [receive(path)]
    return sorted((receive(m.parent) for m in path.rglob("manifest.json")), key=Arrival.sort_key)


def county_of(arrival: Arrival, registry: Registry) -> str:
    """The county an export belongs to: its parent folder's name if that is a registry code, else its manifest's.

    Raises ValueError if neither names a county of the registry."""
    codes = {c.code for c in registry.counties}
    if arrival.path.parent.name in codes:
        return arrival.path.parent.name
    code = arrival.manifest.county_code if arrival.manifest else _declared_county(arrival.path / "manifest.json")
    if code is None:
        raise ValueError(f"{arrival.path}: cannot tell its county (name it with --county)")
    if code not in codes:
        raise ValueError(f"{arrival.path}: county {code} is not in the registry")
    return code


def _declared_county(path: Path) -> str | None:
    try:
        code = json.loads(path.read_text(encoding="utf-8-sig"))["county_code"]
        return str(code)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def nights_waiting(county: County, settings: Settings | None = None) -> set[str]:
    """The business dates (ISO) of the exports in the county's inbox; reads nothing it has read before.

    A manifest's night is remembered by (path, size, modification time), so a poll that finds the same folders
    costs one directory listing and one stat per folder."""
    nights = set()
    for d in _export_dirs(county.landing_dir((settings or get_settings()).landing)):
        m = d / "manifest.json"
        try:
            st = m.lstat()
        except OSError:
            continue  # still being written: the manifest comes last
        if not stat.S_ISREG(st.st_mode):
            continue  # a link, FIFO or device is never read (xuncha.extract.landing); the night's run quarantines it
        nights.add(_night_of(str(m), st.st_size, st.st_mtime_ns))
    nights.discard("")
    return nights


@lru_cache(maxsize=4096)
def _night_of(path: str, size: int, mtime_ns: int) -> str:
    return _declared(Path(path)).get("business_date", "")
