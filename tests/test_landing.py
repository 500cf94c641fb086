"""A landing area that trusts no file (xuncha.extract.landing): links, devices, FIFOs and sockets anywhere in an export,
the export folder itself included, are quarantined as `file.not_regular` without being opened, and nothing of
what they point at reaches a report, an alert or the warehouse.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
from pathlib import Path

import pytest
from conftest import query
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.load import county_night
from xuncha.extract import inbox

INPUT = Path("/work/shared/inputs/landing-symlink-outside-export")
SECRET = '{"admin": "S3cr3t-Admin-PW"}\n'
SECRET_SHA = "170a054b3563f6554c39aa5e230cce3f0968719f17d65dda6394b241fc8a6fdc"


def _ingest(url, export: Path, code: str = "410302"):
    [r] = county_night.run(registry.default(), code, None, url=url, exports=[inbox.receive(export)]).exports
    return r


def _everything_written(settings) -> str:
    text = ""
    for area in (settings.quarantine, settings.archive):
        for p in area.rglob("_report.*"):
            text += p.read_text(encoding="utf-8")
    return text


def _outside(settings) -> Path:
    outside = settings.landing.parent / "outside-the-export.txt"
    outside.write_text(SECRET, encoding="utf-8")
    return outside


@pytest.mark.parametrize("export_id", ["410302-20210411-01", "410302-20210412-01"])
def test_a_file_linked_outside_the_export_is_refused_unread(clean, settings, export_id):
    """The shared input `landing-symlink-outside-export` (its link re-made here: the copy kept its target's bytes)."""
    src = INPUT / "410302" / export_id if INPUT.exists() else None
    export = settings.landing / "410302" / export_id
    if src:
        shutil.copytree(src, export)
        os.chmod(export, 0o755)
    else:
        write_export(settings.landing, "410302", export_id, "2021-04-11", slice_rows("410302"))
    (export / "findings.csv").unlink(missing_ok=True)
    (export / "findings.csv").symlink_to(os.path.relpath(_outside(settings), export))
    r = _ingest(clean, export)
    assert r.status == "quarantined"
    assert [(p.rule, p.file) for p in r.problems] == [("file.not_regular", "findings.csv")]
    written = _everything_written(settings)
    assert "findings.csv" in written and "symbolic link" in written
    assert "S3cr3t" not in written and SECRET_SHA not in written
    assert query(clean, "SELECT count(*) FROM audit.alerts") == [(1,)], "the quarantine is alerted"
    assert query(clean, "SELECT count(*) FROM audit.alerts WHERE message LIKE '%%S3cr3t%%' OR detail::text LIKE '%%S3cr3t%%'") == [(0,)]
    assert query(clean, "SELECT count(*) FROM audit.batch_files WHERE actual_sha256 = %s", (SECRET_SHA,)) == [(0,)]
    assert query(clean, "SELECT count(*) FROM core.rounds WHERE county_code = '410302'") == [(0,)]
    assert not (settings.landing / "410302" / export_id).exists(), "moved whole to quarantine"
    assert (settings.quarantine / "410302" / export_id / "findings.csv").is_symlink()


def _fifo(p: Path, outside: Path):
    os.mkfifo(p)


def _socket(p: Path, outside: Path):
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(p))
    s.close()


def _device(p: Path, outside: Path):
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    os.mknod(p, 0o644 | stat.S_IFCHR, os.makedev(1, 3))   # /dev/null's numbers


def _hard_link(p: Path, outside: Path):
    try:
        os.link(outside, p)
    except OSError as exc:
        pytest.skip(f"no hard links here: {exc}")


def _symlink(p: Path, outside: Path):
    p.symlink_to(outside)


CASES = [(make, "findings.csv") for make in (_fifo, _socket, _device, _hard_link)] + [
    (_symlink, "manifest.json"), (_fifo, "manifest.json"), (_fifo, "sub/extra.csv"), (_symlink, "sub/extra.csv")]


@pytest.mark.parametrize("make,where", CASES, ids=[f"{m.__name__[1:]}-{w}" for m, w in CASES])
def test_no_kind_of_non_regular_entry_is_opened_anywhere_in_an_export(clean, settings, make, where):
    export = write_export(settings.landing, "410302", "410302-20190315-01", "2019-03-15", slice_rows("410302"))
    target = export / where
    target.parent.mkdir(exist_ok=True)
    target.unlink(missing_ok=True)
    make(target, _outside(settings))
    r = _ingest(clean, export)   # a FIFO that were opened would block here for ever
    assert r.status == "quarantined"
    assert ("file.not_regular", where) in [(p.rule, p.file) for p in r.problems]
    assert query(clean, "SELECT count(*) FROM core.rounds") == [(0,)]
    assert "S3cr3t" not in _everything_written(settings)


def test_an_export_folder_that_is_itself_a_link_is_refused(clean, settings, tmp_path):
    real = write_export(tmp_path, "410302", "410302-20190315-01", "2019-03-15", slice_rows("410302"))
    link = settings.landing / "410302" / "410302-20190315-01"
    link.parent.mkdir(parents=True)
    link.symlink_to(real, target_is_directory=True)
    r = _ingest(clean, link)
    assert r.status == "quarantined"
    assert [p.rule for p in r.problems] == ["file.not_regular"]
    assert query(clean, "SELECT count(*) FROM core.rounds") == [(0,)]
    assert (real / "manifest.json").is_file(), "what the link pointed at is untouched"


def test_hard_links_inside_the_export_only_are_fine_and_a_clean_export_loads(clean, settings):
    export = write_export(settings.landing, "410302", "410302-20190315-01", "2019-03-15", slice_rows("410302"))
    os.link(export / "rounds.csv", export / "rounds-copy.csv")   # two names of one file, both inside
    r = _ingest(clean, export)
    assert r.status == "loaded", r.problems


def test_a_report_names_a_hostile_file_name_escaped_and_bounded(clean, settings):
    export = write_export(settings.landing, "410302", "410302-20190315-01", "2019-03-15", slice_rows("410302"))
    name = "x\x1b[31m" + "y" * 200
    (export / name).symlink_to("/etc/passwd")
    r = _ingest(clean, export)
    [p] = r.problems
    assert p.rule == "file.not_regular" and "\x1b" not in p.file and len(p.file) <= 121
    report = json.loads((settings.quarantine / "410302" / "410302-20190315-01" / "_report.json").read_text(encoding="utf-8"))
    assert "root:" not in json.dumps(report)
