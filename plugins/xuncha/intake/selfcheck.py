"""County self-check (自检): run one export through ingestion's own checks on the county's machine, with no warehouse.

`check_export(dir)` starts a throwaway embedded PostgreSQL in a temporary folder (Great Expectations validates in
SQL, so it needs one; nothing else is touched: WAREHOUSE_URL and XUNCHA_HOME are ignored), migrates it, and hands
the export to `pipeline.Ingestor` — the same manifest, checksum, parsing, staging and expectation code the nightly
DAG runs, not a copy — with `move=False`, so the folder is left as it is. Then the server and folder are removed.

References to earlier nights (a finding's inspection sent last week) can only be checked against what the platform
holds: `export_references(code)` writes that list (the ids of every entity the county's lineage has in core), and
`check_export(dir, references=file)` loads those ids into the throwaway warehouse first. Without the file, reference
failures are reported as "not checked offline" (无法离线核对), not as errors.

Exit codes of `xuncha check-export`: 0 ok, 1 warnings (or references to earlier nights that failed and could not
be checked offline), 2 critical problems. With no reference file and no such reference, the report's last line is a
note only: the exit code stays 0.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from xuncha.errors import Problem

REFERENCE_RULE = "row.reference"


@dataclass
class CheckReport:
    """What `xuncha check` found in one export: problems that would quarantine it (`critical`), that load with a
    warning (`warnings`), and reference rules (row.reference*) not checked for want of `references` (`not_checked`)."""
    export_dir: Path
    county_code: str | None
    export_id: str | None
    critical: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    not_checked: list[Problem] = field(default_factory=list)
    references: str | None = None   # the reference file used, or None

    @property
    def exit_code(self) -> int:
        """0 = fine, 1 = warnings or references not checked (may be sent), 2 = critical (would be quarantined)."""
        return 2 if self.critical else 1 if (self.warnings or self.not_checked) else 0

    def lines(self) -> list[str]:
        """The bilingual report, one line per problem (file, row, column, rule, value)."""
        head = {0: "OK 通过：可以发送", 1: "WARNINGS 有警告：可以发送，请核对", 2: "CRITICAL 严重问题：不能发送，平台会隔离"}
        out = [f"{head[self.exit_code]} — export {self.export_id or '?'} of county {self.county_code or '?'} ({self.export_dir})"]
        # (title, problems, what to do: each problem's own advice, or one line for all of them)
        for title, items, advice in (
                ("critical 严重", self.critical, None), ("warning 警告", self.warnings, None),
                ("not checked offline 无法离线核对 (no reference file; `xuncha export-references CODE` on the platform "
                 "makes one)", self.not_checked,
                 # the reference may well exist on the platform: not "找不到" (county clerk trial)
                 "这些引用指向本批导出之外的记录，离线无法核对，不代表记录不存在；用 --references 参考文件可核对")):
            if items:
                out.append(f"{title}: {len(items)}")
                if advice:
                    out.append(f"  → {advice}")
                for p in items:
                    out.append(f"  - {p.rule_zh}: {p}")
                    if p.message_zh and not advice:
                        out.append(f"    → {p.message_zh}")
        if self.critical or self.warnings or self.not_checked:
            out.append("row 行 = data row 数据行: 1 = the first row after the header 表头后第一行 (a spreadsheet's line 2 电子表格第 2 行)")
        if self.references:
            out.append(f"references to earlier nights: checked against {self.references}")
        elif not self.not_checked:   # informational: the exit code stays 0 (README, "County self-check")
            out.append("note 说明: references to earlier nights were not checked offline (no --references file); "
                       "for information only, the result above stands. 未提供引用文件，对往日记录的引用未离线核对；仅供参考，不影响上面的结论")
        return out


@contextlib.contextmanager
def _throwaway_home():
    """XUNCHA_HOME, XUNCHA_PGDATA and areas in a fresh temporary folder, WAREHOUSE_URL unset, for this block."""
    from xuncha.warehouse import embedded

    keys = ("XUNCHA_HOME", "XUNCHA_PGDATA", "WAREHOUSE_URL", "WAREHOUSE_OWNER_URL", "XUNCHA_LANDING", "XUNCHA_QUARANTINE", "XUNCHA_ARCHIVE",
            "XUNCHA_DATA_DOCS")
    saved = {k: os.environ.get(k) for k in keys}
    home = Path(tempfile.mkdtemp(prefix="xc-"))  # short: the server's Unix socket path must stay under ~100 bytes
    try:
        for k in keys:
            os.environ.pop(k, None)
        os.environ["XUNCHA_HOME"] = str(home)
        os.environ["XUNCHA_DATA_DOCS"] = "off"
        yield home
    finally:
        try:
            embedded.stop()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            shutil.rmtree(home, ignore_errors=True)


def check_export(export_dir: Path, references: Path | None = None, county_code: str | None = None) -> CheckReport:
    """Check one export folder as ingestion would, without a warehouse (see the module doc).

    Raises ValueError when the folder does not exist or its county cannot be told (pass `county_code`)."""
    from xuncha import registry
    from xuncha.extract import manifest as manifest_mod
    from xuncha.load import pipeline

    export_dir = Path(export_dir).resolve()
    if not export_dir.is_dir():
        raise ValueError(f"{export_dir}: not a folder")
    reg = registry.default()
    manifest, _ = manifest_mod.read(export_dir)
    raw = manifest_mod.peek(export_dir)   # a manifest failing the schema on another field still names its county
    code = county_code or (manifest.county_code if manifest else _readable(raw.get("county_code"), r"[0-9]{6}"))
    if code is None:
        raise ValueError(f"{export_dir}: cannot tell its county from its manifest (name it with --county)")
    county = reg.get(code)
    refs = json.loads(Path(references).read_text(encoding="utf-8")) if references else None
    if refs is not None and refs.get("county_code") not in reg.lineage(code):
        raise ValueError(f"{references}: a reference file of county {refs.get('county_code')}, not {code}")
    with _throwaway_home():
        from xuncha.warehouse import db
        from xuncha.warehouse import migrate

        owner = db.owner_url()
        migrate.migrate(owner)
        if refs is not None:
            _load_references(owner, refs, reg.lineage(code))   # DDL on a throwaway database: as its owner
        url = db.warehouse_url()
        result = pipeline.Ingestor(reg, url=url, move=False).ingest(export_dir, county)
    export_id = manifest.export_id if manifest else _readable(raw.get("export_id"), r"\S{1,200}") or result.export_id
    report = CheckReport(export_dir, code, export_id, references=str(references) if references else None)
    report.warnings = list(result.warnings)
    for p in result.problems:
        if refs is None and p.rule.startswith(REFERENCE_RULE):
            report.not_checked.append(p)
        else:
            report.critical.append(p)
    return report


def _readable(value, form: str) -> str | None:
    """`value` stripped when it is text of `form` (a regular expression) once its surrounding white space is gone:
    the county or export id of a manifest that fails the schema (`"410325-20261205-01\\n"`), else None."""
    import re

    return value.strip() if isinstance(value, str) and re.fullmatch(form, value.strip()) else None


def _load_references(url: str, refs: dict, lineage: tuple[str, ...]) -> None:
    """Put the platform's ids into the throwaway core as stub rows (only key and county), so reference
    expectations find them exactly as they would in the warehouse."""
    from xuncha.warehouse import db
    from xuncha.spec import load_spec

    spec = load_spec()
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT core.add_county(c) FROM unnest(%s::text[]) c", (list(lineage),))
        for entity, by_county in (refs.get("entities") or {}).items():
            e = spec.entity(entity)
            cur.execute("""SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' AND table_name = %s
                            AND is_nullable = 'NO' AND column_name NOT IN ('county_code', %s)""", (entity, e.key))
            for (col,) in cur.fetchall():   # a throwaway database: stub rows carry only key and county
                cur.execute(f'ALTER TABLE core.{entity} ALTER COLUMN "{col}" DROP NOT NULL')
            # nor can stubs be counted: core.finding_tally's triggers (migration 0170) are off here, no mart is read
            cur.execute(f"ALTER TABLE core.{entity} DISABLE TRIGGER USER")
            for code, ids in by_county.items():
                cur.execute(f"INSERT INTO core.{entity} (county_code, {e.key}) SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
                            (code, list(ids)))


def export_references(code: str, out: Path, url: str | None = None) -> dict:
    """Write the reference file of county `code`: the ids its lineage has in core, per entity (not withdrawn).
    Returns {entity: count}."""
    from xuncha import registry
    from xuncha.warehouse import db
    from xuncha.spec import ENTITY_ORDER, load_spec

    reg = registry.default()
    reg.get(code)
    spec = load_spec()
    entities: dict[str, dict[str, list[str]]] = {}
    with db.connect(url) as conn, conn.cursor() as cur:
        for name in ENTITY_ORDER:
            key = spec.entity(name).key
            cur.execute(f"""SELECT county_code, array_agg({key} ORDER BY {key}) FROM core.{name}
                             WHERE county_code = ANY(%s) AND withdrawn_at IS NULL GROUP BY 1""", (list(reg.lineage(code)),))
            rows = cur.fetchall()
            if rows:
                entities[name] = {c: ids for c, ids in rows}
    doc = {"county_code": code, "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "entities": entities}
    Path(out).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return {e: sum(len(v) for v in by.values()) for e, by in entities.items()}
