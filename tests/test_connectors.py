"""Getting exports in: HTTP pull from a real county system on loopback, and a remote landing area."""

from __future__ import annotations

import pytest
from conftest import query
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.orchestration import env as airflow_env
from xuncha.extract import connectors
from xuncha.load import county_night
from xuncha.orchestration import nightly
from xuncha_sim.countyserver import CountyServer

TOKEN = "songxian-secret-token"


def take_night(url, day):
    """嵩县's night through the one entry point, as its DAG's ingest task runs it; its XCom."""
    return county_night.run(registry.default(), "410325", day, url=url).to_xcom()


@pytest.fixture
def songxian(tmp_path, monkeypatch):
    """嵩县's own system (pulled in the registry), serving from tmp_path/systems."""
    root = tmp_path / "systems"
    root.mkdir()
    with CountyServer(root, {"410325": TOKEN}, page_size=2) as server:
        for k, v in airflow_env.county_connection_env("xuncha_county_410325", server.url, TOKEN).items():
            monkeypatch.setenv(k, v)
        yield root, server


def night(root, day: str, n: int = 3):
    stamp = day.replace("-", "")
    rows = slice_rows("410325", n_findings=n, updated=f"{day}T20:00:00+08:00")
    return write_export(root, "410325", f"410325-{stamp}-01", day, rows, generated_at=f"{day}T23:30:00+08:00")


def test_pulled_exports_load_and_the_watermark_moves_only_after_they_are_handled(clean, songxian, settings):
    root, _ = songxian
    for d in ("2019-03-14", "2019-03-15", "2019-03-16"):
        night(root, d)
    summary = take_night(clean, __import__("datetime").date(2019, 3, 15))
    # Pulled all three (three pages of 2), loaded the two nights up to the run's night, kept the third waiting.
    assert summary["loaded"] == 2
    assert (settings.landing / "410325" / "410325-20190316-01" / "manifest.json").exists()
    assert query(clean, "SELECT watermark::text, export_id FROM audit.watermarks") == [
        ("2019-03-15 15:30:00+00", "410325-20190315-01")]
    # The next night: nothing is downloaded twice, the waiting export loads, the watermark moves on.
    summary = take_night(clean, __import__("datetime").date(2019, 3, 16))
    assert summary["loaded"] == 1 and summary["duplicates"] == 0
    assert query(clean, "SELECT export_id FROM audit.watermarks") == [("410325-20190316-01",)]
    assert query(clean, "SELECT count(*) FROM audit.batches") == [(3,)]


def test_a_failed_load_leaves_the_watermark_so_the_export_is_pulled_again(clean, songxian, settings, monkeypatch):
    root, _ = songxian
    night(root, "2019-03-15")
    from xuncha.load import publish

    def boom(*a, **k):
        raise ConnectionError("warehouse went away")

    monkeypatch.setattr(publish, "publish", boom)
    failed = take_night(clean, __import__("datetime").date(2019, 3, 15))
    assert [e["status"] for e in failed["exports"]] == ["failed"] and failed["loaded"] == 0
    assert "warehouse went away" in nightly.verdict({"label": "嵩县 410325"}, failed)
    assert query(clean, "SELECT count(*) FROM audit.watermarks") == [(0,)]
    assert query(clean, "SELECT status FROM audit.batches") == [("failed",)]
    monkeypatch.undo()
    for k, v in airflow_env.county_connection_env("xuncha_county_410325", songxian[1].url, TOKEN).items():
        monkeypatch.setenv(k, v)
    assert take_night(clean, __import__("datetime").date(2019, 3, 15))["loaded"] == 1


def test_a_wrong_token_is_a_clear_error(clean, songxian, settings, monkeypatch):
    root, server = songxian
    for k, v in airflow_env.county_connection_env("xuncha_county_410325", server.url, "wrong").items():
        monkeypatch.setenv(k, v)
    with pytest.raises(PermissionError, match="嵩县 410325: the county system refused our token"):
        connectors.pull_http(registry.default().get("410325"), connectors.http_source("xuncha_county_410325"),
                             settings.landing / "410325", clean)


def test_a_remote_landing_area_is_fetched_through_object_storage(clean, settings, tmp_path):
    remote = tmp_path / "remote-landing"
    write_export(tmp_path, "remote-landing", "410329-20190315-01", "2019-03-15", slice_rows("410329"))
    partial = remote / "410329-20190316-01"
    partial.mkdir()
    (partial / "findings.csv").write_text("finding_id\n")  # still being written: no manifest yet
    county = registry.parse({"counties": [{
        "code": "410329", "name": "伊川县", "level": "county", "timezone": "Asia/Shanghai", "deadline": "06:00",
        "delivery": {"landing": f"file://{remote}"}, "active_from": "2016-10-01"}]}).counties[0]
    inbox = settings.landing / "410329"
    inbox.mkdir(parents=True)
    fetched = connectors.fetch_remote_landing(county, inbox)
    assert [p.name for p in fetched] == ["410329-20190315-01"]
    assert (inbox / "410329-20190315-01" / "manifest.json").exists()
    assert not (remote / "410329-20190315-01").exists() and partial.exists()


def test_the_arrival_check_asks_the_county_system_and_downloads_nothing(clean, songxian, settings):
    import datetime as dt

    from xuncha.extract import deadlines

    root, _ = songxian
    night(root, "2019-03-15")
    reg = registry.load()
    songxian_county = reg.get("410325")
    assert deadlines.arrived(songxian_county, dt.date(2019, 3, 15), clean, reg)
    assert not deadlines.arrived(songxian_county, dt.date(2019, 3, 16), clean, reg)
    assert not list(settings.landing.glob("410325/*")), "the check downloaded an export"
    assert query(clean, "SELECT (SELECT count(*) FROM audit.batches), (SELECT count(*) FROM audit.watermarks)") == [(0, 0)]
    # The night's run fetches it (the one place that does) and the question is answered from the ledger after.
    assert take_night(clean, dt.date(2019, 3, 15))["loaded"] == 1
    assert deadlines.arrived(songxian_county, dt.date(2019, 3, 15), clean, reg)
