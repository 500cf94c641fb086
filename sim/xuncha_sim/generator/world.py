"""The structure of the simulated world: organisations in scope, rounds and inspections.

Each committee (the city and every county-level unit) gets its organisations, then its rounds spread
over the term, then every organisation is placed in a coverage round (villages and communities in one
that starts before the coverage deadline), revisits (回头看) re-inspect a sample, and the city's
escalated/linked rounds inspect a few county-owned organisations, which only the city then covers.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from . import texts
from .calibrate import CalibrationError, lag
from .ledger import Ledger, Row
from .profiles import Profile, Unit

D = dt.timedelta
COVERAGE_TYPES = {"regular", "special", "mobile", "cross"}
VILLAGE_TYPES = {"village", "community"}


@dataclass(eq=False)
class Org:
    row: Row
    unit: str
    type: str
    in_scope_from: dt.date
    township: Org | None = None

    @property
    def key(self) -> str:
        return self.row.key


@dataclass(eq=False)
class Round:
    row: Row
    unit: str
    level: str
    type: str
    start: dt.date
    orgs: list[Org] = field(default_factory=list)
    inspections: list[Inspection] = field(default_factory=list)


@dataclass(eq=False)
class Inspection:
    row: Row
    round: Round
    org: Org
    onsite_start: dt.date
    onsite_end: dt.date
    feedback: dt.date
    findings: list[Row] = field(default_factory=list)

    @property
    def unit(self) -> str:
        return self.round.unit

    @property
    def level(self) -> str:
        return self.round.level


@dataclass
class World:
    orgs: dict[str, list[Org]]
    rounds: list[Round]
    inspections: list[Inspection]


def build_world(ledger: Ledger, profile: Profile, seed: int) -> World:
    rngs = {u.code: random.Random(f"{seed}|{profile.name}|{u.code}|world") for u in profile.committees}
    orgs = {u.code: _initial_orgs(ledger, profile, u, rngs[u.code]) for u in profile.committees}
    city_rng = rngs[profile.city.code]
    borrowed = _county_orgs_for_city(city_rng, profile, orgs)
    rounds: list[Round] = []
    merged_into = {c.old_code: c for c in profile.code_changes if not c.continues}
    lineage = {c.old_code: c.new_code for c in profile.code_changes}
    histories: dict[str, list] = {}  # per lineage (a merged-away unit shares its successor's history)
    for unit in profile.committees:
        rng = rngs[unit.code]
        change = merged_into.get(unit.code)
        window_end = None
        if change and change.effective <= profile.term_end:
            window_end = change.effective - D(days=round(90 * profile.time_scale))
        urounds = _schedule(ledger, profile, unit, rng, window_end)
        _late_orgs(ledger, profile, unit, rng, orgs[unit.code], urounds)
        own = [o for o in orgs[unit.code] if o not in borrowed]
        _assign_coverage(profile, unit, rng, own, urounds, borrowed if unit.level == "city" else [])
        history = histories.setdefault(lineage.get(unit.code, unit.code), [])
        _make_inspections(ledger, profile, unit, rng, urounds, len(orgs[unit.code]), history)
        rounds += urounds
    inspections = [i for r in rounds for i in r.inspections]
    _org_lifecycle(ledger, profile, seed, orgs, inspections)
    return World(orgs, rounds, inspections)


def _initial_orgs(ledger: Ledger, profile: Profile, u: Unit, rng: random.Random) -> list[Org]:
    t0 = profile.term_start
    out: list[Org] = []

    def add(type_: str, name: str, parent: Org | None = None) -> Org:
        row = ledger.new("org_units", u.code, t0, org_name=name, org_type=type_,
                         parent_org_id=parent.key if parent else None, in_scope_from=t0, in_scope_to=None)
        org = Org(row, u.code, type_, t0, parent)
        out.append(org)
        return org

    towns = [add("township", n) for n in texts.township_names(rng, u.townships, u.urban)]
    taken: set[str] = set()
    for kind, n in (("village", u.villages), ("community", u.communities)):
        for _ in range(n):
            town = rng.choice(towns) if towns else None
            name = texts.village_name(rng, taken) if kind == "village" else texts.community_name(rng, taken)
            add(kind, (town.row.values["org_name"] if town else "") + name, town)
    city = u.level == "city"
    party = {"组织部", "宣传部", "统战部", "政法委", "机构编制委员会办公室"}
    for i in range(u.depts):
        d = texts.DEPTS[i % len(texts.DEPTS)]
        suffix = "" if i < len(texts.DEPTS) else texts.chinese_number(i // len(texts.DEPTS) + 1)
        add("dept", (u.committee if d in party else u.name) + d + suffix)
    for type_, n, pool_city, pool in (("soe", u.soe, texts.CITY_SOE, texts.SOE),
                                      ("school", u.schools, texts.CITY_SCHOOLS, texts.SCHOOLS),
                                      ("hospital", u.hospitals, texts.CITY_HOSPITALS, texts.HOSPITALS),
                                      ("other", u.other, (), texts.OTHER)):
        for i in range(n):
            if city and pool_city:
                name = pool_city[i % len(pool_city)]
            else:
                name = u.name + pool[i % len(pool)]
            add(type_, name + ("" if i < len(pool_city if city and pool_city else pool) else f"（{i + 1}）"))
    return out


def _county_orgs_for_city(rng: random.Random, profile: Profile, orgs: dict[str, list[Org]]) -> list[Org]:
    n = profile.targets.city_county_orgs
    units = [u.code for u in profile.units]
    preferred = [c.old_code for c in profile.code_changes if c.old_code in units]
    others = [c for c in units if c not in preferred]
    rng.shuffle(others)
    picked: list[Org] = []
    for code in (preferred + others) * 2:
        if len(picked) == n:
            break
        cands = [o for o in orgs[code] if o.type in {"village", "community", "township"} and o not in picked]
        if cands:
            picked.append(rng.choice(cands))
    if len(picked) != n:
        raise CalibrationError(f"only {len(picked)} county organisations available for the city, need {n}")
    return picked


def _round_types(unit: Unit, profile: Profile, starts: list[dt.date]) -> list[str]:
    if unit.level == "city":
        if len(profile.targets.city_round_types) != len(starts):
            raise CalibrationError("city_round_types must list one type per city round")
        return list(profile.targets.city_round_types)
    cut = profile.coverage_deadline - D(days=round(50 * profile.time_scale))
    pre = [s for s in starts if s <= cut]
    n_pre, n_post = len(pre), len(starts) - len(pre)
    types = ["regular"] * n_pre
    for idx, t, need in ((2, "special", 4), (4, "cross", 10), (n_pre - 3, "mobile", 8), (n_pre // 2, "revisit", 6)):
        if n_pre >= need:
            types[idx] = t
    post = ["special"] * max(0, n_post - 1) + (["revisit"] if n_post >= 2 else ["special"] if n_post == 1 else [])
    return types + post


def _schedule(ledger: Ledger, profile: Profile, unit: Unit, rng: random.Random, window_end: dt.date | None) -> list[Round]:
    s = profile.time_scale
    a = profile.term_start + D(days=round(30 * s))
    b = profile.term_end - D(days=round(100 * s))
    if window_end is not None:
        b = min(b, window_end)
    n = unit.rounds
    span = (b - a).days
    step = span / (n - 1) if n > 1 else 0
    starts = []
    for k in range(n):
        jitter = round(rng.uniform(-0.12, 0.12) * step) if 0 < k < n - 1 else 0
        starts.append(a + D(days=round(k * step) + jitter))
    types = _round_types(unit, profile, starts)
    rounds = []
    for no, (start, type_) in enumerate(zip(starts, types), 1):
        created = max(profile.term_start, start - lag(rng, 5, 12, s))
        owner = ledger.system_for(unit.code, created)
        row = ledger.new("rounds", unit.code, created, key=f"{owner}-R{profile.term_no}-{no:02d}",
                         term_no=profile.term_no, round_no=no, round_type=type_, start_date=start, end_date=None)
        rounds.append(Round(row, unit.code, unit.level, type_, start))
    return rounds


def _late_orgs(ledger: Ledger, profile: Profile, unit: Unit, rng: random.Random, orgs: list[Org], rounds: list[Round]) -> None:
    """Organisations that enter the scope during the term (new communities, new agencies)."""
    n = round(len(orgs) * 0.012)
    cov = [r.start for r in rounds if r.type in COVERAGE_TYPES and r.start <= profile.coverage_deadline]
    towns = [o for o in orgs if o.type == "township"]
    taken = {o.row.values["org_name"] for o in orgs}
    for i in range(n):
        kind = ("community", "dept", "community", "soe")[i % 4]
        if kind == "community" and (len(cov) < 3 or not towns):
            kind = "dept"
        if kind == "community":
            lo, hi = profile.term_start + D(days=90), cov[-1] - D(days=30)
        elif unit.level == "city":  # the city covers every organisation it has: new ones join before its last round
            last = max((r.start for r in rounds if r.type in COVERAGE_TYPES), default=profile.term_start)
            lo, hi = profile.term_start + D(days=120), last - D(days=30)
        else:
            lo, hi = profile.term_start + D(days=120), profile.term_end - D(days=120)
        if hi <= lo:
            continue
        since = lo + D(days=rng.randrange((hi - lo).days))
        town = rng.choice(towns) if kind == "community" else None
        if kind == "community":
            name = town.row.values["org_name"] + texts.community_name(rng, taken)
        elif kind == "dept":
            name = f"{unit.name}{rng.choice(('大数据管理局', '营商环境服务中心', '乡村振兴局', '城市更新服务中心'))}"
        else:
            name = f"{unit.name}{rng.choice(('产业投资集团有限公司', '数字科技有限公司'))}"
        row = ledger.new("org_units", unit.code, since, org_name=name, org_type=kind,
                         parent_org_id=town.key if town else None, in_scope_from=since, in_scope_to=None)
        orgs.append(Org(row, unit.code, kind, since, town))


def _assign_coverage(profile: Profile, unit: Unit, rng: random.Random, own: list[Org], rounds: list[Round],
                     borrowed: list[Org]) -> None:
    s = profile.time_scale
    cov = [r for r in rounds if r.type in COVERAGE_TYPES]
    batches: list[list[Org]] = []
    initial = [o for o in own if o.in_scope_from == profile.term_start]
    for town in [o for o in initial if o.type == "township"]:
        batches.append([town] + [o for o in initial if o.township is town and o.type in VILLAGE_TYPES])
    placed = {id(o) for b in batches for o in b}
    loose_villages = [o for o in initial if o.type in VILLAGE_TYPES and id(o) not in placed]
    for k in range(0, len(loose_villages), 6):
        batches.append(loose_villages[k:k + 6])
    depts = [o for o in initial if o.type == "dept"]
    k = 0
    while k < len(depts):
        size = rng.randint(3, 6)
        batches.append(depts[k:k + size])
        k += size
    batches += [[o] for o in initial if o.type in {"soe", "school", "hospital", "other"}]
    rng.shuffle(batches)
    batches += [[o] for o in own if o.in_scope_from != profile.term_start]
    load = {id(r): 0 for r in cov}
    for batch in batches:
        needs_deadline = any(o.type in VILLAGE_TYPES for o in batch)
        earliest = max(o.in_scope_from for o in batch) + D(days=round(14 * s))
        elig = [r for r in cov if r.start >= earliest and (not needs_deadline or r.start <= profile.coverage_deadline - D(days=round(10 * s)))]
        if not elig:
            if needs_deadline:
                raise CalibrationError(f"{unit.code}: no coverage round for {batch[0].key} before the deadline")
            continue
        r = min(elig, key=lambda r: (load[id(r)], r.start))
        r.orgs.extend(batch)
        load[id(r)] += len(batch)
    linked = [r for r in rounds if r.type in {"escalated", "linked"}]
    for i, org in enumerate(borrowed):
        if not linked:
            raise CalibrationError("the city inspects county organisations but has no escalated/linked round")
        linked[i % len(linked)].orgs.append(org)


def _make_inspections(ledger: Ledger, profile: Profile, unit: Unit, rng: random.Random, rounds: list[Round],
                      n_orgs: int, inspected: list[tuple[Org, dt.date]]) -> None:
    """Inspections of each round; `inspected` is the lineage's (org, feedback) history, extended here."""
    s = profile.time_scale
    city = unit.level == "city"
    for r in sorted(rounds, key=lambda r: r.start):
        revisit = r.type == "revisit"
        if revisit or (r.type == "special" and (city or r.start > profile.coverage_deadline)):
            merged = ledger.system_for(unit.code, r.start) != unit.code
            done = [o for o, fb in inspected if fb < r.start and (o.unit == unit.code or merged)
                    and (revisit or o.type not in VILLAGE_TYPES | {"township"})]
            uniq = [o for o in dict.fromkeys(done) if o not in r.orgs]
            k = max(1, round(n_orgs * (0.08 if city else 0.04))) if revisit else (2 if city else max(1, round(n_orgs * 0.03)))
            r.orgs.extend(rng.sample(uniq, min(k, len(uniq))))
        if not r.orgs:
            continue
        n_teams = min(len(r.orgs), rng.randint(4, 7) if city else rng.randint(3, 6))
        team_start = [r.start + D(days=round(rng.uniform(0, 4) * s)) for _ in range(n_teams)]
        for i, org in enumerate(r.orgs):
            t = i % n_teams
            start = team_start[t]
            dur = lag(rng, 15, 30, s) if org.type in VILLAGE_TYPES else lag(rng, 25, 45, s)
            end = start + dur
            feedback = end + lag(rng, 15, 40, s)
            foreign = org.unit != unit.code and not _same_lineage(profile, org.unit, unit.code)
            row = ledger.new("inspections", unit.code, start, round_id=r.row.key, org_id=org.key,
                             org_county_code=ledger.system_for(org.unit, start) if foreign else None,
                             team_name=texts.team_name(_committee(profile, ledger, unit, start), t + 1),
                             onsite_start=start, onsite_end=None, feedback_date=None)
            row.change(end, onsite_end=end)
            row.change(feedback, feedback_date=feedback)
            r.inspections.append(Inspection(row, r, org, start, end, feedback))
            inspected.append((org, feedback))
        last = max(i.feedback for i in r.inspections)
        close = last + lag(rng, 2, 10, s)
        r.row.change(max(close, r.row.created), end_date=close)


