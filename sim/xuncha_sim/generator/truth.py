"""What a correct platform ends up with: the exports replayed into a final state, and the figures of it.

`replay` applies exports in generated_at order the way the spec says: per key the row with the newest
updated_at wins; a `full` file withdraws the rows of its entity, of the same system, that it no longer
holds. `headline` computes the seed's term headline from a final state, per county and for the city.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal

from xuncha.spec import ENTITY_ORDER, load_spec

HEADLINE = ("rounds", "orgs_inspected", "findings", "clues_transferred", "sanctions", "org_handling", "detentions",
            "judicial_transfers", "amount_recovered")
OUTCOME_FIELD = {"sanction": "sanctions", "org_handling": "org_handling", "detention": "detentions",
                 "judicial_transfer": "judicial_transfers"}

# An export for replay: (county_code, mode, generated_at, export_id, {entity: rows}); rows end with updated_at.
Export = tuple[str, str, str, str, dict[str, list]]


class State:
    def __init__(self):
        self.rows: dict[str, dict[str, list]] = {e: {} for e in ENTITY_ORDER}  # key -> [row, last code, first code]

    def count(self) -> dict[str, int]:
        return {e: len(v) for e, v in self.rows.items()}


def replay(exports: Iterable[Export], lineage_head: Callable[[str], str]) -> State:
    spec = load_spec()
    kidx = {e: spec.entity(e).column_names.index(spec.entity(e).key) for e in ENTITY_ORDER}
    state = State()
    for code, mode, gen, _eid, tables in sorted(exports, key=lambda x: (x[2], x[3])):
        for entity, rows in tables.items():
            st, k = state.rows[entity], kidx[entity]
            for r in rows:
                cur = st.get(r[k])
                if cur is None:
                    st[r[k]] = [r, code, code]
                elif cur[0][-1] < r[-1]:
                    cur[0], cur[1] = r, code
            if mode == "full":
                keep = {r[k] for r in rows}
                head = lineage_head(code)
                for key in [key for key, v in st.items() if key not in keep and lineage_head(v[1]) == head
                            and v[0][-1] <= gen]:
                    del st[key]
    return state


def _ix(entity: str) -> dict[str, int]:
    return {c: i for i, c in enumerate(load_spec().entity(entity).column_names)}


def headline(state: State, group: Callable[[str, str], str]) -> dict[str, dict]:
    """Headline per group (group(last_code, first_code) -> county code) plus "total" for the whole city."""
    out: dict[str, dict] = defaultdict(lambda: {k: 0 for k in HEADLINE} | {"orgs_inspected": set(), "amount_recovered": Decimal(0)})
    total = out["total"]

    def add(g: str, field: str, n=1) -> None:
        out[g][field] += n
        total[field] += n

    for row, last, first in state.rows["rounds"].values():
        add(group(last, first), "rounds")
    ii = _ix("inspections")
    for row, last, first in state.rows["inspections"].values():
        g = group(last, first)
        out[g]["orgs_inspected"].add(row[ii["org_id"]])
        total["orgs_inspected"].add(row[ii["org_id"]])
    for row, last, first in state.rows["findings"].values():
        add(group(last, first), "findings")
    for row, last, first in state.rows["clues"].values():
        add(group(last, first), "clues_transferred")
    io = _ix("case_outcomes")
    for row, last, first in state.rows["case_outcomes"].values():
        g = group(last, first)
        add(g, OUTCOME_FIELD[row[io["outcome_type"]]])
        amount = row[io["amount_recovered"]]
        if amount is not None:
            add(g, "amount_recovered", Decimal(amount))
    result = {}
    for g in sorted(out, key=lambda g: (g == "total", g)):
        v = dict(out[g])
        v["orgs_inspected"] = len(v["orgs_inspected"])
        v["amount_recovered"] = f"{v['amount_recovered']:.2f}"
        result[g] = v
    return result


def calibration(state: State, city: str, lineage_head: Callable[[str], str], deadline: dt.date) -> dict:
    """The seed's other claims, from a final state: county rounds, satisfaction, village coverage."""
    rounds_by = defaultdict(int)
    for row, last, _ in state.rows["rounds"].values():
        rounds_by[lineage_head(last)] += 1
    counties = [c for c in rounds_by if c != city]
    si = _ix("satisfaction_surveys")
    resp = sum(r[si["respondents"]] for r, *_ in state.rows["satisfaction_surveys"].values())
    sat = sum(r[si["satisfied"]] for r, *_ in state.rows["satisfaction_surveys"].values())
    ri, ii, oi = _ix("rounds"), _ix("inspections"), _ix("org_units")
    rtype = {k: r[ri["round_type"]] for k, (r, *_) in state.rows["rounds"].items()}
    covered = {r[ii["org_id"]] for r, *_ in state.rows["inspections"].values()
               if rtype.get(r[ii["round_id"]]) != "revisit" and r[ii["onsite_start"]] <= deadline}
    villages = [k for k, (r, *_) in state.rows["org_units"].items()
                if r[oi["org_type"]] in ("village", "community") and r[oi["in_scope_from"]] <= deadline]
    missing = sorted(k for k in villages if k not in covered)
    return {
        "county_rounds": {"total": sum(rounds_by[c] for c in counties), "counties": len(counties),
                          "average": round(sum(rounds_by[c] for c in counties) / max(1, len(counties)), 3)},
        "satisfaction": {"respondents": resp, "satisfied": sat, "rate": round(sat / resp, 6) if resp else None},
        "village_community_coverage": {"deadline": deadline.isoformat(), "in_scope": len(villages),
                                       "covered": len(villages) - len(missing), "not_covered": missing[:20]},
    }
