"""Faults a real county system makes, injected on chosen nights so the platform's handling can be tested.

Each fault instance lands on one (county, night) chosen deterministically from the nights being
written, and is recorded for truth.json: where it is, which rule the platform should report (the rule
ids of xuncha.errors) and what should happen. For every fault except duplicate_delivery and
late_delivery the county also sends a corrected re-export of the same night (seq 02), which is clean,
so after quarantining the bad export the warehouse ends up exactly where a clean run leaves it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from xuncha.spec import load_spec

from .plan import System, export_id, generated_at
from .writers import Table, encode, file_name, manifest, render, sha256

KINDS = ("duplicate_delivery", "late_delivery", "corrected_reexport", "invalid_rows", "wrong_encoding", "missing_file",
         "checksum_mismatch", "rowcount_mismatch", "schema_drift", "wrong_county_code", "person_name")
VARIANTS = {"invalid_rows": ("unknown_code", "survey_counts", "missing_required"),
            "schema_drift": ("renamed", "added", "missing"),
            "person_name": ("name", "id_number")}
RULES = {"wrong_encoding": "file.encoding", "missing_file": "file.missing", "checksum_mismatch": "file.sha256",
         "rowcount_mismatch": "file.rows", "schema_drift": "file.columns", "wrong_county_code": "manifest.county",
         "person_name": "person.clear", "invalid_rows": "row.invalid"}
BAD_CODES = {"category": "SL9", "status": "finished", "recipient": "procuratorate", "org_type": "company",
             "round_type": "routine", "outcome_type": "warning", "person_rank": "division", "disposal_method": "pending"}
RENAMES = {"summary": "problem_summary", "category": "problem_category", "transfer_date": "transfer_dt",
           "status": "rect_status", "team_name": "team", "org_name": "name", "survey_date": "date",
           "decision_date": "decided_on", "start_date": "begin_date", "onsite_start": "onsite_begin",
           "due_date": "deadline", "respondents": "participants", "found_date": "discovered_on"}
CHINESE = ("org_units", "inspections", "findings", "rectifications")
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = ("建国", "志强", "秀英", "丽娟", "伟", "敏", "军", "洪涛", "红梅", "晓东", "国庆", "桂兰")


@dataclass
class Export:
    """One export about to be written: a system's night, with its tables."""

    system: System
    night: dt.date
    seq: int
    generated_at: str
    mode: str
    tables: list[Table]

    @property
    def export_id(self) -> str:
        return export_id(self.system.code, self.night, self.seq)

    def render(self, county_code: str | None = None) -> Output:
        entries, blobs = render(self.tables, self.system.delivery)
        m = manifest(self.export_id, county_code or self.system.code, self.night, self.generated_at, self.mode, entries)
        return Output(self.export_id, m, blobs)


@dataclass
class Output:
    folder: str
    manifest: dict
    blobs: dict[str, bytes]
    late: bool = False


def expand(faults: str | Sequence[str]) -> list[tuple[str, str | None]]:
    """Fault instances for a list of kind names (or "all"; comma-separated names are accepted too)."""
    names = [faults] if isinstance(faults, str) else list(faults)
    kinds: list[str] = []
    for item in names:
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            if part == "all":
                kinds += KINDS
            elif part in KINDS:
                kinds.append(part)
            else:
                raise ValueError(f"unknown fault {part!r}; choose from {', '.join(KINDS)} or all")
    return [(k, v) for k in dict.fromkeys(kinds) for v in VARIANTS.get(k, (None,))]


@cache
def _refs(entity: str) -> list[int]:
    ent = load_spec().entity(entity)
    return [i for i, c in enumerate(ent.columns) if c.ref or c.name in ("org_id", "parent_org_id") and c.name != ent.key]


