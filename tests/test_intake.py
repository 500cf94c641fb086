"""Push intake: a county pushes one export over real HTTP; checks before anything is written; receipt; state and report."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import socket
import tarfile
import threading
import time

import httpx
import pytest
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.load import county_night
from xuncha.intake import server as intake
from xuncha.load import pipeline

CLIENT = httpx.Client(timeout=120)


@pytest.fixture
def service(clean, settings, tmp_path):
    """The intake app on loopback (uvicorn), with a recorder for the runs it triggers."""
    triggered = []
    app = intake.app(url=clean, trigger=lambda code, night, export_id: triggered.append((code, night, export_id)) or "run-1")
    base, server, thread = _serve(app)
    tokens = {code: intake.issue_token(code, clean) for code in ("410327", "410326", "410325")}
    yield base, tokens, triggered
    server.should_exit = True
    thread.join(5)


def _files(export_dir):
    return [("files", (p.name, p.read_bytes())) for p in sorted(export_dir.iterdir())]


def _tar(export_dir, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for p in sorted(export_dir.iterdir()):
            tar.add(p, arcname=p.name)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _landing(settings) -> list[str]:
    return sorted(str(p.relative_to(settings.landing)) for p in settings.landing.rglob("*"))


def test_a_push_with_the_right_token_lands_is_receipted_triggers_its_county_and_loads(service, settings, tmp_path, clean):
    base, tokens, triggered = service
    export = write_export(tmp_path / "out", "410327", "410327-20190316-01", "2019-03-16", slice_rows("410327"))
    r = CLIENT.post(f"{base}/exports", files=_files(export), headers={"Authorization": f"Bearer {tokens['410327']}"})
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert (receipt["export_id"], receipt["county_code"], receipt["state"]) == ("410327-20190316-01", "410327", "received")
    assert {f["path"]: f["sha256"] for f in receipt["files"]} == {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in export.iterdir() if p.name != "manifest.json"}
    assert dt.datetime.fromisoformat(receipt["received_at"]).tzinfo is not None
    assert (settings.landing / "410327" / "410327-20190316-01" / "manifest.json").is_file()
    assert receipt["run_id"] == "run-1" and "note" not in receipt, "a started run needs no note"
    assert triggered == [("410327", dt.date(2019, 3, 16), "410327-20190316-01")], "that county's run is triggered"

    county_night.run(registry.load(), "410327", dt.date(2019, 3, 16), url=clean)   # what the triggered run's ingest does
    got = CLIENT.get(f"{base}/exports/410327-20190316-01", headers={"Authorization": f"Bearer {tokens['410327']}"}).json()
    assert got["state"] == "loaded" and got["loaded_rows"] >= 9 and got["received_at"] == receipt["received_at"]
    # The same export again, as a tar this time: refused as already received.
    again = CLIENT.post(f"{base}/exports", content=_tar(export), headers={"Authorization": f"Bearer {tokens['410327']}",
                                                                        "Content-Type": "application/x-tar"})
    assert again.status_code == 409


def test_wrong_token_other_county_traversal_and_oversize_are_refused_and_nothing_is_written(service, settings, tmp_path,
                                                                                            monkeypatch):
    base, tokens, triggered = service
    export = write_export(tmp_path / "out", "410327", "410327-20190316-01", "2019-03-16", slice_rows("410327"))
    before = _landing(settings)

    def push(token, **kw):
        return CLIENT.post(f"{base}/exports", headers={"Authorization": f"Bearer {token}", **kw.pop("headers", {})}, **kw)

    wrong = push("not-a-token", files=_files(export))
    assert wrong.status_code == 401 and "wrong token" in wrong.json()["error"]
    other = push(tokens["410326"], files=_files(export))
    assert other.status_code == 403 and "410327" in other.json()["error"] and "汝阳县 410326" in other.json()["error"]
    sneaky = push(tokens["410327"], files=_files(export) + [("files", ("../../evil.csv", b"x"))])
    assert sneaky.status_code == 400 and "../../evil.csv" in sneaky.json()["error"]
    tar_escape = push(tokens["410327"], content=_tar(export, {"../escape.csv": b"x"}),
                      headers={"Content-Type": "application/x-tar"})
    assert tar_escape.status_code == 400
    tampered = _files(export)
    tampered[0] = ("files", (tampered[0][1][0], tampered[0][1][1] + b"extra"))
    bad_hash = push(tokens["410327"], files=tampered)
    assert bad_hash.status_code == 422 and any("sha256" in p.lower() for p in bad_hash.json()["problems"])
    monkeypatch.setenv("XUNCHA_PUSH_MAX_BYTES", "200")
    big = push(tokens["410327"], files=_files(export))
    assert big.status_code == 413
    assert "0.0 MB" in big.json()["error"] and "超过" in big.json()["error"], "the limit in MB, not only a variable name"
    assert _landing(settings) == before and not triggered, "a refused push writes nothing and triggers nothing"
    assert not (tmp_path / "escape.csv").exists()


def test_a_pulled_countys_rejection_report_is_served_the_same_way(service, settings, tmp_path, clean):
    base, tokens, _ = service
    rows = slice_rows("410325")
    rows["findings"][1]["category"] = "XX"
    bad = write_export(tmp_path / "pulled", "410325", "410325-20190316-01", "2019-03-16", rows)
    reg = registry.default()
    assert pipeline.Ingestor(reg, url=clean).ingest(bad, reg.get("410325")).status == "quarantined"
    got = CLIENT.get(f"{base}/exports/410325-20190316-01", headers={"Authorization": f"Bearer {tokens['410325']}"})
    body = got.json()
    assert got.status_code == 200 and body["state"] == "quarantined"
    assert any(p["row"] == 2 and p["column"] == "category" for p in body["report"]["problems"]), body["report"]
    other = CLIENT.get(f"{base}/exports/410325-20190316-01", headers={"Authorization": f"Bearer {tokens['410326']}"})
    assert other.status_code == 404, "a county sees only its own exports"


def _serve(app):
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.mark.parametrize("how", ["standalone", "trigger fails"])
def test_a_push_no_run_was_started_for_says_so_in_its_receipt_and_still_lands(how, clean, settings, tmp_path):
    """`xuncha intake serve` without Airflow (county trial): the receipt said `"run_id": null` and nothing else, and
    the log said relation "dag" does not exist. Standalone starts no run; either way the receipt's note says the
    nightly run loads the export."""
    def broken(code, night, export_id):
        raise RuntimeError('relation "dag" does not exist')

    app = intake.app(url=clean, triggers=False) if how == "standalone" else intake.app(url=clean, trigger=broken)
    base, server, thread = _serve(app)
    try:
        token = intake.issue_token("410327", clean)
        export_id = f"410327-20190316-{'s' if how == 'standalone' else 'f'}"   # audit.pushes outlives `clean`
        export = write_export(tmp_path / "out", "410327", export_id, "2019-03-16", slice_rows("410327"))
        r = CLIENT.post(f"{base}/exports", files=_files(export), headers={"Authorization": f"Bearer {token}"})
    finally:
        server.should_exit = True
        thread.join(5)
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["run_id"] is None and "next nightly run" in receipt["note"], receipt
    assert ("自动触发未启用" if how == "standalone" else "自动触发失败") in receipt["note"]
    assert (settings.landing / "410327" / export_id / "manifest.json").is_file()
