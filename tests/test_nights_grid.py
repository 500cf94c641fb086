"""Which county loaded which night: every night a `xuncha_night` run covers judged, and `xuncha nights` printing the
same judgement as a grid (xuncha.monitor.nights, one definition), on real loads into the suite's PostgreSQL."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pendulum
from exports import slice_rows, write_export
from typer.testing import CliRunner

from xuncha import registry
from xuncha.cli import app
from xuncha.extract import deadlines
from xuncha.load import county_night
from xuncha.monitor import nights
from xuncha.orchestration import nightly

D13, D14, D15, D16 = (dt.date(2019, 3, d) for d in (13, 14, 15, 16))
AFTER = dt.datetime(2019, 3, 17, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))   # past every deadline of the 16th


def load(settings, url, code: str, day: dt.date, bad: bool = False) -> None:
    rows = slice_rows(code)
    if bad:
        rows["findings"][1]["category"] = "XX"
    write_export(settings.landing, code, f"{code}-{day:%Y%m%d}-01", day.isoformat(), rows)
    county_night.run(registry.default(), code, day, url=url)


def test_every_night_of_a_range_is_judged_as_the_night_dag_judges_it_and_printed_as_a_grid(clean, settings, monkeypatch):
    monkeypatch.setenv("XUNCHA_GO_LIVE", "2019-03-14")
    reg = registry.default()
    load(settings, clean, "410326", D15)
    load(settings, clean, "410326", D16)
    load(settings, clean, "410327", D15, bad=True)
    load(settings, clean, "410327", D16)
    deadlines.record_miss(clean, reg.get("410305"), D16)   # missed, then sent: 迟报
    load(settings, clean, "410305", D16)

    by_night = nights.states(D13, D16, clean, reg, now=AFTER)
    assert sorted(by_night) == [D13, D14, D15, D16]
    for day in by_night:   # one definition: the range is each night judged alone
        assert by_night[day] == nightly.night_states(day, clean, reg, now=AFTER), day
    grid = dict(nights.grid(by_night, reg))
    assert grid["汝阳县 410326"] == ["history", "missing", "loaded", "loaded"]
    assert grid["宜阳县 410327"] == ["history", "missing", "quarantined", "loaded"]
    assert grid["涧西区 410305"] == ["history", "missing", "missing", "late"]
    assert "偃师区 410307" not in grid, "not active in 2019: no row"

    text = nights.nights_text({d: by_night[d] for d in (D14, D15, D16)})
    first, *red = text.splitlines()
    assert first.startswith("nights 2019-03-14 … 2019-03-16 (3): 3 red, 0 green — "), first
    assert red[0].startswith("night 2019-03-16 — ") and red[1].startswith("night 2019-03-15 — quarantined 隔离 (1): 宜阳县 410327")

    out = CliRunner().invoke(app, ["nights", "--from", "2019-03-13", "--to", "2019-03-16", "--county", "410326",
                                   "--county", "410327"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    songxian = next(line for line in lines if "汝阳县 410326" in line).split("│")
    assert [c.strip() for c in songxian[2:6]] == ["—", "漏报", "loaded", "loaded"], songxian
    yiyang = next(line for line in lines if "宜阳县 410327" in line).split("│")
    assert [c.strip() for c in yiyang[2:6]] == ["—", "漏报", "隔离", "loaded"], yiyang
    assert not any("涧西区" in line for line in lines), "--county keeps the others out"
    assert "2 red night(s) of 4: 2019-03-14, 2019-03-15 ·" in out.output, "of the counties shown"


def test_a_night_run_covers_its_catch_up_or_every_night_since_the_previous_run():
    def ctx(params=None, previous=None):
        ti = SimpleNamespace(get_previous_dagrun=lambda: previous)
        return {"params": params or {}, "dag_run": None, "ti": ti,
                "logical_date": pendulum.datetime(2019, 3, 17, 6, 30, tz="Asia/Shanghai")}

    assert nightly.covered_nights(ctx()) == [D16], "no previous run: its night alone"
    assert nightly.covered_nights(ctx({"from": "2019-03-14"})) == [D14, D15, D16]
    assert nightly.covered_nights(ctx({"night": "2019-03-15", "from": "2019-03-13"})) == [D13, D14, D15]
    gap = SimpleNamespace(logical_date=pendulum.datetime(2019, 3, 14, 6, 30, tz="Asia/Shanghai"), conf={})
    assert nightly.covered_nights(ctx(previous=gap)) == [D14, D15, D16], "the nights since the previous run's (13th)"
    long_ago = SimpleNamespace(logical_date=pendulum.datetime(2018, 1, 1, 6, 30, tz="Asia/Shanghai"), conf={})
    assert len(nightly.covered_nights(ctx(previous=long_ago))) == nightly.MAX_CATCH_UP_NIGHTS


def test_the_demos_night_verdict_judges_its_window_as_live_from_its_first_night(clean, settings, monkeypatch):
    """`make demo` prints xuncha_night's verdict over its window, judged as the demo's runs were (go-live = the
    window's first night, so a night nobody sent is 漏报 and red), whatever go-live `xuncha setup` recorded; the
    environment is left as it was."""
    from xuncha import cli

    monkeypatch.setenv("XUNCHA_GO_LIVE", "2019-03-20")   # the go-live `make up` keeps: after the window
    load(settings, clean, "410326", D15)
    load(settings, clean, "410326", D16)
    line = cli._nights_verdict(D15, D16, registry.default())
    assert line.startswith("nights 2019-03-15 … 2019-03-16 (2): 2 red, 0 green — "), line
    assert "loaded 已入库 2" in line and "漏报" in line, line
    assert nights.nights_text(nights.states(D15, D16, reg=registry.default())).startswith(
        "nights 2019-03-15 … 2019-03-16 (2): 0 red, 2 green"), "judged with the recorded go-live: history"
    import os

    assert os.environ["XUNCHA_GO_LIVE"] == "2019-03-20"


def test_the_night_run_note_of_a_province_fits_airflows_1000_characters_and_names_every_red_county():
    """At 197 counties xuncha_night's note named every loaded county, 2,700 characters: Airflow's dag_run_note is
    varchar(1000), and the failed flush stopped the scheduler (issue 23's P3s bench)."""
    from xuncha.orchestration import run_notes

    found = {str(419000 + i): {"county": f"合成县{i:03d} {419000 + i}", "state": "loaded"} for i in range(1, 197)}
    found["410302"] = {"county": "老城区 410302", "state": "quarantined"}
    judged = {"nights": {"2016-11-14": found}}
    text = nightly.judged_text(judged, run_notes.NOTE_NAMES)
    assert len(text) <= run_notes.MAX_NOTE, len(text)
    assert text.startswith("night 2016-11-14 — ") and "老城区 410302" in text.split(";")[0]   # red first, named
    assert f"({196}): " in text and "… 188 more" in text                                  # counted in full
    assert len(nightly.judged_text(judged)) > run_notes.MAX_NOTE                      # the CLI's text stays whole