def _same_lineage(profile: Profile, a: str, b: str) -> bool:
    new = {c.old_code: c.new_code for c in profile.code_changes}
    return new.get(a, a) == new.get(b, b)


def _committee(profile: Profile, ledger: Ledger, unit: Unit, day: dt.date) -> str:
    code = ledger.system_for(unit.code, day)
    for s in profile.successors:
        if s.code == code:
            return s.committee
    return unit.committee


def _org_lifecycle(ledger: Ledger, profile: Profile, seed: int, orgs: dict[str, list[Org]],
                   inspections: list[Inspection]) -> None:
    s, end = profile.time_scale, profile.term_end
    last_fb: dict[int, dt.date] = {}
    for i in inspections:
        last_fb[id(i.org)] = max(last_fb.get(id(i.org), i.feedback), i.feedback)
    changes = {c.old_code: c for c in profile.code_changes if profile.term_start < c.effective <= end}
    for unit in profile.committees:
        rng = random.Random(f"{seed}|{profile.name}|{unit.code}|lifecycle")
        uorgs = orgs[unit.code]
        # villages merged away (合村并居) after their inspection
        for o in uorgs:
            fb = last_fb.get(id(o))
            if o.type == "village" and fb and rng.random() < 0.01:
                out = fb + lag(rng, 30, 400, s)
                if out < end:
                    o.row.change(out, in_scope_to=out)
        # townships upgraded from 乡 to 镇
        for o in uorgs:
            name = o.row.values["org_name"]
            if o.type == "township" and name.endswith("乡") and rng.random() < 0.25:
                day = profile.term_start + D(days=rng.randrange((end - profile.term_start).days))
                o.row.change(day, org_name=name[:-1] + "镇")
        chg = changes.get(unit.code)
        if chg:
            for o in uorgs:
                if o.type != "dept" or o.row.values["in_scope_to"] is not None:
                    continue
                if chg.continues:
                    o.row.change(chg.effective, org_name=o.row.values["org_name"].replace(chg.old_name, chg.new_name))
                else:
                    o.row.change(chg.effective, in_scope_to=chg.effective - D(days=1))
        if unit.full_snapshots:
            # a record keyed in twice by mistake, then deleted at the source: only a full export withdraws it
            twin = next(o for o in uorgs if o.type == "dept")
            made = profile.term_start + D(days=max(2, round(100 * s)))
            row = ledger.new("org_units", unit.code, made, org_name=twin.row.values["org_name"] + "（重复录入）",
                             org_type="dept", parent_org_id=None, in_scope_from=made, in_scope_to=None)
            row.deleted = made + lag(rng, 10, 40, s)
