"""Helpers for the generator and county-server tests: read generated exports back from disk, check them
against the spec, and replay them into a final state, independently of the generator's own code (only
the spec is shared). Imported by test modules; not a pytest conftest (tests/conftest.py is the
foundation's)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from xuncha_sim.generator import generate
from xuncha.spec import ENTITY_ORDER, load_spec

CROSSWALK = {"410381": "410307", "410322": "410308", "410306": "410308"}   # the 2021 code changes (spec §7)
CITY = "410300"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
INTEGER = re.compile(r"^-?\d+$")
DECIMAL = re.compile(r"^-?\d+(\.\d{1,2})?$")
_RUNS: dict[str, tuple[Path, dict]] = {}


def run_once(tmp_path_factory, name: str, **kwargs) -> tuple[Path, dict]:
    """generate(**kwargs) once per test session, whichever module asks first."""
    if name not in _RUNS:
        out = tmp_path_factory.mktemp(name)
        truth = generate(out, progress=False, **kwargs)
        _RUNS[name] = (out, truth)
    return _RUNS[name]


@dataclass
class ExportDir:
    county: str            # the folder it was delivered in
    folder: Path
    manifest: dict
    tables: dict[str, list[dict]] = field(default_factory=dict)   # entity -> rows (text values, None = empty)
    headers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def export_id(self) -> str:
        return self.manifest["export_id"]

    @property
    def generated_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.manifest["generated_at"])


def export_dirs(root: Path) -> list[tuple[str, Path]]:
    return sorted((c.name, d) for c in root.iterdir() if c.is_dir() for d in c.iterdir() if d.is_dir())


def text_of(v) -> str | None:
    """A cell read from XLSX or JSON Lines as the text a CSV would carry."""
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) and v.tzinfo is None else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        raise ValueError("booleans are not allowed")
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def read_table(path: Path, fmt: str, encoding: str | None) -> tuple[list[str], list[list[str | None]]]:
    if fmt == "csv":
        text = path.read_bytes().decode(encoding, errors="strict")   # utf-8-sig strips the BOM
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader)
        return header, [[v if v != "" else None for v in r] for r in reader]
    if fmt == "jsonl":
        objs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        header = list(objs[0]) if objs else []
        for o in objs:
            assert list(o) == header, f"{path}: keys differ between lines"
        return header, [[text_of(o[k]) for k in header] for o in objs]
    if fmt == "xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = list(wb.worksheets[0].iter_rows(values_only=True))
        finally:
            wb.close()
        header = [str(h) for h in rows[0]]
        return header, [[text_of(v) for v in r] + [None] * (len(header) - len(r)) for r in rows[1:]]
    raise ValueError(fmt)


def load_export(county: str, folder: Path, check_sha: bool = True) -> ExportDir:
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    ex = ExportDir(county, folder, m)
    for f in m["files"]:
        path = folder / f["path"]
        if check_sha:
            assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"], f"{path}: sha256"
        header, rows = read_table(path, f["format"], f.get("encoding"))
        ex.headers[f["entity"]] = header
        ex.tables[f["entity"]] = [dict(zip(header, r)) for r in rows]
    return ex


def problems_of(entity: str, header: list[str], rows: list[dict]) -> list[str]:
    """Every way the rows break entities.yml (empty list = the file is valid)."""
    ent = load_spec().entity(entity)
    out = []
    if header != ent.column_names:
        out.append(f"{entity}: header {header} != {ent.column_names}")
        return out
    keys = set()
    for n, row in enumerate(rows, 1):
        if row[ent.key] in keys:
            out.append(f"{entity} row {n}: duplicate key {row[ent.key]}")
        keys.add(row[ent.key])
        for c in ent.columns:
            v = row.get(c.name)
            if v is None:
                if c.required:
                    out.append(f"{entity} row {n}: {c.name} required")
                continue
            bad = None
            if c.type == "date":
                bad = not DATE.match(v) or _bad(dt.date.fromisoformat, v)
            elif c.type == "timestamp":
                bad = not TIMESTAMP.match(v) or _bad(dt.datetime.fromisoformat, v)
            elif c.type == "integer":
                bad = not INTEGER.match(v) or (c.min is not None and int(v) < c.min) or (c.max is not None and int(v) > c.max)
            elif c.type == "decimal":
                bad = not DECIMAL.match(v) or (c.min is not None and Decimal(v) < Decimal(str(c.min)))
            elif c.type == "code":
                bad = v not in ent.allowed_codes(c)
            elif c.type == "person":
                bad = not re.match(r"^P-[0-9A-F]{12}$", v)
            if c.max_length is not None and len(v) > c.max_length:
                bad = True
            if c.pattern and not re.search(c.pattern, v):
                bad = True
            if bad:
                out.append(f"{entity} row {n}: {c.name} = {v!r} breaks its {c.type} rule")
        if entity == "satisfaction_surveys" and all(row.get(k) and INTEGER.match(row[k]) for k in
                                                    ("respondents", "satisfied", "basically_satisfied", "dissatisfied")):
            if int(row["satisfied"]) + int(row["basically_satisfied"]) + int(row["dissatisfied"]) > int(row["respondents"]):
                out.append(f"{entity} row {n}: answers exceed respondents")
    return out


def _bad(parse, v) -> bool:
    try:
        parse(v)
        return False
    except ValueError:
        return True


def head(code: str) -> str:
    return CROSSWALK.get(code, code)


def replay(exports: list[ExportDir]) -> dict[str, dict[str, dict]]:
    """Final state: entity -> key -> {"row", "county" (last exporter), "first"}; the spec's rules, nothing else."""
    spec = load_spec()
    state: dict[str, dict[str, dict]] = {e: {} for e in ENTITY_ORDER}
    seen = set()
    for ex in sorted(exports, key=lambda e: (e.generated_at, e.export_id)):
        if ex.export_id in seen:
            continue  # a re-sent export changes nothing
        seen.add(ex.export_id)
        for entity in ENTITY_ORDER:
            rows = ex.tables.get(entity)
            if rows is None:
                continue
            key = spec.entity(entity).key
            st = state[entity]
            for r in rows:
                ts = dt.datetime.fromisoformat(r["updated_at"])
                cur = st.get(r[key])
                if cur is None:
                    st[r[key]] = {"row": r, "ts": ts, "county": ex.manifest["county_code"], "first": ex.manifest["county_code"]}
                elif ts > cur["ts"]:
                    cur.update(row=r, ts=ts, county=ex.manifest["county_code"])
            if ex.manifest["mode"] == "full":
                keep = {r[key] for r in rows}
                h = head(ex.manifest["county_code"])
                for k in [k for k, v in st.items() if k not in keep and head(v["county"]) == h and v["ts"] <= ex.generated_at]:
                    del st[k]
    return state


