"""The simulated county HTTP system serves generated exports over the spec's pull interface (§9), for real,
over a socket, to httpx."""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest_generator import run_once
from xuncha_sim.countyserver import CountyServer

TOKENS = {"410325": "s3cret-songxian", "410371": "s3cret-gaoxin"}
AUTH = {"Authorization": "Bearer s3cret-songxian"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return run_once(tmp_path_factory, "tiny-faults", profile="tiny", seed=0, faults=["all"])


@pytest.fixture(scope="module")
def server(tiny):
    root, _ = tiny
    with CountyServer(root, TOKENS, page_size=10) as srv:
        yield srv


def _folders(root: Path, county: str) -> list[Path]:
    return sorted(d for d in (root / county).iterdir() if d.is_dir())


def _pull_all(srv, county="410325", headers=AUTH, since=None) -> list[dict]:
    items, page = [], 1
    with httpx.Client(base_url=srv.url, headers=headers) as c:
        while page:
            params = {"page": page} | ({"updated_since": since} if since else {})
            r = c.get(f"/api/v1/{county}/exports", params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["page"] == page
            items += body["items"]
            page = body["next_page"]
    return items


def test_the_listing_needs_the_countys_own_bearer_token(server):
    url = f"{server.url}/api/v1/410325/exports"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Basic s3cret-songxian"}).status_code == 401
    r = httpx.get(url, headers={"Authorization": "Bearer s3cret-gaoxin"})   # another county's token
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.json() == {"error": "missing or wrong bearer token"}
    assert httpx.get(url, headers=AUTH).status_code == 200


def test_unknown_counties_exports_and_files_are_404(server, tiny):
    root, _ = tiny
    eid = _folders(root, "410325")[0].name
    with httpx.Client(base_url=server.url, headers=AUTH) as c:
        assert c.get("/api/v1/410302/exports").status_code == 404          # a county that is not pulled
        assert c.get("/api/v1/410325/exports/410325-19990101-01/manifest.json").status_code == 404
        assert c.get(f"/api/v1/410325/exports/{eid}/files/nothing.csv").status_code == 404
        assert c.get(f"/api/v1/410325/exports/{eid}").status_code == 404
        assert c.get("/api/v2/410325/exports").status_code == 404
        assert c.post("/api/v1/410325/exports").status_code == 405


def test_pages_list_every_export_once_in_generated_at_order(server, tiny):
    root, truth = tiny
    items = _pull_all(server)
    ids = [i["export_id"] for i in items]
    assert len(ids) == len(set(ids))
    manifests = {json.loads((d / "manifest.json").read_text(encoding="utf-8"))["export_id"] for d in _folders(root, "410325")}
    assert set(ids) == manifests
    assert len(items) > 10   # several pages
    keys = [(i["generated_at"], i["export_id"]) for i in items]
    assert keys == sorted(keys)
    assert set(items[0]) == {"export_id", "county_code", "business_date", "generated_at", "mode", "files"}
    assert any(i["mode"] == "full" for i in items)


def test_updated_since_is_a_strict_watermark(server):
    items = _pull_all(server)
    mark = items[7]["generated_at"]
    later = _pull_all(server, since=mark)
    assert [i["export_id"] for i in later] == [i["export_id"] for i in items[8:]]
    assert _pull_all(server, since="2100-01-01T00:00:00+08:00") == []
    # the same instant in UTC selects the same exports
    import datetime as dt
    utc = dt.datetime.fromisoformat(mark).astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    assert _pull_all(server, since=utc) == later
    with httpx.Client(base_url=server.url, headers=AUTH) as c:
        assert c.get("/api/v1/410325/exports", params={"updated_since": "2021-02-03T00:00:00"}).status_code == 400
        assert c.get("/api/v1/410325/exports", params={"updated_since": "yesterday"}).status_code == 400
        assert c.get("/api/v1/410325/exports", params={"page": "0"}).status_code == 400
        assert c.get("/api/v1/410325/exports", params={"page": "two"}).status_code == 400
        beyond = c.get("/api/v1/410325/exports", params={"page": 999}).json()
        assert beyond == {"items": [], "page": 999, "next_page": None}


def test_manifests_and_files_are_served_byte_for_byte(tiny, tmp_path):
    root, truth = tiny
    faulty = {f["export_id"] for f in truth["faults"]}
    with CountyServer(root, TOKENS) as srv, httpx.Client(base_url=srv.url) as c:
        for county, token in TOKENS.items():
            c.headers["Authorization"] = f"Bearer {token}"
            for item in _pull_all(srv, county, headers={"Authorization": f"Bearer {token}"}):
                base = f"/api/v1/{county}/exports/{item['export_id']}"
                r = c.get(f"{base}/manifest.json")
                assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
                m = r.json()
                assert r.content == (root / county / item["export_id"] / "manifest.json").read_bytes()
                for f in m["files"]:
                    r = c.get(f"{base}/files/{f['path']}")
                    path = root / county / item["export_id"] / f["path"]
                    if not path.exists():   # the missing_file fault
                        assert r.status_code == 404 and item["export_id"] in faulty
                        continue
                    assert r.status_code == 200 and r.content == path.read_bytes()
                    if item["export_id"] not in faulty:
                        assert hashlib.sha256(r.content).hexdigest() == f["sha256"]
                    if f["format"] == "xlsx":
                        assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_path_traversal_is_rejected(server, tiny):
    root, _ = tiny
    eid = _folders(root, "410325")[0].name
    with httpx.Client(base_url=server.url, headers=AUTH) as c:
        for bad in ("%2e%2e%2f%2e%2e%2ftruth.json", "..%2F..%2Ftruth.json", "%2e%2e", ".hidden", "a%5Cb"):
            r = c.get(f"/api/v1/410325/exports/{eid}/files/{bad}")
            assert r.status_code in (400, 404) and b'"generator"' not in r.content, bad
        assert c.get("/api/v1/%2e%2e/exports").status_code == 400
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)   # raw, un-normalised path
    conn.request("GET", f"/api/v1/410325/exports/{eid}/files/../../../truth.json", headers=AUTH)
    resp = conn.getresponse()
    assert resp.status in (400, 404) and b"generator" not in resp.read()
    conn.close()


def test_a_re_sent_export_is_listed_once(tiny):
    root, truth = tiny
    dup = next(f for f in truth["faults"] if f["kind"] == "duplicate_delivery")
    county = dup["county"]
    with CountyServer(root, {county: "t"}) as srv:
        ids = [i["export_id"] for i in _pull_all(srv, county, headers={"Authorization": "Bearer t"})]
    assert ids.count(dup["export_id"]) == 1
    assert len(ids) == len(_folders(root, county)) - 1


def test_a_late_export_is_caught_by_the_watermark(tiny):
    root, truth = tiny
    late = next(f for f in truth["faults"] if f["kind"] == "late_delivery")
    county = late["county"]
    nxt = json.loads((root / county / late["next_export_id"] / "manifest.json").read_text(encoding="utf-8"))
    with CountyServer(root, {county: "t"}) as srv:
        after = [i["export_id"] for i in _pull_all(srv, county, headers={"Authorization": "Bearer t"}, since=nxt["generated_at"])]
    assert late["export_id"] in after and late["next_export_id"] not in after


def test_new_exports_appear_without_a_restart(tiny, tmp_path):
    root, _ = tiny
    shutil.copytree(root / "410325", tmp_path / "410325")
    with CountyServer(tmp_path, {"410325": "t"}) as srv:
        before = _pull_all(srv, headers={"Authorization": "Bearer t"})
        src = tmp_path / "410325" / before[-1]["export_id"]
        m = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
        m["export_id"] = m["export_id"][:-2] + "03"
        m["generated_at"] = "2099-01-01T00:00:00+08:00"
        dst = tmp_path / "410325" / m["export_id"]
        shutil.copytree(src, dst)
        (dst / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
        after = _pull_all(srv, headers={"Authorization": "Bearer t"}, since=before[-1]["generated_at"])
    assert [i["export_id"] for i in after] == [m["export_id"]]


def test_it_runs_standalone_from_the_command_line(tiny):
    root, _ = tiny
    proc = subprocess.Popen([sys.executable, "-m", "xuncha_sim.countyserver", "--root", str(root), "--token", "410325=cli",
                             "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split("/api/")[0]
        deadline = time.time() + 10
        while True:
            try:
                r = httpx.get(f"{url}/api/v1/410325/exports", headers={"Authorization": "Bearer cli"})
                break
            except httpx.ConnectError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["items"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