def _fits(kind: str, variant: str | None, system: System, tables: dict[str, list], following: dict | None) -> bool:
    fmt = system.delivery
    if kind == "late_delivery":
        if following is None:
            return False
        keys = {r[0] for rows in tables.values() for r in rows}
        return not any(r[i] in keys for e, rows in following.items() for r in rows for i in _refs(e))
    if kind == "corrected_reexport":  # needs a sanction to misrecord (outcome_type is column 4)
        return any(r[3] == "sanction" for r in tables.get("case_outcomes", []))
    if kind == "person_name":
        return bool(tables.get("case_outcomes"))
    if kind == "wrong_encoding":
        return fmt.format == "csv" and fmt.encoding == "utf-8" and any(tables.get(e) for e in CHINESE)
    if kind == "schema_drift":
        return fmt.format in ("csv", "xlsx")
    if kind == "invalid_rows" and variant == "survey_counts":
        return bool(tables.get("satisfaction_surveys"))
    return True


def choose(instances: list[tuple[str, str | None]], nights: dict, systems: list[System], window: list[dt.date],
           full_night, seed: int, profile: str) -> tuple[dict[tuple[dt.date, str], tuple[str, str | None]], list[dict]]:
    """({(night, county): fault instance}, [instances no night of the window can carry]).

    Only nights in the window with at least one file qualify (a short window may have no night with,
    say, a survey: that instance is reported as unplaced rather than failing the run)."""
    rng = random.Random(f"{seed}|{profile}|faults|{window[0]}|{window[-1]}")
    inwin = set(window)
    cands = []
    for night in window:
        for s in systems:
            tables = nights.get(night, {}).get(s.code)
            if s.active(night) and tables and not full_night(s, night):
                nxt = night + dt.timedelta(days=1)
                following = nights.get(nxt, {}).get(s.code, {}) if nxt in inwin and s.active(nxt) and not full_night(s, nxt) else None
                cands.append((night, s, tables, following))
    used: dict[tuple[dt.date, str], tuple[str, str | None]] = {}
    blocked: set[tuple[dt.date, str]] = set()   # neighbours of a fault night stay clean, so faults never interact
    unplaced: list[dict] = []
    for kind, variant in instances:
        ok = [(n, s) for n, s, t, f in cands if (n, s.code) not in used and (n, s.code) not in blocked
              and _fits(kind, variant, s, t, f)]
        if not ok:
            unplaced.append({"kind": kind, "variant": variant, "reason": "no night in the window can carry it"})
            continue
        night, s = rng.choice(ok)
        used[(night, s.code)] = (kind, variant)
        blocked |= {(night + dt.timedelta(days=1), s.code), (night - dt.timedelta(days=1), s.code)}
    return used, unplaced


