"""The public release of the income-position study (docs/income_positions.md, docs/release.md): what it may
show, the attacker model of its counts, the secondary suppression that keeps every hidden count hidden, and
the independent check of the written files.

What the public tier shows (the catalogue entries are in `disclosure.PUBLIC_TABLES`):

- `dim_income_position`, `dim_area`: the study design and the area classification (reference);
- `mart_migration_balance`: the rows of the area types and of the whole territory only (a municipality's or a
  named area's counts stay in the secure tier). `movers_in`, `movers_out` are controlled counts under the
  first study's rule (R = `disclosure_round_to`, T = `disclosure_suppress_below`: 0 shown as 0, 1..T-1
  suppressed, the rest rounded to R, halves up, never below R); `net_movers` is a controlled net, rounded to R
  with halves away from 0 (0 stands for -R/2+1..R/2-1) and never suppressed (it counts no group of persons),
  but withheld where it would give a hidden count away; `population` is the mean of the published yearly
  populations, `population_total` the published population statistic, the rates the published net over them;
- `mart_od_net`: the nets between area types (controlled nets; the one-way counts stay secure);
- `mart_position_population`: the area types and the territory; `population` a controlled count,
  `population_total` a published statistic (the sum of the municipalities' populations, public in
  `dim_municipality_year`);
- `mart_position_exclusions`: the excluded movers per year and reason (controlled counts).

No exact margin of a controlled count is published: every margin (a position's `all`, an area type's
territory, a span's years, the OD matrix's sums) is itself rounded. Still, the published values bound each
other: a reader who knows the relations below can narrow a hidden count, and with enough small counts pin it
(four suppressed positions under a suppressed `all` are each 1, as in the first study). The relations form
no network flow (the OD nets, the balance and the positions make a three-way table), so the attacker model
here is integer programming, exact and small: per family of counts one system of integer unknowns, with the
published interval of each published value as a constraint, and a hidden value is pinned when its minimum
and maximum over the system coincide (scipy's HiGHS MILP; a solve that does not finish counts as pinned).

- Flows: the unknowns are x[o, d, p, y] >= 0, the classified moves from area type o to another area type d of
  position p in study year y. A balance count of area type a, position p and span S is the sum of x over the
  other area types into (movers_in) or out of a (movers_out), the positions (p = all: every position) and the
  years of S; its net is in - out; an OD net of (a, b) is x[b, a] - x[a, b] over the same. The territory's
  counts are 0 and the OD diagonal nets 0 by definition: no unknown.
- Population: the unknowns are q[a, p, y] >= 0, the residents of area type a in position p on 1 January of y;
  a published population is q, its sum over the positions (all), or over the area types (the territory); the
  classified residents of an area type are at most its published total population.
- Exclusions: no published value relates them (the total of inter-municipal moves is not published), so a
  suppressed count stays 1..T-1 and nothing else is needed.

What the model does not cover: the first study's public dyads and margins also count these moves (all movers,
per period of two years, the excluded ones included): combined they give only upper bounds over thousands of
rounded counts; a reader who knows how `protect` chooses, or some counts from elsewhere; releases of
different builds read together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from mignet import db
from mignet.quality import disclosure as dc

ALL = "all"
# the area levels of mart_migration_balance and mart_position_population the public tier shows
PUBLIC_AREA_LEVELS = ("area_type", "territory")
TERRITORY = "territory"
BALANCE, OD, POPULATION, EXCLUSIONS = ("mart_migration_balance", "mart_od_net", "mart_position_population",
                                       "mart_position_exclusions")
DIMENSIONS = ("dim_income_position", "dim_area")
PUBLIC_MARTS = (BALANCE, OD, POPULATION, EXCLUSIONS)
SHOWN, SUPPRESSED, WITHHELD = dc.SHOWN, dc.SUPPRESSED, dc.WITHHELD
MILP_SECONDS = 20.0


class PositionDisclosureError(dc.DisclosureModelError):
    """The counts of the income-position study do not fit the attacker model (a relation broken)."""


# ---- the rule for nets -----------------------------------------------------------------------------------

def net_shown(nets: np.ndarray, rule: dc.DisclosureRule) -> np.ndarray:
    """The published value of nets: to the nearest multiple of R, halves away from 0."""
    nets = np.asarray(nets, dtype=np.int64)
    r, half = rule.round_to, rule.round_to // 2
    return np.sign(nets) * ((np.abs(nets) + half) // r * r)


def net_interval(shown: np.ndarray, rule: dc.DisclosureRule) -> tuple[np.ndarray, np.ndarray]:
    """The nets that `net_shown` publishes as `shown` (an empty interval, lo > hi, off the base)."""
    shown = np.asarray(shown, dtype=np.int64)
    r, half = rule.round_to, rule.round_to // 2
    below = r - half - 1  # the largest |net| shown as 0
    lo = np.where(shown > 0, shown - half, shown - below)
    hi = np.where(shown < 0, shown + half, shown + below)
    off = shown % r != 0
    return np.where(off, 1, lo), np.where(off, 0, hi)


def count_bounds(rule: dc.DisclosureRule, exact: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What a reader knows of controlled counts, from their state and (shown) rounded value."""
    exact = np.asarray(exact, dtype=np.int64)
    lo, hi = dc.bounds(rule, exact, state)
    return np.where(exact == 0, 0, lo), np.where(exact == 0, 0, hi)


