"""The synthetic county systems: what `generate()` writes follows the export spec, reproduces the seed's
figures when read back from the files alone, and injects each fault where truth.json says it did.

The seed profile (the whole 2016-2021 term, ~31,000 exports) is generated once per session; the fault
and determinism checks use the tiny profile.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import jsonschema
import pytest

from conftest_generator import (CITY, CROSSWALK, ExportDir, export_dirs, headline, load_export, problems_of, read_table,
                                replay, run_once)
from xuncha_sim.generator import FAULT_KINDS, generate
from xuncha.spec import load_spec, manifest_schema

_LOADED: dict[str, list[ExportDir]] = {}


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory):
    return run_once(tmp_path_factory, "seed", profile="seed", seed=0)


@pytest.fixture(scope="session")
def seed_exports(seed_run) -> list[ExportDir]:
    """Every export of the seed run, read back from disk (checksums verified while reading)."""
    root, _ = seed_run
    if "seed" not in _LOADED:
        _LOADED["seed"] = [load_export(c, d) for c, d in export_dirs(root)]
    return _LOADED["seed"]


@pytest.fixture(scope="session")
def seed_state(seed_exports):
    return replay(seed_exports)


@pytest.fixture(scope="session")
def faults_run(tmp_path_factory):
    return run_once(tmp_path_factory, "tiny-faults", profile="tiny", seed=0, faults=["all"])


# --- the seed run follows the spec --------------------------------------------------------------------

def test_every_manifest_validates_against_the_manifest_schema(seed_exports):
    validator = jsonschema.Draft202012Validator(manifest_schema(), format_checker=jsonschema.FormatChecker())
    bad = [(ex.folder.name, e.message) for ex in seed_exports for e in validator.iter_errors(ex.manifest)]
    assert bad == []


def test_every_file_matches_its_manifest_checksum_and_row_count(seed_exports):
    # checksums are verified by load_export; here: row counts, and no file the manifest does not list
    for ex in seed_exports:
        listed = {f["path"] for f in ex.manifest["files"]}
        assert {p.name for p in ex.folder.iterdir()} == listed | {"manifest.json"}, ex.folder
        for f in ex.manifest["files"]:
            assert len(ex.tables[f["entity"]]) == f["rows"], (ex.folder, f["path"])


def test_every_file_parses_in_its_declared_format_and_follows_entities_yml(seed_exports):
    problems = [p for ex in seed_exports for e, rows in ex.tables.items() for p in problems_of(e, ex.headers[e], rows)]
    assert problems == []
    formats = Counter((f["format"], f.get("encoding")) for ex in seed_exports for f in ex.manifest["files"])
    assert set(formats) == {("csv", "utf-8"), ("csv", "utf-8-sig"), ("csv", "gb18030"), ("xlsx", None), ("jsonl", None)}


def test_one_export_per_unit_per_night_and_quiet_nights_send_a_heartbeat(seed_run, seed_exports):
    _, truth = seed_run
    per_county = Counter(ex.county for ex in seed_exports)
    for unit in truth["units"]:
        nights = (dt.date.fromisoformat(unit["active_to"]) - dt.date.fromisoformat(unit["active_from"])).days + 1
        assert per_county[unit["code"]] == nights, unit["code"]
    assert len(per_county) == 19
    assert 30_000 <= len(seed_exports) <= 31_100
    heartbeats = [ex for ex in seed_exports if not ex.manifest["files"]]
    assert heartbeats and all(ex.manifest["mode"] == "delta" for ex in heartbeats)
    for ex in seed_exports:
        m = ex.manifest
        assert m["county_code"] == ex.county and ex.folder.name == m["export_id"]
        assert m["export_id"] == f"{ex.county}-{m['business_date'].replace('-', '')}-01"
        assert ex.generated_at > dt.datetime.fromisoformat(m["business_date"] + "T23:59:59+08:00")


def test_rows_are_versions_not_later_than_their_export(seed_exports):
    last: dict[tuple[str, str], dt.datetime] = {}
    spec = load_spec()
    for ex in sorted(seed_exports, key=lambda e: e.generated_at):
        for entity, rows in ex.tables.items():
            key = spec.entity(entity).key
            for r in rows:
                ts = dt.datetime.fromisoformat(r["updated_at"])
                assert ts <= ex.generated_at
                prev = last.get((entity, r[key]))
                assert prev is None or ts > prev or ex.manifest["mode"] == "full", (entity, r[key])
                last[(entity, r[key])] = ts


def test_source_ids_are_prefixed_by_the_system_that_created_them(seed_exports):
    spec = load_spec()
    lineage = {c: {c} for c in {ex.county for ex in seed_exports}}
    for old, new in CROSSWALK.items():
        lineage[new].add(old)
    for ex in seed_exports:
        for entity, rows in ex.tables.items():
            key = spec.entity(entity).key
            for r in rows:
                assert r[key].split("-")[0] in lineage[ex.county], (ex.export_id, r[key])


# --- the seed's figures, recomputed from the files alone ------------------------------------------

def test_headline_recomputed_from_the_files_reproduces_the_seed(seed_state):
    h = headline(seed_state)
    total, city = h["total"], h[CITY]
    assert (city["rounds"], city["orgs_inspected"]) == (11, 80)
    assert total["clues_transferred"] == 3_914
    assert total["sanctions"] == 1_389
    assert total["judicial_transfers"] == 70
    assert total["amount_recovered"] == "267000000.00"
    assert 25_000 <= total["findings"] <= 25_999
    assert (city["sanctions"], city["org_handling"], city["judicial_transfers"]) == (224, 335, 22)
    counties = [c for c in h if c not in ("total", CITY)]
    assert len(counties) == 15  # 16 units of 2020, after the 2021 changes
    assert sum(h[c]["rounds"] for c in counties) / len(counties) >= 12
    assert sum(h[c]["rounds"] for c in counties) / 16 >= 12


def test_headline_recomputed_from_the_files_equals_truth_json(seed_run, seed_state):
    _, truth = seed_run
    assert headline(seed_state) == truth["headline"]
    assert headline(seed_state, by="first") == truth["headline_by_source_code"]
    assert {e: len(v) for e, v in seed_state.items()} == truth["row_counts"]
    assert truth["faults"] == [] and truth["faults_requested"] == [] and truth["faults_unplaced"] == []


def test_satisfaction_is_above_90_percent(seed_state):
    rows = [v["row"] for v in seed_state["satisfaction_surveys"].values()]
    assert len(rows) > 4_000
    assert sum(int(r["satisfied"]) for r in rows) / sum(int(r["respondents"]) for r in rows) > 0.90


def test_every_village_and_community_was_inspected_by_the_end_of_2020(seed_state):
    round_type = {k: v["row"]["round_type"] for k, v in seed_state["rounds"].items()}
    covered = {v["row"]["org_id"] for v in seed_state["inspections"].values()
               if round_type[v["row"]["round_id"]] != "revisit" and v["row"]["onsite_start"] <= "2020-12-31"}
    villages = [k for k, v in seed_state["org_units"].items()
                if v["row"]["org_type"] in ("village", "community") and v["row"]["in_scope_from"] <= "2020-12-31"]
    assert len(villages) > 3_000
    assert [k for k in villages if k not in covered] == []
    # some of them only through the city's escalated/linked rounds, which name the owning county
    by_city = [v["row"] for v in seed_state["inspections"].values() if v["row"]["org_county_code"]]
    assert len({r["org_id"] for r in by_city}) == 8
    assert all(v["county"] == CITY for v in seed_state["inspections"].values() if v["row"]["org_county_code"])


def test_follow_ups_arrive_as_updates_of_the_same_row(seed_exports):
    sent = defaultdict(list)
    for ex in sorted(seed_exports, key=lambda e: e.generated_at):
        for r in ex.tables.get("clues", []):
            sent[r["clue_id"]].append(r)
        for r in ex.tables.get("rectifications", []):
            sent[r["task_id"]].append(r)
    clue_paths = [v for k, v in sent.items() if "-C" in k and len(v) >= 2]
    assert clue_paths and all(v[0]["disposal_method"] is None for v in clue_paths)
    assert any(v[-1]["closed_date"] for v in clue_paths)
    statuses = Counter(tuple(r["status"] for r in v) for k, v in sent.items() if "-T" in k)
    assert statuses[("not_started", "in_progress", "done")] > 1_000
    assert statuses[("on_the_spot",)] > 1_000
    assert any(s[-1] == "extended" or "extended" in s for s in statuses)
    late = [v[-1] for k, v in sent.items() if "-T" in k and v[-1]["completed_date"] and v[-1]["completed_date"] > v[-1]["due_date"]]
    assert late


def test_the_2021_code_changes_appear_in_the_exports(seed_run, seed_exports):
    _, truth = seed_run
    assert {(c["old_code"], c["new_code"], c["effective"]) for c in truth["crosswalk"]} == {
        ("410381", "410307", "2021-03-01"), ("410322", "410308", "2021-03-01"), ("410306", "410308", "2021-03-01")}
    nights = defaultdict(list)
    for ex in seed_exports:
        nights[ex.county].append(ex.manifest["business_date"])
    for old in ("410381", "410322", "410306"):
        assert max(nights[old]) == "2021-02-28"
    for new in ("410307", "410308"):
        assert min(nights[new]) == "2021-03-01" and max(nights[new]) == "2021-09-30"
    carried = defaultdict(set)
    for ex in seed_exports:
        if ex.county in ("410307", "410308"):
            for rows in ex.tables.values():
                for r in rows:
                    carried[ex.county].add(next(iter(r.values())).split("-")[0])
    assert carried["410307"] >= {"410381", "410307"}
    assert carried["410308"] >= {"410322", "410306", "410308"}
    renamed = [r for ex in seed_exports if ex.county == "410307" for r in ex.tables.get("org_units", [])]
    assert renamed and all("偃师市" not in r["org_name"] for r in renamed)


def test_a_full_snapshot_withdraws_the_row_deleted_at_the_source(seed_exports, seed_state):
    full = [ex for ex in seed_exports if ex.manifest["mode"] == "full"]
    assert full and {ex.county for ex in full} == {"410325"}
    assert {ex.manifest["business_date"][5:] for ex in full} == {"01-01", "04-01", "07-01", "10-01"}
    assert all("org_units" in ex.tables for ex in full)
    ever = {r["org_id"] for ex in seed_exports if ex.county == "410325" for r in ex.tables.get("org_units", [])}
    final = {k for k, v in seed_state["org_units"].items() if v["county"] == "410325"}
    withdrawn = ever - final
    assert len(withdrawn) == 1
    assert not any(v["row"]["org_id"] in withdrawn for v in seed_state["inspections"].values())


def test_delivery_mix_is_fixed_per_unit(seed_run, seed_exports):
    _, truth = seed_run
    seen = defaultdict(set)
    for ex in seed_exports:
        for f in ex.manifest["files"]:
            seen[ex.county].add((f["format"], f.get("encoding")))
    assert all(len(v) == 1 for v in seen.values())
    mix = Counter(next(iter(v)) for c, v in seen.items() if c not in ("410307", "410308"))
    assert mix[("csv", "gb18030")] == 2 and mix[("csv", "utf-8-sig")] == 1
    assert mix[("xlsx", None)] == 2 and mix[("jsonl", None)] == 1
    assert mix[("csv", "utf-8")] == 17 - 6
    for code, (fmt, enc) in ((c, next(iter(v))) for c, v in seen.items()):
        assert (truth["delivery"][code]["format"], truth["delivery"][code]["encoding"]) == (fmt, enc)


def test_a_gb18030_file_decodes_only_as_gb18030(seed_exports):
    ex = next(e for e in seed_exports if any(f.get("encoding") == "gb18030" and f["entity"] == "findings"
                                             for f in e.manifest["files"]))
    data = (ex.folder / "findings.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("gb18030")
    assert re.search(r"[\u4e00-\u9fff]", text)
    assert text.encode("gb18030") == data


def test_xlsx_dates_come_as_text_or_as_excel_date_cells(seed_exports):
    from openpyxl import load_workbook

    kinds = {}
    for county in ("410304", "410371"):
        ex = next(e for e in seed_exports if e.county == county and "inspections" in e.tables)
        wb = load_workbook(ex.folder / "inspections.xlsx", read_only=True)
        row = list(wb.worksheets[0].iter_rows(min_row=2, max_row=2, values_only=True))[0]
        wb.close()
        kinds[county] = type(row[5])
    assert kinds == {"410304": str, "410371": dt.datetime}


def test_csv_fields_with_quotes_and_line_breaks_are_quoted(seed_exports):
    multi = [r for ex in seed_exports if ex.county == "410302" for r in ex.tables.get("findings", []) if "\n" in r["summary"]]
    quoted = [r for ex in seed_exports for r in ex.tables.get("findings", []) if '"' in r["summary"]]
    assert multi and quoted


def test_person_refs_are_pseudonymous(seed_exports):
    refs = [r["person_ref"] for ex in seed_exports for r in ex.tables.get("case_outcomes", [])]
    assert refs and all(re.fullmatch(r"P-[0-9A-F]{12}", r) for r in refs)
    assert len(set(refs)) < len(refs)  # the same person can have several decisions


# --- determinism and windows ------------------------------------------------------------------------

def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_same_seed_gives_byte_identical_output(tmp_path):
    a = generate(tmp_path / "a", profile="tiny", seed=7, faults="all", progress=False)
    b = generate(tmp_path / "b", profile="tiny", seed=7, faults="all", progress=False)
    assert a == b
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    c = generate(tmp_path / "c", profile="tiny", seed=8, progress=False)
    assert c["headline"] != a["headline"] or _tree(tmp_path / "c") != _tree(tmp_path / "a")


def test_a_window_of_nights_is_exactly_the_subset_of_the_full_run(tmp_path):
    full = generate(tmp_path / "full", profile="tiny", progress=False)
    part = generate(tmp_path / "part", profile="tiny", start=dt.date(2021, 2, 20), end=dt.date(2021, 3, 5), progress=False)
    whole, window = _tree(tmp_path / "full"), _tree(tmp_path / "part")
    window.pop("truth.json")
    assert window and all(whole[k] == v for k, v in window.items())
    dates = {json.loads(v)["business_date"] for k, v in window.items() if k.endswith("manifest.json")}
    assert min(dates) == "2021-02-20" and max(dates) == "2021-03-05"
    assert part["headline"] == full["headline"]  # the simulation always covers the whole term
    assert part["window"]["headline"]["total"]["findings"] < full["headline"]["total"]["findings"]


def test_unknown_profiles_faults_and_empty_windows_are_refused(tmp_path):
    with pytest.raises(ValueError, match="profile"):
        generate(tmp_path, profile="nope", progress=False)
    with pytest.raises(ValueError, match="fault"):
        generate(tmp_path, profile="tiny", faults=["flood"], progress=False)
    with pytest.raises(ValueError, match="window"):
        generate(tmp_path, profile="tiny", start=dt.date(2030, 1, 1), progress=False)


def test_a_fault_no_night_of_a_short_window_can_carry_is_reported_not_injected(tmp_path):
    truth = generate(tmp_path, profile="tiny", faults="all", start=dt.date(2021, 2, 1), end=dt.date(2021, 2, 3),
                     progress=False)
    placed = {(f["kind"], f["variant"]) for f in truth["faults"]}
    unplaced = {(f["kind"], f["variant"]) for f in truth["faults_unplaced"]}
    assert placed and unplaced and not placed & unplaced
    assert ("person_name", "name") in unplaced   # no decisions in the first three nights
    assert all("2021-02-01" <= f["business_date"] <= "2021-02-03" for f in truth["faults"])


# --- faults -----------------------------------------------------------------------------------------

def _export(root: Path, folder: str) -> ExportDir:
    county, name = folder.split("/")
    return load_export(county, root / county / name, check_sha=False)


def test_every_fault_kind_is_injected_and_recorded(faults_run):
    root, truth = faults_run
    kinds = Counter(f["kind"] for f in truth["faults"])
    assert set(kinds) == set(FAULT_KINDS) and truth["faults_unplaced"] == []
    assert kinds["invalid_rows"] == 3 and kinds["schema_drift"] == 3 and kinds["person_name"] == 2
    for f in truth["faults"]:
        assert (root / f["folder"] / "manifest.json").is_file()
        if f["kind"] in ("duplicate_delivery", "late_delivery"):
            assert f["corrected_export_id"] is None
        else:
            assert f["corrected_export_id"] == f["export_id"][:-2] + "02"
            assert (root / f["corrected_folder"] / "manifest.json").is_file()
        if f["expect"] == "quarantine":
            assert f["rule"] in {"row.invalid", "file.encoding", "file.missing", "file.sha256", "file.rows",
                                 "file.columns", "manifest.county", "person.clear"}


def test_each_fault_is_where_truth_json_says(faults_run):
    root, truth = faults_run
    validator = jsonschema.Draft202012Validator(manifest_schema(), format_checker=jsonschema.FormatChecker())
    for f in truth["faults"]:
        folder = root / f["folder"]
        m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert list(validator.iter_errors(m)) == []
        entry = next((e for e in m["files"] if e["path"] == f["file"]), None)
        kind = f["kind"]
        if kind == "duplicate_delivery":
            assert _tree(folder) == _tree(root / f["duplicate_folder"])
        elif kind == "late_delivery":
            nxt = json.loads((root / f["county"] / f["next_export_id"] / "manifest.json").read_text(encoding="utf-8"))
            assert m["generated_at"] > nxt["generated_at"] and m["business_date"] < nxt["business_date"]
        elif kind == "wrong_county_code":
            assert m["county_code"] != f["county"] and m["county_code"] == f["value"]
        elif kind == "missing_file":
            assert entry and not (folder / f["file"]).exists()
        elif kind == "checksum_mismatch":
            assert hashlib.sha256((folder / f["file"]).read_bytes()).hexdigest() != entry["sha256"]
        elif kind == "rowcount_mismatch":
            _, rows = read_table(folder / f["file"], entry["format"], entry.get("encoding"))
            assert entry["rows"] == len(rows) + 1
        elif kind == "wrong_encoding":
            data = (folder / f["file"]).read_bytes()
            assert entry["encoding"] == "utf-8" and hashlib.sha256(data).hexdigest() == entry["sha256"]
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
            data.decode("gb18030")
        elif kind == "schema_drift":
            header, _ = read_table(folder / f["file"], entry["format"], entry.get("encoding"))
            spec_cols = load_spec().entity(entry["entity"]).column_names
            if f["variant"] == "renamed":
                assert f["column"] not in header and f["value"] in header
            elif f["variant"] == "added":
                assert header == spec_cols + ["remark"]
            else:
                assert f["column"] in spec_cols and f["column"] not in header
        elif kind in ("invalid_rows", "person_name"):
            ex = _export(root, f["folder"])
            row = ex.tables[entry["entity"]][f["row"] - 1]
            assert row[f["column"]] == f["value"]
            if kind == "invalid_rows":
                assert problems_of(entry["entity"], ex.headers[entry["entity"]], ex.tables[entry["entity"]])
            elif f["variant"] == "name":
                assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", f["value"])
            else:
                assert re.fullmatch(r"\d{17}[\dX]", f["value"])
        elif kind == "corrected_reexport":
            bad = _export(root, f["folder"]).tables["case_outcomes"][f["row"] - 1]
            good = next(r for r in _export(root, f["corrected_folder"]).tables["case_outcomes"] if r["outcome_id"] == f["key"])
            assert bad["outcome_type"] == "org_handling" and good["outcome_type"] == "sanction"
            assert good["updated_at"] > bad["updated_at"]
        else:
            pytest.fail(f"unchecked fault {kind}")


def test_corrected_reexports_are_clean(faults_run):
    root, truth = faults_run
    validator = jsonschema.Draft202012Validator(manifest_schema(), format_checker=jsonschema.FormatChecker())
    fixed = [f for f in truth["faults"] if f["corrected_export_id"]]
    assert len(fixed) == len(truth["faults"]) - 2
    for f in fixed:
        ex = load_export(f["county"], root / f["corrected_folder"])   # checksums verified
        assert list(validator.iter_errors(ex.manifest)) == []
        assert ex.manifest["county_code"] == f["county"] and ex.manifest["business_date"] == f["business_date"]
        for e in ex.manifest["files"]:
            assert len(ex.tables[e["entity"]]) == e["rows"]
            assert problems_of(e["entity"], ex.headers[e["entity"]], ex.tables[e["entity"]]) == []


def test_quarantining_the_faulty_exports_leaves_the_clean_truth(faults_run, tmp_path):
    root, truth = faults_run
    quarantined = {f["folder"] for f in truth["faults"] if f["expect"] == "quarantine"}
    exports = [load_export(c, d, check_sha=False) for c, d in export_dirs(root) if f"{c}/{d.name}" not in quarantined]
    clean = generate(tmp_path / "clean", profile="tiny", seed=0, progress=False)
    state = replay(exports)
    assert headline(state) == clean["headline"] == truth["headline"]
    assert {e: len(v) for e, v in state.items()} == clean["row_counts"]
