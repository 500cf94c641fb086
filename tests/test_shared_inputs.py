"""Every real-fault input under ../shared/inputs and ../shared/inputs-new ends as its README says (issues 11, 27).

Each folder holds exports laid out as a landing area, a README in plain words and an `expect.json` (the contract
is ../shared/inputs/README.md): its steps run `xuncha ingest <dir> --county C --move` (the CLI, in this process)
on an empty warehouse; each step's exit code is 2 when something was quarantined and 0 otherwise; the export's
status in audit.batches and, when quarantined, a problem of its `_report.json` with that rule, file, column and
row; then the SQL checks, and the `lacks` checks on the files under XUNCHA_HOME.

Skipped, with the reason, where ../shared/inputs or ../shared/inputs-new (beside the project root) is absent, e.g. on a fresh clone elsewhere.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import query

from xuncha.settings import PROJECT_ROOT

SHARED = PROJECT_ROOT.parent / "shared"
# ../shared/inputs (issue 11) and ../shared/inputs-new (issue 27: spreadsheets, converters, confusable names)
SETS = ("inputs", "inputs-new")


def _folders(kind: str) -> list[str]:
    root = SHARED / kind
    return sorted(p.name for p in root.iterdir() if (p / "expect.json").is_file()) if root.is_dir() else []


CASES = [pytest.param(kind, name, id=f"{kind}/{name}") for kind in SETS for name in _folders(kind)]
CASES += [pytest.param(kind, None, id=f"{kind}/absent", marks=pytest.mark.skip(
    reason=f"{SHARED / kind} is absent: the shared real-fault inputs live beside the project (../shared/{kind}); "
           "nothing to check here")) for kind in SETS if not _folders(kind)]

pytestmark = [pytest.mark.inputs]


def _restore_links(root: Path) -> list[Path]:
    """Make symbolic links again of the files a copy flattened, in the work copy `root` of one input.

    An input may hold a symbolic link (landing-symlink-outside-export: `findings.csv` -> `../../outside-the-export.txt`).
    A copy without links (git with core.symlinks=false, an archive, cp without -P) leaves a small regular file whose
    whole content is the link's target, and the input no longer shows its fault. Such a file — its content one
    relative path naming a regular file of the input outside the file's own folder — is turned back into that link.
    No export file is like that: CSV, XLSX and JSON Lines have a header or an object. Returns the links made."""
    made = []
    for p in sorted(root.rglob("*")):
        if p.is_symlink() or not p.is_file() or p.stat().st_size > 255:
            continue
        target = p.read_bytes().decode("utf-8", "replace").strip()
        if not target.startswith("../") or "\n" in target:
            continue
        dest = (p.parent / target).resolve()
        if dest.is_file() and dest.is_relative_to(root.resolve()) and not dest.is_relative_to(p.parent.resolve()):
            p.chmod(0o644)
            p.unlink()
            p.symlink_to(target)
            made.append(p)
    return made


def _reports(home: Path, export_id: str) -> list[dict]:
    out = []
    for p in (home / "quarantine").rglob("_report.json"):
        data = json.loads(p.read_text(encoding="utf-8"))
        if data.get("export_id") == export_id:
            out.append(data)
    return out


def _check_export(home: Path, url: str, county: str, export_id: str, want: dict, where: str) -> None:
    rows = query(url, "SELECT status FROM audit.batches WHERE county_code = %s AND export_id = %s ORDER BY batch_id DESC",
                 (county, export_id))
    assert rows, f"{where}: no batch for {export_id}"
    status = want.get("status")
    allowed = status if isinstance(status, list) else [status]
    assert rows[0][0] in allowed, f"{where}: {export_id} is {rows[0][0]}, expected {status}"
    if rows[0][0] != "quarantined" or not any(k in want for k in ("rule", "file", "column", "row")):
        return
    rules = want.get("rule")
    rules = rules if isinstance(rules, list) else [rules] if rules else [None]
    problems = [p for r in _reports(home, export_id) for p in r["problems"]]
    assert problems, f"{where}: {export_id} quarantined without a _report.json"

    def fits(p: dict) -> bool:
        return (any(r is None or r in p["rule"] for r in rules)
                and all(p.get(k) == want[k] for k in ("file", "column", "row") if k in want))

    assert any(fits(p) for p in problems), (
        f"{where}: no problem of {export_id} has rule {rules} and "
        f"{ {k: want[k] for k in ('file', 'column', 'row') if k in want} }; problems: "
        + json.dumps(problems, ensure_ascii=False)[:3000])


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_shared_input_ends_as_its_readme_says(kind, name, clean, settings, tmp_path):
    from typer.testing import CliRunner

    from xuncha.cli import app

    folder = SHARED / kind / name
    expect = json.loads((folder / "expect.json").read_text(encoding="utf-8"))
    assert expect.get("base") is None, "only inputs on an empty warehouse are defined"
    work = tmp_path / name
    shutil.copytree(folder, work, symlinks=True)   # --move takes the exports away; links stay links
    for d in [work, *work.rglob("*")]:
        if d.is_dir() and not d.is_symlink():
            d.chmod(0o755)   # the shared copy is read-only; --move takes the files away
    _restore_links(work)
    runner = CliRunner()
    for n, step in enumerate(expect["steps"], 1):
        where = f"{name} step {n} ({step['ingest']})"
        res = runner.invoke(app, ["ingest", str(work / step["ingest"]), "--county", step["county"], "--move"])
        statuses = [e.get("status") for e in step.get("exports", {step.get("ingest"): step}).values()]
        quarantined = any(s == "quarantined" or (isinstance(s, list) and "quarantined" in s and len(s) == 1)
                          for s in statuses)
        assert res.exit_code in (0, 2), f"{where}: exit {res.exit_code}\n{res.output}\n{res.exception!r}"
        if all(s != "quarantined" and not isinstance(s, list) for s in statuses):
            assert res.exit_code == 0, f"{where}: exit {res.exit_code}, nothing should be quarantined\n{res.output}"
        if quarantined:
            assert res.exit_code == 2, f"{where}: exit {res.exit_code}, a quarantine exits 2\n{res.output}"
        if "exports" in step:
            for export_id, want in step["exports"].items():
                _check_export(settings.home, clean, step["county"], export_id, want, where)
        else:
            manifest = json.loads((folder / step["ingest"] / "manifest.json").read_text(encoding="utf-8-sig"))
            _check_export(settings.home, clean, step["county"], manifest["export_id"], step, where)
    for check in expect.get("sql", []):
        got = query(clean, check["query"])[0][0]
        assert got == check["equals"], f"{name}: {check['query']} gave {got!r}, expected {check['equals']!r}: {check['why']}"
    for lack in expect.get("lacks", []):
        repeat = lack.get("repeat", 1)
        for p in settings.home.glob(lack["glob"]):
            if p.is_file():
                text = p.read_text(encoding="utf-8", errors="replace")
                assert lack["text"] * repeat not in text, f"{name}: {p} contains {lack['text'][:60]!r}: {lack['why']}"