def net_bounds(rule: dc.DisclosureRule, exact: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = net_interval(net_shown(exact, rule), rule)
    withheld = np.asarray(state) == WITHHELD
    return np.where(withheld, -dc.UNBOUNDED, lo), np.where(withheld, dc.UNBOUNDED, hi)


# ---- the published values as items of a linear system -------------------------------------------------------

@dataclass
class Items:
    """Published values of one family (flows or population): one row per value with its key columns, `kind`
    (count | net), `exact` (the certified value, a witness of the system), `state` (SHOWN, SUPPRESSED,
    WITHHELD), `group1..group3` (the keys of the widening groups secondary suppression withholds), and the
    matrix `A` of the value over the unknowns (`witness`: their certified values)."""

    frame: pd.DataFrame
    A: sparse.csr_matrix
    witness: np.ndarray
    extra_A: sparse.csr_matrix | None = None  # constraints extra_A @ x <= extra_hi (known to every reader)
    extra_hi: np.ndarray | None = None

    def bounds(self, rule: dc.DisclosureRule, state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        state = self.frame["state"].to_numpy() if state is None else state
        exact = self.frame["exact"].to_numpy(dtype=np.int64)
        is_net = self.frame["kind"].to_numpy() == "net"
        c_lo, c_hi = count_bounds(rule, exact, state)
        n_lo, n_hi = net_bounds(rule, exact, state)
        return np.where(is_net, n_lo, c_lo), np.where(is_net, n_hi, c_hi)


def _index(values) -> dict:
    return {v: i for i, v in enumerate(values)}


def flow_items(balance: pd.DataFrame, od: pd.DataFrame, rule: dc.DisclosureRule) -> Items:
    """The flow values of the public balance (area types) and OD nets as a linear system over x[o, d, p, y].
    `balance` and `od` hold the certified rows of the public levels (the territory's and the diagonal's are
    0 by definition and take no part)."""
    bal = balance[balance["area_level"] == "area_type"]
    types = sorted(set(bal["area_code"]) | set(od["area_type"]))
    positions = sorted(set(bal["position"]) - {ALL})
    years = sorted(set(bal.loc[bal["n_years"] == 1, "year_from"].astype(int)))
    p_at, y_at = _index(positions), _index(years)
    pairs = [(o, d) for o in types for d in types if o != d]
    pair_at = _index(pairs)
    n_vars = len(pairs) * len(positions) * len(years)

    def var(o, d, p, y) -> int:
        return (pair_at[(o, d)] * len(positions) + p_at[p]) * len(years) + y_at[y]

    witness = np.zeros(n_vars, dtype=np.int64)
    single = od[(od["n_years"] == 1) & (od["position"] != ALL) & (od["area_type"] != od["partner_area_type"])]
    for r in single.itertuples():
        # the row (a, b) counts the moves from b into a
        witness[var(r.partner_area_type, r.area_type, r.position, int(r.year_from))] = int(r.movers_from_partner)

    rows, cols, vals, records = [], [], [], []

    def add(record: dict, terms: list[tuple[int, int]]) -> None:
        i = len(records)
        records.append(record)
        for j, v in terms:
            rows.append(i), cols.append(j), vals.append(v)

    for r in bal.itertuples():
        span = [y for y in years if r.year_from <= y <= r.year_to]
        ps = positions if r.position == ALL else [r.position]
        a = r.area_code
        into = [(var(o, a, p, y), 1) for o in types if o != a for p in ps for y in span]
        out = [(var(a, d, p, y), 1) for d in types if d != a for p in ps for y in span]
        base = dict(table=BALANCE, area=a, partner=None, position=r.position, year_from=int(r.year_from),
                    year_to=int(r.year_to))
        add({**base, "measure": "movers_in", "kind": "count", "exact": int(r.movers_in)}, into)
        add({**base, "measure": "movers_out", "kind": "count", "exact": int(r.movers_out)}, out)
        add({**base, "measure": "net_movers", "kind": "net", "exact": int(r.net_movers)},
            into + [(j, -v) for j, v in out])
    for r in od[od["area_type"] != od["partner_area_type"]].itertuples():
        span = [y for y in years if r.year_from <= y <= r.year_to]
        ps = positions if r.position == ALL else [r.position]
        a, b = r.area_type, r.partner_area_type
        terms = [(var(b, a, p, y), 1) for p in ps for y in span] + [(var(a, b, p, y), -1) for p in ps for y in span]
        add(dict(table=OD, area=a, partner=b, position=r.position, year_from=int(r.year_from), year_to=int(r.year_to),
                 measure="net_movers", kind="net", exact=int(r.net_movers)), terms)
    frame = pd.DataFrame.from_records(records, columns=["table", "area", "partner", "position", "year_from",
                                                        "year_to", "measure", "kind", "exact"])
    A = sparse.csr_matrix((vals, (rows, cols)), shape=(len(records), n_vars), dtype=np.float64)
    frame = _initial_state(frame, rule)
    span_key = frame["year_from"].astype(str) + "-" + frame["year_to"].astype(str)
    frame["group1"] = frame["table"] + "|" + frame["measure"] + "|" + frame["area"] + "|" + \
        frame["partner"].fillna("") + "|" + span_key
    frame["group2"] = frame["area"] + "|" + span_key  # an OD net also joins its partner's group (below)
    frame["group3"] = span_key
    return Items(frame=frame, A=A, witness=witness)


def population_items(population: pd.DataFrame, rule: dc.DisclosureRule) -> Items:
    """The published populations (area types and the territory) as a linear system over q[a, p, y], with the
    published total population of each area type as an upper bound of its classified residents."""
    known = population[population["population"].notna()]
    at_type = known[known["area_level"] == "area_type"]
    types = sorted(set(at_type["area_code"]))
    positions = sorted(set(known["position"]) - {ALL})
    years = sorted(set(known["year"].astype(int)))
    t_at, p_at, y_at = _index(types), _index(positions), _index(years)
    n_vars = len(types) * len(positions) * len(years)

    def var(a, p, y) -> int:
        return (t_at[a] * len(positions) + p_at[p]) * len(years) + y_at[y]

    witness = np.zeros(n_vars, dtype=np.int64)
    for r in at_type[at_type["position"] != ALL].itertuples():
        witness[var(r.area_code, r.position, int(r.year))] = int(r.population)
    rows, cols, records = [], [], []
    for r in known.itertuples():
        ps = positions if r.position == ALL else [r.position]
        areas = types if r.area_level == TERRITORY else [r.area_code]
        i = len(records)
        records.append(dict(table=POPULATION, area=r.area_code, partner=None, position=r.position,
                            year_from=int(r.year), year_to=int(r.year), measure="population", kind="count",
                            exact=int(r.population)))
        for a in areas:
            for p in ps:
                rows.append(i), cols.append(var(a, p, int(r.year)))
    frame = pd.DataFrame.from_records(records, columns=["table", "area", "partner", "position", "year_from",
                                                        "year_to", "measure", "kind", "exact"])
    A = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(records), n_vars), dtype=np.float64)
    # the classified residents of an area type and year are at most its residents (published exactly)
    totals = at_type[at_type["position"] == ALL]
    extra_rows, extra_cols, extra_hi = [], [], []
    for k, r in enumerate(totals.itertuples()):
        for p in positions:
            extra_rows.append(k), extra_cols.append(var(r.area_code, p, int(r.year)))
        extra_hi.append(float(r.population_total))
    extra_A = sparse.csr_matrix((np.ones(len(extra_rows)), (extra_rows, extra_cols)), shape=(len(totals), n_vars))
    frame = _initial_state(frame, rule)
    year_key = frame["year_from"].astype(str)
    frame["group1"] = frame["area"] + "|" + year_key
    frame["group2"] = year_key
    frame["group3"] = year_key
    return Items(frame=frame, A=A, witness=witness, extra_A=extra_A, extra_hi=np.array(extra_hi))


