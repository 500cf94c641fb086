"""What inspections produce: findings, clues, case outcomes, rectification tasks and satisfaction surveys.

Totals the seed publishes are hit exactly: findings, clues and outcomes are apportioned over the
inspections and clues that can hold them (largest remainder), the amount recovered is apportioned in
cents, and only then are the rows placed in time. Nothing that counts toward a headline happens after
the term's end; follow-ups that would (a late disposal, a rectification finished after the term) are
simply not yet visible, as in a real system.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from decimal import Decimal

from . import texts
from .calibrate import CalibrationError, add_months, apportion, lag, weighted_choice
from .ledger import Ledger, Row
from .profiles import Profile
from .world import Inspection, World

D = dt.timedelta
FINDING_BASE = {"dept": 7, "township": 8, "soe": 7, "school": 5, "hospital": 6, "other": 5, "village": 4, "community": 4}
OUTCOME_TYPES = ("sanction", "org_handling", "detention", "judicial_transfer")


def build_casework(ledger: Ledger, profile: Profile, seed: int, world: World) -> None:
    tag = f"{seed}|{profile.name}"
    _findings(ledger, profile, random.Random(f"{tag}|findings"), world.inspections)
    clues = _clues(ledger, profile, random.Random(f"{tag}|clues"), world.inspections)
    outcomes = _outcomes(ledger, profile, random.Random(f"{tag}|outcomes"), clues, tag)
    _amounts(profile, random.Random(f"{tag}|amounts"), outcomes)
    _rectifications(ledger, profile, random.Random(f"{tag}|rectifications"), world.inspections)
    _surveys(ledger, profile, random.Random(f"{tag}|surveys"), world.inspections)


def _findings(ledger: Ledger, profile: Profile, rng: random.Random, inspections: list[Inspection]) -> None:
    total = rng.randint(*profile.targets.findings)
    weights = [FINDING_BASE[i.org.type] * (0.6 if i.round.type == "revisit" else 1.0) * (1.8 if i.level == "city" else 1.0)
               * rng.lognormvariate(0, 0.35) for i in inspections]
    cats = texts.CATEGORY_WEIGHTS
    for insp, n in zip(inspections, apportion(total, weights, minimum=1)):
        last = min(insp.onsite_end, profile.term_end)
        span = (last - insp.onsite_start).days
        org_name = insp.org.row.values["org_name"]
        for _ in range(n):
            day = insp.onsite_start + D(days=rng.randint(0, span))
            cat = weighted_choice(rng, cats)
            row = ledger.new("findings", insp.unit, day, inspection_id=insp.row.key, category=cat, found_date=day,
                             summary=texts.finding_summary(rng, cat, org_name))
            if rng.random() < 0.015:  # reclassified after review: a correction with a newer updated_at
                row.change(day + lag(rng, 3, 60, profile.time_scale), category=weighted_choice(rng, cats))
            insp.findings.append(row)


def _clues(ledger: Ledger, profile: Profile, rng: random.Random, inspections: list[Inspection]) -> dict[str, list[Row]]:
    """Clues per unit (lineage code), apportioned over the inspections that end early enough to transfer one."""
    s, end = profile.time_scale, profile.term_end
    city = profile.city.code
    plan = []
    for insp in inspections:
        t = insp.onsite_end + lag(rng, 3, 30, s)
        if t <= end:
            plan.append((insp, t, len(insp.findings) * rng.lognormvariate(0, 0.5)))
    out: dict[str, list[Row]] = {u.code: [] for u in profile.committees}
    t = profile.targets
    for level_city, total in ((True, t.city_clues), (False, t.clues - t.city_clues)):
        part = [p for p in plan if (p[0].unit == city) == level_city]
        for (insp, day0, _), n in zip(part, apportion(total, [p[2] for p in part])):
            for _ in range(n):
                day = min(end, day0 + D(days=round(rng.uniform(0, 5) * s)))
                row = ledger.new("clues", insp.unit, day, inspection_id=insp.row.key,
                                 recipient=weighted_choice(rng, {"discipline": 80, "organisation": 14, "other": 6}),
                                 transfer_date=day, disposal_method=None, closed_date=None)
                out[insp.unit].append(row)
    return out


def _outcomes(ledger: Ledger, profile: Profile, rng: random.Random, clues: dict[str, list[Row]], tag: str) -> list[Row]:
    s, end, t = profile.time_scale, profile.term_end, profile.targets
    min_avail = round(45 * s)
    eligible = {u: [c for c in cs if (end - c.created).days >= min_avail] for u, cs in clues.items()}
    units = [u.code for u in profile.units]
    targets = {profile.city.code: dict(t.city_outcomes)}
    for u in units:
        targets[u] = {}
    for typ in OUTCOME_TYPES:
        county_total = t.outcomes[typ] - t.city_outcomes[typ]
        for u, n in zip(units, apportion(county_total, [len(eligible[u]) for u in units])):
            targets[u][typ] = n
    rows: list[Row] = []
    for unit in profile.committees:
        rows += _unit_outcomes(ledger, profile, rng, unit.code, unit.level, clues[unit.code], eligible[unit.code],
                               targets[unit.code], f"{tag}|{unit.code}", min_avail)
    return rows


def _unit_outcomes(ledger: Ledger, profile: Profile, rng: random.Random, unit: str, level: str, clues: list[Row],
                   eligible: list[Row], target: dict[str, int], tag: str, min_avail: int) -> list[Row]:
    s, end = profile.time_scale, profile.term_end
    S, O, Dt, J = (target[k] for k in OUTCOME_TYPES)
    persons = max(S, Dt, J)
    pool = list(eligible)
    rng.shuffle(pool)
    n_case = min(persons, max(1, round(persons / 1.3))) if persons else 0
    n_talk = min(O, max(1, round(O / 1.25))) if O else 0
    while n_case + n_talk > len(pool) and (n_case > math.ceil(persons / 6) or n_talk > math.ceil(O / 6)):
        if n_case / max(persons, 1) >= n_talk / max(O, 1):
            n_case -= 1
        else:
            n_talk -= 1
    if n_case + n_talk > len(pool):
        raise CalibrationError(f"{unit}: {len(pool)} clues cannot carry {persons} persons and {O} org handlings")
    case, talk, rest = pool[:n_case], pool[n_case:n_case + n_talk], pool[n_case + n_talk:]
    chosen = set(eligible)
    rest += [c for c in clues if c not in chosen]
    ranks = {"county": 25, "township": 55, "other": 20} if level == "city" else {"county": 3, "township": 45, "other": 52}
    out: list[Row] = []
    serial = [0]

    def person() -> str:
        serial[0] += 1
        return "P-" + hashlib.blake2b(f"{tag}|{serial[0]}".encode(), digest_size=6).hexdigest().upper()

    def outcome(clue: Row, day: dt.date, typ: str, ref: str, rank: str) -> None:
        out.append(ledger.new("case_outcomes", clue.unit, day, clue_id=clue.key, person_ref=ref, outcome_type=typ,
                              person_rank=rank, decision_date=day, amount_recovered=None))

    def squeeze(clue: Row, offsets: list[int]) -> list[dt.date]:
        avail = (end - clue.created).days
        top = max(offsets)
        if top > avail:  # late in the term: the same steps, faster (never on the transfer day itself)
            offsets = [max(1, o * avail // top) for o in offsets]
        return [clue.created + D(days=o) for o in offsets]

    def days(lo: float, hi: float) -> int:
        return lag(rng, lo, hi, s).days

    per_clue = apportion(persons, [rng.random() + 0.3 for _ in case], minimum=1) if case else []
    p = 0
    for clue, n in zip(case, per_clue):
        clue.values["recipient"] = "discipline"
        disp = days(20, 100)
        plan = []  # (offset, type, person, rank)
        for _ in range(n):
            ref, rank = person(), weighted_choice(rng, ranks)
            det = disp + days(5, 30)
            if p < Dt:
                plan.append((det, "detention", ref, rank))
            if p < J:
                plan.append((det + days(40, 150), "judicial_transfer", ref, rank))
            if p < S:
                plan.append((disp + days(60, 300), "sanction", ref, rank))
            p += 1
        closed = max(o for o, *_ in plan) + days(5, 40)
        dates = squeeze(clue, [disp] + [o for o, *_ in plan] + [closed])
        clue.change(dates[0], disposal_method="case_filed")
        for day, (_, typ, ref, rank) in zip(dates[1:-1], plan):
            outcome(clue, day, typ, ref, rank)
        if (dates[-1] - clue.created).days == closed:
            clue.change(dates[-1], closed_date=dates[-1])
    per_talk = apportion(O, [rng.random() + 0.5 for _ in talk], minimum=1) if talk else []
    for clue, n in zip(talk, per_talk):
        if rng.random() < 0.3:
            clue.values["recipient"] = "organisation"
        disp = days(15, 80)
        offs = [disp + days(10, 90) for _ in range(n)]
        closed = max(offs) + days(5, 30)
        dates = squeeze(clue, [disp, *offs, closed])
        clue.change(dates[0], disposal_method=weighted_choice(rng, {"talk_letter": 70, "preliminary_check": 30}))
        for day in dates[1:-1]:
            outcome(clue, day, "org_handling", person(), weighted_choice(rng, ranks))
        if (dates[-1] - clue.created).days == closed:
            clue.change(dates[-1], closed_date=dates[-1])
    methods = {"shelved": 20, "closed_no_action": 35, "talk_letter": 25, "preliminary_check": 12, "case_filed": 8}
    for clue in rest:
        disp = clue.created + lag(rng, 20, 120, s)
        if disp > end:
            continue
        m = weighted_choice(rng, methods)
        clue.change(disp, disposal_method=m)
        if m == "closed_no_action":
            clue.change(disp, closed_date=disp)
        elif m in ("talk_letter", "preliminary_check"):
            closed = disp + lag(rng, 10, 60, s)
            if closed <= end:
                clue.change(closed, closed_date=closed)
    got = {k: sum(1 for r in out if r.values["outcome_type"] == k) for k in OUTCOME_TYPES}
    if got != target:
        raise CalibrationError(f"{unit}: outcomes {got} != target {target}")
    return out


def _amounts(profile: Profile, rng: random.Random, outcomes: list[Row]) -> None:
    s, end = profile.time_scale, profile.term_end
    carriers = [r for r in outcomes
                if (r.values["outcome_type"] == "sanction" and rng.random() < 0.55)
                or (r.values["outcome_type"] == "judicial_transfer" and rng.random() < 0.8)]
    mu = {"county": 12.6, "township": 11.4, "other": 10.6}
    weights = [rng.lognormvariate(mu[r.values["person_rank"]], 1.0) for r in carriers]
    cents = int(profile.targets.amount_recovered * 100)
    for row, c in zip(carriers, apportion(cents, weights, minimum=min(50_000, cents // max(1, len(carriers))))):
        amount = Decimal(c).scaleb(-2)
        later = row.created + lag(rng, 20, 120, s)
        if rng.random() < 0.6 and later <= end:
            row.change(later, amount_recovered=amount)  # recovered after the decision: an update
        else:
            row.values["amount_recovered"] = amount


def _rectifications(ledger: Ledger, profile: Profile, rng: random.Random, inspections: list[Inspection]) -> None:
    s, end = profile.time_scale, profile.term_end
    paths = {"done": 56, "done_late": 8, "basically_done": 16, "extended": 10, "stuck": 10}
    for insp in inspections:
        fb = insp.feedback
        if fb > end:
            continue
        due = add_months(fb, 2)  # rectification reports are due two months after feedback
        org = insp.org.row.values["org_name"]
        sources = [f for f in insp.findings if rng.random() < 0.92] + ([None] if rng.random() < 0.3 else [])
        for f in sources:
            base = dict(inspection_id=insp.row.key, finding_id=f.key if f else None, responsible_org=org, due_date=due)
            if rng.random() < 0.12:
                lo = f.values["found_date"] if f else insp.onsite_start
                done = lo + D(days=rng.randint(0, (fb - lo).days))
                ledger.new("rectifications", insp.unit, fb, status="on_the_spot", completed_date=done, **base)
                continue
            row = ledger.new("rectifications", insp.unit, fb, status="not_started", completed_date=None, **base)
            started = fb + lag(rng, 3, 20, s)
            row.change(started, status="in_progress")
            path = weighted_choice(rng, paths)
            if path == "done":
                c = max(started, min(due, fb + lag(rng, 20, 58, s)))
                row.change(c, status="done", completed_date=c)
            elif path == "done_late":
                c = due + lag(rng, 3, 60, s)
                row.change(c, status="done", completed_date=c)
            elif path == "basically_done":
                c = max(started, due - lag(rng, 0, 10, s))
                row.change(c, status="basically_done", completed_date=c)
            elif path == "extended":
                x = max(started, due) + lag(rng, 0, 3, s)
                row.change(x, status="extended")
                if rng.random() < 0.7:
                    c = due + lag(rng, 20, 90, s)
                    row.change(max(c, x), status="done", completed_date=max(c, x))


def _surveys(ledger: Ledger, profile: Profile, rng: random.Random, inspections: list[Inspection]) -> None:
    s, end = profile.time_scale, profile.term_end
    size = {"village": (20, 60), "community": (20, 60), "township": (40, 120)}
    respondents = satisfied = 0
    for insp in inspections:
        if insp.round.type == "revisit":
            continue
        day = insp.feedback + lag(rng, 65, 100, s)
        if day > end:
            continue
        lo, hi = size.get(insp.org.type, (30, 150))
        n = round(rng.randint(lo, hi) * (1.3 if insp.level == "city" else 1.0))
        sat = round(n * min(1.0, max(0.72, rng.gauss(0.935, 0.04))))
        basic = round((n - sat) * rng.uniform(0.4, 0.8))
        row = ledger.new("satisfaction_surveys", insp.unit, day, inspection_id=insp.row.key, survey_date=day,
                         respondents=n, satisfied=sat, basically_satisfied=basic, dissatisfied=n - sat - basic)
        if rng.random() < 0.01 and basic >= 1:  # a keying error corrected a few days later
            fix = day + lag(rng, 2, 10, s)
            if fix <= end:
                row.change(fix, satisfied=sat + 1, basically_satisfied=basic - 1)
                sat += 1
        respondents += n
        satisfied += sat
    if respondents and satisfied / respondents <= profile.targets.satisfaction_min:
        raise CalibrationError(f"satisfaction {satisfied / respondents:.3f} not above {profile.targets.satisfaction_min}")