def inject(kind: str, variant: str | None, ex: Export, rng: random.Random, codes: list[str]) -> tuple[list[Output], dict]:
    sys, night = ex.system, ex.night
    rec = {"kind": kind, "variant": variant, "county": sys.code, "business_date": night.isoformat(),
           "export_id": ex.export_id, "folder": f"{sys.code}/{ex.export_id}", "file": None, "row": None, "column": None,
           "value": None, "rule": RULES.get(kind), "expect": "quarantine", "corrected_export_id": None,
           "corrected_folder": None, "detail": ""}
    fixed = dataclasses.replace(ex, seq=2, generated_at=generated_at(sys, night, hour=7))
    if kind == "duplicate_delivery":
        out = ex.render()
        again = Output(f"{ex.export_id}.resend", out.manifest, out.blobs)
        rec.update(expect="no-op", detail=f"delivered twice: {again.folder} repeats {ex.export_id} byte for byte",
                   duplicate_folder=f"{sys.code}/{again.folder}")
        return [out, again], rec
    if kind == "late_delivery":
        late = dataclasses.replace(ex, generated_at=generated_at(sys, night, hour=10, day_offset=2))
        out = late.render()
        out.late = True
        rec.update(expect="load", next_export_id=export_id(sys.code, night + dt.timedelta(days=1), 1),
                   generated_at=late.generated_at,
                   detail="generated after the next night's export and delivered after it; loads normally")
        return [out], rec
    if kind == "wrong_county_code":
        others = [c for c in codes if c not in sys.lineage]
        wrong = others[(codes.index(sys.code)) % len(others)]
        bad = ex.render(county_code=wrong)
        rec.update(value=wrong, column="county_code", file="manifest.json",
                   detail=f"manifest says county_code {wrong}, the export sits in {sys.code}'s folder")
        return [bad, fixed.render()], _corrected(rec, fixed)
    if kind == "corrected_reexport":
        t = _table(ex, "case_outcomes")
        i = next(i for i, r in enumerate(t.rows) if r[3] == "sanction")
        bad_rows = [list(r) for r in t.rows]
        bad_rows[i][3] = "org_handling"
        good_rows = [list(r) for r in t.rows]
        good_rows[i][-1] = f"{night + dt.timedelta(days=1)}T06:{(5 + 3 * sys.index) % 60:02d}:00+08:00"
        bad = dataclasses.replace(ex, tables=_swap(ex.tables, Table(t.entity, t.header, t.types, bad_rows))).render()
        good = dataclasses.replace(fixed, tables=_swap(ex.tables, Table(t.entity, t.header, t.types, good_rows)))
        rec.update(expect="load", rule=None, file=file_name(t.entity, sys.delivery), row=i + 1, column="outcome_type",
                   value="org_handling", key=t.rows[i][0], corrected_updated_at=good_rows[i][-1],
                   detail="01 records a sanction as org_handling (valid but wrong); 02 re-sends the night with the row "
                          "corrected and a newer updated_at, so the correction wins")
        return [bad, good.render()], _corrected(rec, good)
    if kind in ("invalid_rows", "person_name", "schema_drift"):
        t, detail = _corrupt(kind, variant, ex, rng, rec)
        bad = dataclasses.replace(ex, tables=_swap(ex.tables, t)).render()
        rec.update(file=file_name(t.entity, sys.delivery), detail=detail)
        return [bad, fixed.render()], _corrected(rec, fixed)
    # file-level faults on one file of the export
    out = ex.render()
    t = max(ex.tables, key=lambda t: (len(t.rows), t.entity))
    if kind == "wrong_encoding":
        t = next(x for x in ex.tables if x.entity in CHINESE and x.rows)
    name = file_name(t.entity, sys.delivery)
    entry = next(e for e in out.manifest["files"] if e["path"] == name)
    rec["file"] = name
    if kind == "wrong_encoding":
        data = encode(t, sys.delivery, encoding="gb18030")
        try:
            data.decode("utf-8")
            raise AssertionError("a GB18030 file that decodes as UTF-8 would not show the fault")
        except UnicodeDecodeError:
            pass
        out.blobs[name] = data
        entry["sha256"] = sha256(data)
        rec["detail"] = "the manifest declares utf-8 but the file is GB18030 (checksum matches the bytes)"
    elif kind == "missing_file":
        del out.blobs[name]
        rec["detail"] = "listed in the manifest, absent from the directory"
    elif kind == "checksum_mismatch":
        data = out.blobs[name]
        if sys.delivery.format == "csv":
            out.blobs[name] = data.replace(b"\r\n", b"\n")
            rec["detail"] = "line endings rewritten after the manifest was made (CRLF -> LF): the rows parse, the SHA-256 differs"
        elif sys.delivery.format == "jsonl":
            out.blobs[name] = data + b"\n"
            rec["detail"] = "a blank line appended after the manifest was made"
        else:
            entry["sha256"] = sha256(data + b"\0")
            rec["detail"] = "the manifest's SHA-256 is not the file's"
    elif kind == "rowcount_mismatch":
        entry["rows"] += 1
        rec.update(value=str(entry["rows"]), detail=f"manifest declares {entry['rows']} rows (header counted), file has {len(t.rows)}")
    else:
        raise ValueError(kind)
    return [out, fixed.render()], _corrected(rec, fixed)


