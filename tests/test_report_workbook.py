"""The Excel workbook (`xuncha report --xlsx`): it opens with reader libraries, its figures equal the marts, text
that a spreadsheet would run as a formula stays text."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import mart_world
import pytest
from metrics_fixtures import shared_world

from xuncha.metrics import dictionary as metric_dictionary
from xuncha.metrics import marts as metrics
from xuncha.reports import workbook

loaded, world = shared_world(mart_world.build)
DAY = dt.date.fromisoformat(mart_world.AS_OF)
XUNCHA = str(Path(sys.executable).with_name("xuncha"))
NAME_HEADERS = {"县区名称", "来源系统名称", "单位所属县区名称"}
"""The name columns the workbook adds beside county codes (not columns of the marts)."""


@pytest.fixture
def book(world, tmp_path):
    world.refresh(mart_world.AS_OF)
    r = subprocess.run([XUNCHA, "report", "--xlsx", "--as-of", mart_world.AS_OF, "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    path = tmp_path / workbook.workbook_name(DAY)
    assert f"wrote {path}" in " ".join(r.stdout.split())
    return path


def _plain(v):
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.datetime):
        return workbook.timestamp_text(v)
    if isinstance(v, dt.date):
        return dt.datetime.combine(v, dt.time())
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, list):
        return " ".join(v)
    return v


def test_the_workbook_has_the_headline_and_every_mart_with_title_header_and_frozen_panes(book):
    import openpyxl

    wb = openpyxl.load_workbook(book)
    marts = metric_dictionary.marts()
    assert wb.sheetnames[0] == "巡察工作情况" and wb.sheetnames[-1] == "图表"
    assert sorted(wb.sheetnames[:-1]) == sorted(m.title for m in marts.values())
    for m in marts.values():
        ws = wb[m.title]
        assert ws["A1"].value.startswith(f"{m.title}（{m.title_en}）")
        as_of_day = m.dated or m.name == "freshness"          # freshness as of the day: mart.freshness_at(D)
        assert (f"截至 {mart_world.AS_OF}" if as_of_day else "当前状态") in ws["A1"].value
        assert ws.freeze_panes == "A3"
        headers = [c.value for c in ws[2]]
        assert [h for h in headers if h not in NAME_HEADERS] == [c.header for c in m.columns if c.name != "as_of"]
        assert len(set(headers)) == len(headers), (m.name, headers)            # every column name unique
        assert not [h for h in headers if "）（" in h], (m.name, headers)       # units once: 起（月）, not 起（月）（月）
        assert all(ws.column_dimensions[col].width >= 8 for col in ws.column_dimensions)
    assert wb["巡察覆盖率"]["G2"].value == "巡察覆盖率（%）" and wb["巡察覆盖率"]["G3"].number_format == "0.00%"


def test_the_figures_equal_the_marts(book, world):
    import openpyxl

    wb = openpyxl.load_workbook(book)
    for name in metric_dictionary.marts():
        table = metrics.read_freshness(world.url, DAY) if name == "freshness" else metrics.read_mart(world.url, name, DAY)
        ws = wb[table.mart.title]
        headers = [c.value for c in ws[2]]
        cols = [c for c in table.columns if c.name != "as_of"]
        picked = [j for j, h in enumerate(headers) if h not in NAME_HEADERS]
        got = [[row[j] for j in picked] for row in ws.iter_rows(min_row=3, max_row=2 + len(table.rows), values_only=True)]
        labels = workbook.labels()
        want = [[labels.get(c.name, {}).get(v, v) if isinstance(v, str) else v
                 for c in cols for v in [_plain(r[table.columns.index(c)])]] for r in table.rows]
        if name == "term_headline":
            want.sort(key=lambda r: (r[2], r[0] == "全市", r[1]))   # scope as its label (workbook.SCOPE_LABELS)
        assert got == want, name
        assert table.rows, name


def test_a_formula_in_the_data_round_trips_as_text(book):
    import openpyxl
    from python_calamine import CalamineWorkbook

    ws = openpyxl.load_workbook(book)["整改满意率（按被巡察单位）"]
    cells = [c for row in ws.iter_rows(min_row=3) for c in row if c.value == mart_world.TEXT_INJECTION]
    assert cells and all(c.data_type == "s" and c.quotePrefix for c in cells)
    assert not [c for row in ws.iter_rows() for c in row if c.data_type == "f"]
    rows = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("整改满意率（按被巡察单位）").to_python()
    assert any(v == mart_world.TEXT_INJECTION for row in rows for v in row)


def test_a_day_after_the_newest_night_is_refused(world, tmp_path):
    r = subprocess.run([XUNCHA, "report", "--xlsx", "--as-of", "2018-07-01", "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and f"later than the newest loaded night ({DAY})" in " ".join(r.stderr.split())
    assert list(tmp_path.iterdir()) == []


def test_the_workbook_is_in_chinese_printable_and_carries_the_main_charts(book):
    import zipfile

    import openpyxl

    wb = openpyxl.load_workbook(book)
    ws = wb["整改台账"]
    status = [c.value for c in ws[2]].index("整改状态") + 1
    shown = {ws.cell(r, status).value for r in range(3, ws.max_row - 1)} - {None}
    assert shown and shown <= {"未启动", "整改中", "已完成", "基本完成", "立行立改", "延期"}, shown
    assert "township" not in [c.value for row in wb["巡察覆盖率"].iter_rows(min_row=3) for c in row]
    for name in wb.sheetnames:
        setup = wb[name].page_setup
        fit = wb[name].sheet_properties.pageSetUpPr.fitToPage
        assert setup.orientation == "landscape" and fit and setup.fitToWidth in (None, 1) and setup.fitToHeight == 0, name
        if name != "图表":
            assert wb[name].print_title_rows == "$1:$2", name           # title and header on every page
    with zipfile.ZipFile(book) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) >= 3


def test_no_sheet_shows_a_raw_code_where_the_spec_or_registry_has_its_chinese_label(book):
    import openpyxl

    wb = openpyxl.load_workbook(book)
    labels = workbook.labels()
    seen: dict[str, set] = {}
    for m in metric_dictionary.marts().values():
        ws = wb[m.title]
        headers = [c.value for c in ws[2]]
        for col in m.columns:
            if col.name not in labels:
                continue
            j = headers.index(col.header) + 1
            values = {ws.cell(r, j).value for r in range(3, ws.max_row + 1)} - {None}
            raw = {v for v in values if v in labels[col.name]}
            assert not raw, f"{m.title}.{col.header} shows codes {raw}"
            seen.setdefault(col.name, set()).update(values & set(labels[col.name].values()))
    assert seen["scope"] == {"县区", "全市"}                       # the headline sheet
    assert seen["level"] and seen["level"] <= {"市级（市委巡察）", "县级（县委巡察）"}
    assert seen["status"] and seen["org_type"]                  # the lists (台账)


@pytest.mark.slow   # LibreOffice (config/apt-packages.txt: libreoffice-calc-nogui), ~20 s
def test_the_workbook_prints_in_libreoffice_landscape_one_page_wide_per_sheet(book, tmp_path):
    import re
    import shutil

    import openpyxl

    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is not installed: run `make sysdeps` (config/apt-packages.txt)"
    r = subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}", "--headless",
                        "--convert-to", "pdf", "--outdir", str(tmp_path), str(book)],
                       capture_output=True, text=True, timeout=300)
    pdf = tmp_path / book.with_suffix(".pdf").name
    assert r.returncode == 0 and pdf.exists(), r.stderr
    data = pdf.read_bytes()
    pages = re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data)
    boxes = [tuple(float(v) for v in m) for m in
             re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", data)]
    sheets = openpyxl.load_workbook(book).sheetnames
    # every sheet of this small world is short: fitted to one page wide, each prints on one page (two for the
    # charts); without the fit, the headline's 14 columns alone would take several portrait pages
    assert len(sheets) <= len(pages) <= len(sheets) + 1, (len(pages), len(sheets))
    assert boxes and all(x1 - x0 > y1 - y0 for x0, y0, x1, y1 in boxes), boxes    # landscape
