"""County self-check: `xuncha check-export` runs ingestion's own checks on a local export with no warehouse running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from exports import slice_rows, write_export

from xuncha import registry
from xuncha.load import pipeline
from xuncha.intake import selfcheck

XUNCHA = str(Path(sys.executable).with_name("xuncha"))


def test_check_export_passes_a_good_export_and_names_row_and_rule_in_a_bad_one_with_no_warehouse(tmp_path):
    good = write_export(tmp_path / "out", "410327", "410327-20190316-01", "2019-03-16", slice_rows("410327"))
    rows = slice_rows("410327")
    rows["findings"][1]["category"] = "XX"
    bad = write_export(tmp_path / "out", "410327", "410327-20190316-02", "2019-03-16", rows)
    sent = sorted((p.name, p.read_bytes()) for p in bad.iterdir())
    # A county engineer's machine: no warehouse (WAREHOUSE_URL points at nothing), no platform state.
    env = {**os.environ, "WAREHOUSE_URL": "postgresql+psycopg2://x:y@127.0.0.1:9/none", "XUNCHA_HOME": str(tmp_path / "home")}
    ok = subprocess.run([XUNCHA, "check-export", str(good)], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK 通过" in ok.stdout and "410327-20190316-01" in ok.stdout
    # Only the report (county trial: GX's "Created temporary directory…", "GX context built…" and the pipeline's
    # "loaded" were mixed in); the reference note is information only and leaves the exit code at 0.
    assert ok.stderr == "" and not any(w in ok.stdout for w in ("GX context", "[info", "loaded", "temporary")), ok
    assert ok.stdout.splitlines()[-1].startswith("note 说明: references to earlier nights were not checked offline")
    ko = subprocess.run([XUNCHA, "check-export", str(bad)], env=env, capture_output=True, text=True)
    assert ko.returncode == 2, ko.stdout + ko.stderr
    line = next(x for x in ko.stdout.splitlines() if "findings.csv" in x)
    assert "row 2" in line and "column category" in line and "'XX'" in line and "数据行未通过校验" in line, ko.stdout
    assert "CRITICAL 严重问题" in ko.stdout
    assert sorted((p.name, p.read_bytes()) for p in bad.iterdir()) == sent, "the export is left as it was"
    assert not (tmp_path / "home").exists(), "nothing of the platform's state is made"


def test_references_to_earlier_nights_are_checked_against_the_platforms_reference_file(clean, tmp_path):
    first = write_export(tmp_path / "out", "410327", "410327-20190315-01", "2019-03-15", slice_rows("410327"))
    reg = registry.default()
    assert pipeline.Ingestor(reg, url=clean, move=False).ingest(first, reg.get("410327")).status == "loaded"
    later = slice_rows("410327", updated="2019-03-16T20:00:00+08:00")
    finding = dict(later["findings"][0], finding_id="410327-F0900")   # refers to an inspection sent the night before
    night = write_export(tmp_path / "out", "410327", "410327-20190316-01", "2019-03-16", {"findings": [finding]})

    offline = selfcheck.check_export(night)
    assert offline.exit_code == 1 and not offline.critical and offline.not_checked
    assert any("not checked offline" in line for line in offline.lines())
    assert not any("找不到" in line for line in offline.lines()), "offline, a reference is not said to be missing"
    assert any("row 行 = data row 数据行" in line for line in offline.lines())

    refs = tmp_path / "references-410327.json"
    counts = selfcheck.export_references("410327", refs, url=clean)
    assert counts["inspections"] == 2
    checked = selfcheck.check_export(night, references=refs)
    assert checked.exit_code == 0, checked.lines()
    finding["inspection_id"] = "410327-I99"
    dangling = write_export(tmp_path / "out", "410327", "410327-20190316-02", "2019-03-16", {"findings": [finding]})
    wrong = selfcheck.check_export(dangling, references=refs)
    assert wrong.exit_code == 2 and wrong.critical[0].rule.startswith("row.reference"), wrong.lines()


def test_a_manifest_failing_the_schema_on_its_export_id_still_names_county_and_export_in_plain_words(tmp_path):
    """County trial: an export_id ending in a line break gave "cannot tell its county from its manifest" (exit 1),
    and with --county a raw regular expression. The county comes from the manifest; the export is named by its
    export_id (not the folder); the problem says what is wrong and what to do, in English and Chinese."""
    import json

    d = write_export(tmp_path / "out", "410327", "410327-20190316-01", "2019-03-16", slice_rows("410327"))
    folder = d.rename(tmp_path / "out" / "my-folder")
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    (folder / "manifest.json").write_text(json.dumps(m | {"export_id": m["export_id"] + "\n"}), encoding="utf-8")
    res = subprocess.run([XUNCHA, "check-export", str(folder)], capture_output=True, text=True)
    assert res.returncode == 2, res.stdout + res.stderr
    head, *rest = res.stdout.splitlines()
    assert head.startswith("CRITICAL") and "export 410327-20190316-01 of county 410327" in head, head
    [line] = [x for x in rest if "manifest.schema" in x]
    assert "export_id ends in a line break: remove it" in line and "[A-Za-z" not in line, line
    assert any("末尾带有换行符" in x for x in rest), res.stdout
    assert res.stderr == "", res.stderr
