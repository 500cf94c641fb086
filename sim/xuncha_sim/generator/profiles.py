"""Profiles of synthetic county systems: which units exist, how big they are, how they deliver, and the
figures the simulation must reproduce exactly.

`seed` is Luoyang's 11th city committee term (2016-10-01 .. 2021-09-30): the city (410300) and the 16
county-level units of 2020, with the 2021 code changes. `tiny` is a few units over ten weeks around the
2021 code change: a few hundred rows, generated in well under a second, for tests and the demo.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Delivery:
    """How one county system writes its files (fixed per system)."""

    format: str = "csv"            # csv | xlsx | jsonl
    encoding: str | None = "utf-8"  # csv only: utf-8 | utf-8-sig | gb18030
    date_style: str = "iso"        # xlsx only: iso (dates as ISO text) | excel (Excel date cells)
    channel: str = "files"         # files (landing folder) | http (the platform pulls it)


CSV = Delivery()
CSV_BOM = Delivery(encoding="utf-8-sig")
GB = Delivery(encoding="gb18030")
XLSX = Delivery(format="xlsx", encoding=None)
XLSX_EXCEL_DATES = Delivery(format="xlsx", encoding=None, date_style="excel")
JSONL = Delivery(format="jsonl", encoding=None)
CSV_HTTP = Delivery(channel="http")


@dataclass(frozen=True)
class Unit:
    """One party committee with its own case-management system."""

    code: str
    name: str
    committee: str          # how its inspection teams are named, e.g. 嵩县县委
    level: str              # city | county
    townships: int = 0
    villages: int = 0
    communities: int = 0
    depts: int = 0
    soe: int = 0
    schools: int = 0
    hospitals: int = 0
    other: int = 0
    rounds: int = 0
    delivery: Delivery = CSV
    full_snapshots: bool = False  # sends a `full` export on the first night of each quarter
    urban: bool = False           # townships are 街道 and its depts are 区直 units


@dataclass(frozen=True)
class CodeChange:
    """From `effective` on, the system of `old_code` exports as `new_code` (keeping its source ids)."""

    old_code: str
    old_name: str
    new_code: str
    new_name: str
    effective: dt.date
    continues: bool = True  # False: rows move to new_code, but new_code's own rounds continue another old code


@dataclass(frozen=True)
class Successor:
    code: str
    name: str
    committee: str
    delivery: Delivery


@dataclass(frozen=True)
class Targets:
    findings: tuple[int, int]        # inclusive range; the exact total is drawn from the seed
    clues: int                       # whole city
    city_clues: int
    outcomes: dict[str, int]         # whole city, by outcome_type
    city_outcomes: dict[str, int]
    amount_recovered: Decimal        # whole city, CNY
    city_county_orgs: int            # county-owned organisations the city inspects (escalated/linked)
    city_round_types: tuple[str, ...]
    satisfaction_min: float = 0.90


@dataclass(frozen=True)
class Profile:
    name: str
    term_no: int
    term_start: dt.date
    term_end: dt.date
    coverage_deadline: dt.date       # every village/community inspected (non-revisit) by this date
    time_scale: float                # multiplies every lag (1.0 = realistic calendar)
    city: Unit
    units: tuple[Unit, ...]
    successors: tuple[Successor, ...]
    code_changes: tuple[CodeChange, ...]
    targets: Targets
    exact: bool = True               # the generator checks its own output against `targets`
    notes: dict = field(default_factory=dict)

    @property
    def committees(self) -> tuple[Unit, ...]:
        return (self.city, *self.units)


CODE_CHANGES_2021 = (
    CodeChange("410381", "偃师市", "410307", "偃师区", dt.date(2021, 3, 1)),
    CodeChange("410322", "孟津县", "410308", "孟津区", dt.date(2021, 3, 1)),
    CodeChange("410306", "吉利区", "410308", "孟津区", dt.date(2021, 3, 1), continues=False),
)
SUCCESSORS_2021 = (
    Successor("410307", "偃师区", "偃师区委", CSV),
    Successor("410308", "孟津区", "孟津区委", CSV),
)

_C = "county"
SEED = Profile(
    name="seed",
    term_no=11,
    term_start=dt.date(2016, 10, 1),
    term_end=dt.date(2021, 9, 30),
    coverage_deadline=dt.date(2020, 12, 31),
    time_scale=1.0,
    # 71 organisations in scope at the start and one new agency later: with 8 county-owned organisations
    # inspected in escalated/linked rounds, the city inspects 80 distinct organisations.
    city=Unit("410300", "洛阳市", "洛阳市委", "city", depts=51, soe=10, schools=5, hospitals=4, other=1, rounds=11),
    units=(
        Unit("410302", "老城区", "老城区委", _C, 9, 18, 42, 42, 3, 4, 2, 3, 13, urban=True),
        Unit("410303", "西工区", "西工区委", _C, 10, 8, 58, 44, 3, 5, 3, 3, 14, CSV_BOM, urban=True),
        Unit("410304", "瀍河回族区", "瀍河回族区委", _C, 7, 22, 31, 40, 2, 3, 2, 3, 12, XLSX, urban=True),
        Unit("410305", "涧西区", "涧西区委", _C, 13, 6, 72, 45, 4, 6, 4, 3, 14, JSONL, urban=True),
        Unit("410306", "吉利区", "吉利区委", _C, 3, 18, 10, 34, 2, 2, 1, 2, 12, urban=True),
        Unit("410311", "洛龙区", "洛龙区委", _C, 12, 128, 48, 46, 4, 5, 3, 3, 13, urban=True),
        Unit("410322", "孟津县", "孟津县委", _C, 10, 222, 12, 48, 4, 4, 3, 3, 13),
        Unit("410323", "新安县", "新安县委", _C, 11, 291, 16, 50, 5, 5, 3, 3, 14, GB),
        Unit("410324", "栾川县", "栾川县委", _C, 14, 200, 13, 49, 5, 4, 3, 3, 13),
        Unit("410325", "嵩县", "嵩县县委", _C, 16, 310, 10, 50, 4, 4, 3, 3, 14, CSV_HTTP, full_snapshots=True),
        Unit("410326", "汝阳县", "汝阳县委", _C, 13, 200, 16, 48, 4, 4, 3, 3, 13),
        Unit("410327", "宜阳县", "宜阳县委", _C, 17, 352, 15, 50, 5, 5, 3, 3, 14, GB),
        Unit("410328", "洛宁县", "洛宁县委", _C, 18, 373, 18, 49, 4, 4, 3, 3, 13, CSV_HTTP),
        Unit("410329", "伊川县", "伊川县委", _C, 14, 350, 21, 50, 5, 5, 4, 3, 15),
        Unit("410381", "偃师市", "偃师市委", _C, 16, 200, 35, 48, 5, 5, 3, 3, 13),
        Unit("410371", "洛阳高新区", "高新区党工委", _C, 2, 20, 8, 20, 2, 2, 1, 1, 12, XLSX_EXCEL_DATES, urban=True),
    ),
    successors=SUCCESSORS_2021,
    code_changes=CODE_CHANGES_2021,
    targets=Targets(
        findings=(25_100, 25_900),
        clues=3_914,
        city_clues=517,
        outcomes={"sanction": 1_389, "org_handling": 2_216, "detention": 61, "judicial_transfer": 70},
        city_outcomes={"sanction": 224, "org_handling": 335, "detention": 13, "judicial_transfer": 22},
        amount_recovered=Decimal("267000000.00"),
        city_county_orgs=8,
        city_round_types=("regular", "regular", "special", "regular", "escalated", "regular", "linked",
                          "regular", "regular", "special", "revisit"),
    ),
    notes={"city_orgs_inspected": 80, "city_rounds": 11, "county_rounds_avg_min": 12},
)

TINY = Profile(
    name="tiny",
    term_no=11,
    term_start=dt.date(2021, 2, 1),
    term_end=dt.date(2021, 4, 10),
    coverage_deadline=dt.date(2021, 4, 10),
    time_scale=0.15,
    city=Unit("410300", "洛阳市", "洛阳市委", "city", depts=5, soe=1, rounds=2),
    units=(
        Unit("410303", "西工区", "西工区委", _C, 1, 1, 3, 3, rounds=2, delivery=CSV_BOM, urban=True),
        Unit("410304", "瀍河回族区", "瀍河回族区委", _C, 1, 2, 2, 2, rounds=2, delivery=XLSX, urban=True),
        Unit("410305", "涧西区", "涧西区委", _C, 1, 1, 3, 3, rounds=2, delivery=JSONL, urban=True),
        Unit("410306", "吉利区", "吉利区委", _C, 1, 3, 1, 2, rounds=2, urban=True),
        Unit("410322", "孟津县", "孟津县委", _C, 1, 4, 1, 3, rounds=2),
        Unit("410323", "新安县", "新安县委", _C, 1, 4, 1, 3, rounds=2, delivery=GB),
        Unit("410325", "嵩县", "嵩县县委", _C, 1, 4, 1, 3, rounds=2, delivery=CSV_HTTP, full_snapshots=True),
        Unit("410381", "偃师市", "偃师市委", _C, 1, 4, 1, 3, rounds=2),
        Unit("410371", "洛阳高新区", "高新区党工委", _C, 1, 2, 1, 2, rounds=2, delivery=XLSX_EXCEL_DATES, urban=True),
    ),
    successors=SUCCESSORS_2021,
    code_changes=CODE_CHANGES_2021,
    targets=Targets(
        findings=(180, 220),
        clues=48,
        city_clues=8,
        outcomes={"sanction": 16, "org_handling": 18, "detention": 2, "judicial_transfer": 3},
        city_outcomes={"sanction": 4, "org_handling": 4, "detention": 1, "judicial_transfer": 1},
        amount_recovered=Decimal("1234567.89"),
        city_county_orgs=2,
        city_round_types=("regular", "escalated"),
    ),
    notes={"city_orgs_inspected": 8, "city_rounds": 2},
)

PROFILES = {"seed": SEED, "tiny": TINY}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None