def _initial_state(frame: pd.DataFrame, rule: dc.DisclosureRule) -> pd.DataFrame:
    exact = frame["exact"].to_numpy(dtype=np.int64)
    small = rule.is_small(exact) & (frame["kind"].to_numpy() == "count")
    return frame.assign(state=np.where(small, SUPPRESSED, SHOWN).astype(np.int8))


# ---- the attacker model ---------------------------------------------------------------------------------

def audit(items: Items, lo: np.ndarray, hi: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """True for each item whose value the published intervals [lo, hi] of all items (and the readers' known
    upper bounds) leave one integer value only, for the items where `hidden`. The witness must satisfy every
    interval (else PositionDisclosureError)."""
    A = items.A
    pinned = np.zeros(A.shape[0], dtype=bool)
    targets = np.flatnonzero(hidden)
    if not len(targets) or A.shape[1] == 0:
        return pinned
    values = A @ items.witness.astype(np.float64)
    if np.any(values < lo - 1e-9) or np.any(values > hi + 1e-9):
        bad = int(np.count_nonzero((values < lo - 1e-9) | (values > hi + 1e-9)))
        raise PositionDisclosureError(f"{bad} certified values lie outside what their published values say "
                                      "(a relation between the marts is broken)")
    inf = float(dc.UNBOUNDED)
    constraints = [LinearConstraint(A, np.where(lo <= -inf, -np.inf, lo), np.where(hi >= inf, np.inf, hi))]
    if items.extra_A is not None and items.extra_A.shape[0]:
        constraints.append(LinearConstraint(items.extra_A, -np.inf, items.extra_hi))
    integrality = np.ones(A.shape[1])
    options = {"time_limit": MILP_SECONDS, "presolve": True}
    for i in targets:
        c = A.getrow(i).toarray().ravel()
        exact = float(values[i])
        low = milp(c, constraints=constraints, integrality=integrality, bounds=Bounds(0, np.inf), options=options)
        if low.status == 2:
            raise PositionDisclosureError("the published values admit no counts at all")
        if low.status == 0 and low.fun < exact - 0.5:
            continue
        if low.status == 0:
            high = milp(-c, constraints=constraints, integrality=integrality, bounds=Bounds(0, np.inf),
                        options=options)
            if high.status == 3 or (high.status == 0 and -high.fun > exact + 0.5):
                continue
        pinned[i] = True  # one value only, or a solve that did not finish (counted as pinned)
    return pinned


@dataclass
class Protection:
    items: Items
    rounds: int
    upgraded: int
    seconds: float
    milps: int = 0

    @property
    def withheld(self) -> int:
        return int(np.count_nonzero(self.items.frame["state"] == WITHHELD))

    @property
    def suppressed(self) -> int:
        return int(np.count_nonzero(self.items.frame["state"] == SUPPRESSED))


def protect(items: Items, rule: dc.DisclosureRule, progress=None) -> Protection:
    """Secondary suppression: audit, and withhold until no hidden value is pinned. A pinned value takes the
    next step of its ladder that hides something new: (0) a suppressed count is withheld instead ("at least
    1"); (1) every value of its group1 (its measure of its area and span, all positions; a population: its
    area and year) is withheld; (2) every value of its group2 (its area and span, both OD directions; a
    population: its year); (3) every value of its group3 (its span or year); (4) every value. Withholding only
    widens what a reader knows, so a value once free stays free. A count of 0 stays 0: withheld means at least
    1, and a zero is no count of anyone."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    frame = items.frame
    state = frame["state"].to_numpy().copy()
    level = np.zeros(len(frame), dtype=np.int8)
    exact = frame["exact"].to_numpy(dtype=np.int64)
    is_count = frame["kind"].to_numpy() == "count"
    hideable = ~(is_count & (exact == 0))
    # an OD net belongs to the groups of both its area types
    partner_group = (frame["partner"].fillna("") + "|" + frame["year_from"].astype(str) + "-"
                     + frame["year_to"].astype(str)).to_numpy()
    groups = [frame["group1"].to_numpy(), frame["group2"].to_numpy(), frame["group3"].to_numpy()]
    upgraded = 0
    round_ = 0
    while True:
        round_ += 1
        before = state.copy()
        lo, hi = items.bounds(rule, state)
        pinned = audit(items, lo, hi, state != SHOWN)
        todo = np.flatnonzero(pinned & (state != SHOWN))
        if not len(todo):
            frame["state"] = state
            return Protection(items, round_, upgraded, time.perf_counter() - started)
        say(f"income positions: secondary suppression, round {round_}: {len(todo)} hidden values pinned")
        for i in todo:
            while True:
                step = level[i]
                level[i] += 1
                if step == 0:
                    if state[i] == SUPPRESSED:
                        state[i] = WITHHELD
                        upgraded += 1
                        break
                    continue
                if step <= 3:
                    key = groups[step - 1][i]
                    members = groups[step - 1] == key
                    if step == 2 and frame["table"].iat[i] in (BALANCE, OD):
                        members |= groups[1] == partner_group[i]
                        members |= partner_group == groups[1][i]
                else:
                    members = np.ones(len(state), dtype=bool)
                new = members & hideable & (state != WITHHELD)
                state[new] = WITHHELD
                if new.any() or step > 3:
                    break
        # each round withholds something new until every pinned value has climbed its whole ladder; a round
        # that changes nothing leaves a value pinned whatever is withheld
        if (state == before).all():
            raise PositionDisclosureError(
                f"secondary suppression of the income-position tables did not converge: after {round_} rounds "
                f"{len(todo)} hidden values are still pinned with every value that may be hidden withheld")


# ---- the public tables --------------------------------------------------------------------------------------

ITEM_KEYS = ["table", "measure", "area", "partner", "position", "year_from", "year_to"]


def _key_frame(frame: pd.DataFrame, table: str, measure: str, area: str, partner: str | None, position: str | None,
               year_from: str, year_to: str) -> pd.DataFrame:
    """The item keys of the rows of a mart frame, for one measure."""
    n = len(frame)
    return pd.DataFrame({
        "table": [table] * n, "measure": [measure] * n, "area": frame[area].astype(str).to_numpy(),
        "partner": frame[partner].astype(str).to_numpy() if partner else [""] * n,
        "position": frame[position].astype(str).to_numpy() if position else [""] * n,
        "year_from": frame[year_from].astype(int).to_numpy(), "year_to": frame[year_to].astype(int).to_numpy()})


def _normalised(keys: pd.DataFrame) -> pd.DataFrame:
    return keys.assign(partner=keys["partner"].fillna("").astype(str), position=keys["position"].fillna("").astype(str),
                       area=keys["area"].astype(str), year_from=keys["year_from"].astype(int),
                       year_to=keys["year_to"].astype(int))


def states_of(items: Items, keys: pd.DataFrame) -> np.ndarray:
    """The state of the item of each row of `keys` (ITEM_KEYS columns); PositionDisclosureError when one has
    none."""
    lookup = _normalised(items.frame[ITEM_KEYS + ["state"]])
    merged = _normalised(keys).merge(lookup, on=ITEM_KEYS, how="left", validate="many_to_one")
    if merged["state"].isna().any():
        first = merged[merged["state"].isna()].iloc[0]
        raise PositionDisclosureError(f"{first['table']}.{first['measure']}: a row without its disclosure state "
                                      f"({first['area']} {first['partner']} {first['position']})")
    return merged["state"].to_numpy().astype(np.int8)


def _publish_count(out: pd.DataFrame, column: str, state: np.ndarray, rule: dc.DisclosureRule) -> None:
    exact = out[column].to_numpy(dtype=np.int64)
    values = pd.array(np.where(exact == 0, 0, rule.rounded(exact)), dtype="Int64")
    values[state != SHOWN] = pd.NA
    out[column] = values
    out[column + "_suppressed"] = state == SUPPRESSED
    out[column + "_withheld"] = state == WITHHELD


def _publish_net(out: pd.DataFrame, column: str, state: np.ndarray, rule: dc.DisclosureRule) -> None:
    values = pd.array(net_shown(out[column].to_numpy(dtype=np.int64), rule), dtype="Int64")
    values[state == WITHHELD] = pd.NA
    out[column] = values
    out[column + "_withheld"] = state == WITHHELD


def exclusion_items(exclusions: pd.DataFrame, rule: dc.DisclosureRule) -> Items:
    """The excluded movers: controlled counts that no published value relates (primary suppression only)."""
    frame = _key_frame(exclusions, EXCLUSIONS, "movers", "exclusion", None, None, "move_year", "move_year")
    frame = frame.assign(kind="count", exact=exclusions["movers"].to_numpy(dtype=np.int64))
    return Items(frame=_initial_state(frame, rule), A=sparse.csr_matrix((len(frame), 0)),
                 witness=np.zeros(0, dtype=np.int64))


def published_tables(rows: dict[str, pd.DataFrame], flows: Items, people: Items, exclusions: Items,
                     rule: dc.DisclosureRule) -> dict[str, pd.DataFrame]:
    """The public form of the four marts: every controlled value as its state says, the derived columns from
    the published values only. The territory's flows and the OD diagonal are 0 by definition: shown as 0."""
    bal = rows[BALANCE].copy()
    inside = bal["area_level"] != TERRITORY
    for measure in ("movers_in", "movers_out", "net_movers"):
        state = np.full(len(bal), SHOWN, dtype=np.int8)
        state[inside.to_numpy()] = states_of(flows, _key_frame(bal[inside], BALANCE, measure, "area_code", None,
                                                                "position", "year_from", "year_to"))
        (_publish_net if measure == "net_movers" else _publish_count)(bal, measure, state, rule)
    od = rows[OD].copy()
    off = (od["area_type"] != od["partner_area_type"]).to_numpy()
    state = np.full(len(od), SHOWN, dtype=np.int8)
    state[off] = states_of(flows, _key_frame(od[off], OD, "net_movers", "area_type", "partner_area_type", "position",
                                             "year_from", "year_to"))
    _publish_net(od, "net_movers", state, rule)
    pop = rows[POPULATION].copy()
    known = pop["population"].notna().to_numpy()
    state = np.full(len(pop), SHOWN, dtype=np.int8)
    state[known] = states_of(people, _key_frame(pop[known], POPULATION, "population", "area_code", None, "position",
                                                "year", "year"))
    values = pop["population"].fillna(0)
    pop["population"] = values
    _publish_count(pop, "population", state, rule)
    pop.loc[~known, "population"] = pd.NA
    excl = rows[EXCLUSIONS].copy()
    _publish_count(excl, "movers", states_of(exclusions, _key_frame(excl, EXCLUSIONS, "movers", "exclusion", None, None,
                                                                     "move_year", "move_year")), rule)
    return {BALANCE: derived_balance(bal, pop), OD: od, POPULATION: pop, EXCLUSIONS: excl}


def derived_balance(balance: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """The balance's population columns and rates from published values: population the mean of the published
    yearly populations of the span and position (NULL when one is hidden or unknown), population_total the
    mean of the published totals, the rates the published net over them and the span's years."""
    keys = ["area_level", "area_code", "year_from", "year_to", "position"]
    pop = population[["area_level", "area_code", "year", "position", "population", "population_total"]]
    spans = balance[keys].drop_duplicates()
    joined = spans.merge(pop, on=["area_level", "area_code", "position"], how="inner")
    joined = joined[(joined["year"] >= joined["year_from"]) & (joined["year"] <= joined["year_to"])]
    agg = joined.assign(population=joined["population"].astype("Float64"),
                        population_total=joined["population_total"].astype("Float64")).groupby(keys).agg(
        n=("year", "size"), n_population=("population", "count"), population_mean=("population", "mean"),
        n_total=("population_total", "count"), total_mean=("population_total", "mean")).reset_index()
    agg["population"] = agg["population_mean"].where(agg["n_population"] == agg["n"]).astype(float)
    agg["population_total"] = agg["total_mean"].where(agg["n_total"] == agg["n"]).astype(float)
    out = balance.drop(columns=["population", "population_total", "net_rate_total", "net_rate_position"])
    out = out.merge(agg[keys + ["population", "population_total"]], on=keys, how="left")
    net = out["net_movers"].astype("Float64").astype(float)
    out["net_rate_total"] = net / out["population_total"].where(out["population_total"] != 0) / out["n_years"]
    out["net_rate_position"] = net / out["population"].where(out["population"] != 0) / out["n_years"]
    return out


@dataclass
class PositionPlan:
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)


def _frame(con, sql: str, params=None) -> pd.DataFrame:
    return con.sql(sql, params=params or None).to_arrow_table().to_pandas()


def certified_public_rows(con, relation=None) -> dict[str, pd.DataFrame]:
    """The certified rows of the public levels of the four marts (`relation(mart)`: where to read each, the
    warehouse's marts by default)."""
    relation = relation or (lambda mart: db.qualified("marts", mart))
    levels = ", ".join(db.sql_literal(level) for level in PUBLIC_AREA_LEVELS)
    return {
        BALANCE: _frame(con, f"select * from {relation(BALANCE)} where area_level in ({levels})"),
        OD: _frame(con, f"select * from {relation(OD)}"),
        POPULATION: _frame(con, f"select * from {relation(POPULATION)} where area_level in ({levels})"),
        EXCLUSIONS: _frame(con, f"select * from {relation(EXCLUSIONS)}"),
    }


def plan(con, rule: dc.DisclosureRule, progress=None) -> PositionPlan:
    """Decide the published form of the four marts from the certified rows (primary suppression by the rule,
    secondary suppression by `protect`) and register each as `mignet_public_<mart>` on `con` for the export."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    rows = certified_public_rows(con)
    flows = protect(flow_items(rows[BALANCE], rows[OD], rule), rule, progress=say)
    people = protect(population_items(rows[POPULATION], rule), rule, progress=say)
    excl = exclusion_items(rows[EXCLUSIONS], rule)
    tables = published_tables(rows, flows.items, people.items, excl, rule)
    for name, frame in tables.items():
        con.register(f"mignet_public_{name}", frame)
    summary = {
        "area_levels": list(PUBLIC_AREA_LEVELS),
        "flow_values": int(len(flows.items.frame)), "flow_suppressed": flows.suppressed,
        "flow_withheld": flows.withheld, "population_values": int(len(people.items.frame)),
        "population_suppressed": people.suppressed, "population_withheld": people.withheld,
        "exclusions_suppressed": int((excl.frame["state"] == SUPPRESSED).sum()),
        "suppressed_counts_withheld_instead": flows.upgraded + people.upgraded,
        "audits": flows.rounds + people.rounds, "seconds": round(time.perf_counter() - started, 2),
    }
    say(f"public: income positions: {summary['flow_suppressed'] + summary['population_suppressed']} counts "
        f"suppressed, {summary['flow_withheld'] + summary['population_withheld']} values withheld by secondary "
        f"suppression ({summary['audits']} audits, {summary['seconds']} s)")
    return PositionPlan(tables=tables, summary=summary)


def public_sql(mart: str, columns: list[str]) -> str:
    """The export query of a public mart of the study: the catalogue's columns of the planned table, each
    controlled value with its flags."""
    entry = dc.PUBLIC_TABLES[mart]
    chosen = []
    for column in columns:
        chosen.append(column)
        if entry.column_class(column) == dc.CONTROLLED:
            chosen += [column + "_suppressed", column + "_withheld"]
        elif entry.column_class(column) == dc.CONTROLLED_NET:
            chosen.append(column + "_withheld")
    order = {BALANCE: "area_level, area_code, year_from, year_to, position_order",
             OD: "area_type, partner_area_type, year_from, year_to, position_order",
             POPULATION: "area_level, area_code, year, position_order", EXCLUSIONS: "move_year, exclusion_order"}[mart]
    return f"select {', '.join(db.quote_ident(c) for c in dict.fromkeys(chosen))} from mignet_public_{mart} order by {order}"


# ---- the independent check of the written files ---------------------------------------------------------------

def _published_bounds(values: pd.Series, suppressed: pd.Series | None, withheld: pd.Series, kind: str,
                      rule: dc.DisclosureRule) -> tuple[np.ndarray, np.ndarray]:
    """What a reader of the files knows of each value: its interval from the published value and flags."""
    shown = values.fillna(0).to_numpy(dtype=np.int64)
    held = withheld.fillna(False).to_numpy(dtype=bool)
    if kind == "net":
        lo, hi = net_interval(shown, rule)
        return np.where(held, -dc.UNBOUNDED, lo), np.where(held, dc.UNBOUNDED, hi)
    lo, hi = rule.interval(shown)
    small = suppressed.fillna(False).to_numpy(dtype=bool)
    lo = np.where(small, 1, np.where(held, 1, lo))
    hi = np.where(small, rule.suppress_below - 1, np.where(held, dc.UNBOUNDED, hi))
    return lo, hi


def _file_frame(con, folder, table: str) -> pd.DataFrame:
    return _frame(con, f"select * from read_parquet({db.sql_path(folder / (table + '.parquet'))})")


def _keys_text(frame: pd.DataFrame, columns: list[str], mask: np.ndarray) -> list[str]:
    return [" ".join(str(v) for v in row) for row in frame.loc[mask, columns].head(5).itertuples(index=False)]


def check_release(con, folder, present: list[str], rule: dc.DisclosureRule, check) -> dict:
    """Check the study's public files in `folder` (`check.add(table, rule, count, examples)` records each
    violation); returns the summary for release.json. Reads the files with its own queries and the certified
    marts of the warehouse open on `con` (the truth the published values must contain, and the witness of the
    relations); what the attacker model pins depends on the published values alone."""
    from pathlib import Path

    folder = Path(folder)
    ours = [t for t in PUBLIC_MARTS if t in present]
    if not ours:
        return {}
    for table in PUBLIC_MARTS:
        if table not in present:
            check.add(table, "missing: the income-position tables are audited together (they bound each other)", 1)
    if len(ours) < len(PUBLIC_MARTS):
        return {}
    files = {t: _file_frame(con, folder, t) for t in PUBLIC_MARTS}
    certified = certified_public_rows(con)
    keys = {BALANCE: ["area_level", "area_code", "year_from", "year_to", "position"],
            OD: ["area_type", "partner_area_type", "year_from", "year_to", "position"],
            POPULATION: ["area_level", "area_code", "year", "position"], EXCLUSIONS: ["move_year", "exclusion"]}
    for table in (BALANCE, POPULATION):
        wrong = ~files[table]["area_level"].isin(PUBLIC_AREA_LEVELS).to_numpy()
        check.add(table, f"rows of area levels the public tier does not show (only {', '.join(PUBLIC_AREA_LEVELS)})",
                  int(wrong.sum()), _keys_text(files[table], keys[table], wrong))
    controlled = {BALANCE: [("movers_in", "count"), ("movers_out", "count"), ("net_movers", "net")],
                  OD: [("net_movers", "net")], POPULATION: [("population", "count")], EXCLUSIONS: [("movers", "count")]}
    merged = {}
    for table, measures in controlled.items():
        pub, cert = files[table], certified[table]
        check.add(table, f"rows: {len(pub):,} published, {len(cert):,} certified", int(len(pub) != len(cert)))
        both = pub.merge(cert, on=keys[table], how="outer", suffixes=("", "_certified"), indicator=True)
        lost = (both["_merge"] != "both").to_numpy()
        check.add(table, "rows only one of the release and the warehouse holds", int(lost.sum()),
                  _keys_text(both, keys[table], lost))
        both = both[~lost].reset_index(drop=True)
        merged[table] = both
        for column, kind in measures:
            value, held = both[column], both.get(column + "_withheld")
            small = both.get(column + "_suppressed")
            if held is None or (kind == "count" and small is None):
                check.add(table, f"{column}: a disclosure flag column is missing", 1)
                continue
            shown = value.notna().to_numpy()
            v = value.fillna(0).to_numpy(dtype=np.int64)
            held_b = held.fillna(False).to_numpy(dtype=bool)
            small_b = small.fillna(False).to_numpy(dtype=bool) if small is not None else np.zeros(len(both), bool)
            unknown = column == "population"
            known = both[column + "_certified"].notna().to_numpy() if unknown else np.ones(len(both), bool)
            problems = {
                f"{column}: shown values off the rounding base {rule.round_to}": shown & (v % rule.round_to != 0),
                f"{column}: NULL without a suppressed or withheld flag": ~shown & known & ~held_b & ~small_b,
                f"{column}: shown values flagged": shown & (held_b | small_b),
                f"{column}: flagged both suppressed and withheld": held_b & small_b,
            }
            if kind == "count":
                lo_rule, hi_rule = rule.interval(v)
                problems[f"{column}: shown counts from 1 to {rule.suppress_below - 1} or the rule never shows"] = \
                    shown & (v != 0) & (lo_rule > hi_rule)
                problems[f"{column}: negative counts"] = shown & (v < 0)
            for name, mask in problems.items():
                check.add(table, name, int(mask.sum()), _keys_text(both, keys[table], mask))
            lo, hi = _published_bounds(value, small, held, kind, rule)
            exact = both[column + "_certified"].fillna(0).to_numpy(dtype=np.int64)
            untrue = known & ((exact < lo) | (exact > hi))
            check.add(table, f"{column}: published values that do not contain the certified value", int(untrue.sum()),
                      _keys_text(both, keys[table], untrue))
        # what a published statistic says is what the warehouse says (the municipalities' populations, public)
        if "population_total" in both:
            off = (both["population_total"].astype("Float64") != both["population_total_certified"].astype("Float64")) \
                .fillna(True).to_numpy() & both["population_total_certified"].notna().to_numpy()
            if table == POPULATION:
                check.add(table, "population_total is not the published population of the area", int(off.sum()),
                          _keys_text(both, keys[table], off))
    # the balance's derived columns: recomputed from the published files
    expected = derived_balance(files[BALANCE].drop(columns=[]), files[POPULATION])
    got = files[BALANCE].merge(expected, on=keys[BALANCE], suffixes=("", "_expected"))
    for column in ("population", "population_total", "net_rate_total", "net_rate_position"):
        a, b = got[column].astype(float).to_numpy(), got[column + "_expected"].astype(float).to_numpy()
        wrong = (np.isnan(a) != np.isnan(b)) | (~np.isnan(a) & ~np.isnan(b) & (np.abs(a - b) > 1e-9 * np.maximum(1, np.abs(b))))
        check.add(BALANCE, f"{column} is not what the published values give", int(wrong.sum()),
                  _keys_text(got, keys[BALANCE], wrong))
    if check.violations:
        return {}
    summary = {}
    for family, items, parts in (("flows", flow_items(certified[BALANCE], certified[OD], rule),
                                  [(BALANCE, "movers_in", "count"), (BALANCE, "movers_out", "count"),
                                   (BALANCE, "net_movers", "net"), (OD, "net_movers", "net")]),
                                 ("population", population_items(certified[POPULATION], rule),
                                  [(POPULATION, "population", "count")])):
        lo = np.zeros(len(items.frame), dtype=np.int64)
        hi = np.zeros(len(items.frame), dtype=np.int64)
        hidden = np.zeros(len(items.frame), dtype=bool)
        item_keys = _normalised(items.frame[ITEM_KEYS]).reset_index().rename(columns={"index": "item"})
        for table, column, kind in parts:
            pub = merged[table]
            if table == BALANCE:
                pub = pub[pub["area_level"] != TERRITORY]
                k = _key_frame(pub, table, column, "area_code", None, "position", "year_from", "year_to")
            elif table == OD:
                pub = pub[pub["area_type"] != pub["partner_area_type"]]
                k = _key_frame(pub, table, column, "area_type", "partner_area_type", "position", "year_from", "year_to")
            else:
                pub = pub[pub[column + "_certified"].notna()]
                k = _key_frame(pub, table, column, "area_code", None, "position", "year", "year")
            at = _normalised(k).merge(item_keys, on=ITEM_KEYS, how="left")["item"]
            if at.isna().any():
                check.add(table, f"{column}: published values the attacker model has no place for", int(at.isna().sum()))
                return {}
            at = at.to_numpy(dtype=np.int64)
            l_, h_ = _published_bounds(pub[column], pub.get(column + "_suppressed"), pub[column + "_withheld"], kind, rule)
            lo[at], hi[at] = l_, h_
            hidden[at] = pub[column].isna().to_numpy()
        try:
            pinned = audit(items, lo, hi, hidden)
        except PositionDisclosureError as exc:
            check.add(family, f"the published values do not fit the attacker model: {exc}", 1)
            return {}
        bad = pinned & hidden
        frame = items.frame
        check.add(frame["table"].iat[0] if len(frame) else family,
                  f"suppressed or withheld {family} values that the published values pin to one value", int(bad.sum()),
                  [" ".join(str(v) for v in row) for row in frame.loc[bad, ["measure", "area", "partner", "position",
                                                                            "year_from", "year_to"]].head(5).itertuples(index=False)])
        summary[family] = {"values": int(len(frame)), "hidden": int(hidden.sum()), "hidden_pinned": int(bad.sum())}
    excl = merged[EXCLUSIONS]
    summary["exclusions"] = {"values": int(len(excl)), "suppressed": int(excl["movers_suppressed"].fillna(False).sum())}
    return summary