def headline(state: dict[str, dict[str, dict]], by: str = "current") -> dict[str, dict]:
    """The seed's term headline per county (current code, or first code with by="first") and "total"."""
    def group(v):
        return head(v["county"]) if by == "current" else v["first"]

    out: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    orgs: dict[str, set] = defaultdict(set)
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    simple = {"rounds": "rounds", "findings": "findings", "clues": "clues_transferred"}
    for entity, name in simple.items():
        for v in state[entity].values():
            out[group(v)][name] += 1
            out["total"][name] += 1
    for v in state["inspections"].values():
        orgs[group(v)].add(v["row"]["org_id"])
        orgs["total"].add(v["row"]["org_id"])
    names = {"sanction": "sanctions", "org_handling": "org_handling", "detention": "detentions",
             "judicial_transfer": "judicial_transfers"}
    for v in state["case_outcomes"].values():
        for g in (group(v), "total"):
            out[g][names[v["row"]["outcome_type"]]] += 1
            if v["row"]["amount_recovered"]:
                amounts[g] += Decimal(v["row"]["amount_recovered"])
    result = {}
    for g in out:
        result[g] = {k: out[g].get(k, 0) for k in ("rounds", "findings", "clues_transferred", "sanctions", "org_handling",
                                                  "detentions", "judicial_transfers")}
        result[g]["orgs_inspected"] = len(orgs[g])
        result[g]["amount_recovered"] = f"{amounts[g]:.2f}"
    return result


def decimal_ok(v: str) -> bool:
    try:
        Decimal(v)
        return True
    except InvalidOperation:
        return False
