"""What a county receives carries no platform path, and every Data Docs link resolves (issue 28): a pulled county's
quarantined export, its report files, its answer from the push intake (uvicorn on 127.0.0.1) and the Data Docs site
the validation built, with real PostgreSQL and Great Expectations.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.intake import server as intake
from xuncha.load import pipeline
from xuncha.orchestration import ui

pytestmark = pytest.mark.timeout(300)
EID = "410325-20190316-01"


@pytest.fixture
def quarantined(clean, settings, tmp_path):
    """嵩县 410325's export with a bad category, quarantined (Data Docs: failures); the ingest result."""
    rows = slice_rows("410325")
    rows["findings"][1]["category"] = "XX"
    bad = write_export(tmp_path / "pulled", "410325", EID, "2019-03-16", rows)
    reg = registry.default()
    result = pipeline.Ingestor(reg, url=clean).ingest(bad, reg.get("410325"))
    assert result.status == "quarantined" and result.data_docs
    return result


@pytest.fixture
def intake_url(clean):
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(intake.app(url=clean, trigger=lambda *a: "run"), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def _platform_paths(text: str, settings) -> list[str]:
    """Absolute platform paths or file:// URLs in `text`."""
    homes = {str(settings.home), str(settings.home.resolve()), str(settings.quarantine), "/tmp/", "/work/"}
    return [m for m in re.findall(r"file://\S+", text)] + [h for h in homes if h in text]


def test_a_county_receives_no_platform_path(quarantined, intake_url, settings, clean):
    token = intake.issue_token("410325", clean)
    answer = httpx.get(f"{intake_url}/exports/{EID}", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 200 and answer.json()["state"] == "quarantined"
    assert answer.json()["report"]["problems"], "the county still gets its problems"
    assert _platform_paths(answer.text, settings) == [], answer.text
    folder = settings.quarantine / "410325" / EID
    for name in ("_report.md", "_report.json", "_report.html"):
        text = (folder / name).read_text(encoding="utf-8")
        assert _platform_paths(text.replace("\\/", "/"), settings) == [], (name, text)
    assert "Data Docs" in (folder / "_report.md").read_text(encoding="utf-8"), "the report says where operators look"


def test_every_data_docs_link_resolves_and_the_report_links_the_failing_page(quarantined, settings):
    site = settings.home / "data_docs"
    page = site / quarantined.data_docs
    assert page.is_file() and "findings" in quarantined.data_docs, quarantined.data_docs
    assert (site / "expectations" / "findings.html").is_file(), "the suite's page exists"
    assert 'href="../../../../expectations/findings.html"' in page.read_text(encoding="utf-8"), "the suite link"
    dead = []
    for html_page in site.rglob("*.html"):
        text = html_page.read_text(encoding="utf-8")
        assert 'href="https://' not in text and 'href="http://' not in text, "no link off the site (offline)"
        for href in re.findall(r'\bhref="([^"]*)"', text):
            target, _, anchor = href.partition("#")
            if not target:
                continue                     # in-page anchors: GX's own sections
            resolved = (html_page.parent / target).resolve()
            if not (resolved.is_relative_to(site.resolve()) and resolved.is_file()):
                dead.append((str(html_page.relative_to(site)), href))
    assert dead == [], dead
    # The operators' way in: the UI's quarantine page links the failing result page, which the UI serves.
    report = json.loads((settings.quarantine / "410325" / EID / "_report.json").read_text(encoding="utf-8"))
    assert report["data_docs"] == quarantined.data_docs and not Path(report["data_docs"]).is_absolute()
    served = ui.data_docs(report["data_docs"])
    assert Path(served.path).resolve() == page.resolve()