def _corrected(rec: dict, fixed: Export) -> dict:
    rec["corrected_export_id"] = fixed.export_id
    rec["corrected_folder"] = f"{fixed.system.code}/{fixed.export_id}"
    return rec


def _table(ex: Export, entity: str) -> Table:
    return next(t for t in ex.tables if t.entity == entity)


def _swap(tables: list[Table], new: Table) -> list[Table]:
    return [new if t.entity == new.entity else t for t in tables]


def _corrupt(kind: str, variant: str, ex: Export, rng: random.Random, rec: dict) -> tuple[Table, str]:
    spec = load_spec()
    if kind == "person_name":
        t = _table(ex, "case_outcomes")
        col = t.header.index("person_ref")
        if variant == "name":
            value = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        else:
            value = _id_number(rng, ex.system.code)
        detail = f"person_ref carries a real {'name' if variant == 'name' else 'national ID number'} instead of a pseudonymous reference"
    elif kind == "invalid_rows" and variant == "survey_counts":
        t = _table(ex, "satisfaction_surveys")
        col = t.header.index("satisfied")
        value = None  # set below from the row
        detail = "satisfied exceeds respondents (satisfied + basically_satisfied + dissatisfied > respondents)"
    elif kind == "invalid_rows" and variant == "unknown_code":
        coded = [x for x in ex.tables if any(ty == "code" for ty in x.types)]
        t = next((x for x in coded if x.entity == "findings"), None) or rng.choice(coded) if coded else None
        if t is None:  # a night without coded entities: fall back to a missing value
            return _corrupt("invalid_rows", "missing_required", ex, rng, rec)
        codes = [h for h, ty in zip(t.header, t.types) if ty == "code"]
        col = t.header.index(rng.choice(codes))
        value = BAD_CODES[t.header[col]]
        detail = f"{t.header[col]} {value!r} is not in its code list"
    elif kind == "invalid_rows":
        t = rng.choice(ex.tables)
        ent = spec.entity(t.entity)
        col = t.header.index(rng.choice([c.name for c in ent.columns if c.required and c.name not in (ent.key, "updated_at")]))
        value = None
        detail = f"required {t.header[col]} is empty"
    else:  # schema_drift
        t = max(ex.tables, key=lambda x: (len(x.rows), x.entity))
        ent = spec.entity(t.entity)
        name = rng.choice([c.name for c in ent.columns if c.required and c.name not in (ent.key, "updated_at")])
        col = t.header.index(name)
        header, types, rows = list(t.header), list(t.types), [list(r) for r in t.rows]
        if variant == "renamed":
            header[col] = RENAMES.get(name, f"{name}_v2")
            detail = f"column {name} renamed to {header[col]} (a required column missing, an unknown one present)"
            rec.update(column=name, value=header[col])
        elif variant == "added":
            header.append("remark")
            types.append("string")
            for r in rows:
                r.append(rng.choice((None, "备注：已核实", "待补充材料")))
            detail = "an extra column remark (备注) that the spec does not define"
            rec.update(column="remark")
        else:
            del header[col], types[col]
            for r in rows:
                del r[col]
            detail = f"required column {name} left out"
            rec.update(column=name)
        return Table(t.entity, header, types, rows), detail
    i = rng.randrange(len(t.rows))
    rows = [list(r) for r in t.rows]
    if kind == "invalid_rows" and variant == "survey_counts":
        value = rows[i][t.header.index("respondents")] + 3
    rows[i][col] = value
    rec.update(row=i + 1, column=t.header[col], value=None if value is None else str(value), key=rows[i][0])
    return Table(t.entity, t.header, t.types, rows), detail


def _id_number(rng: random.Random, region: str) -> str:
    born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(30 * 365))
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]
