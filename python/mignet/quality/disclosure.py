"""What the public release may show: the disclosure rule, the catalogue of public tables and columns, the
attacker model of the flow counts, and the secondary suppression that keeps every hidden count hidden.

The rule (dbt vars `disclosure_round_to` = R and `disclosure_suppress_below` = T, as the build recorded them):

- a count of 0 is shown as 0;
- a count from 1 to T-1 is *suppressed*: NULL with `<column>_suppressed = true`; a reader knows it is 1..T-1;
- any other count x is shown rounded: max(R * floor((x + floor(R/2)) / R), R), i.e. to the nearest multiple of
  R with halves up, and never below R; a shown value r stands for every count that rounds to r
  (`DisclosureRule.interval`);
- a count may also be *withheld* by secondary suppression: NULL with `<column>_withheld = true`; a reader knows
  only that it is at least 1 (it may be small or large).

The flow counts are linked: within a period and destination, a group's `movers_in` is the sum over origins of
its dyads' `n_moves`, `movers_in_all_groups` is the all-movers group's `movers_in`, and each family of groups
(the age bands; the income groups) holds disjoint subsets of all movers, so per dyad (and per destination) the
family's counts sum to at most the all-movers count (movers outside the bands, or without an income group,
count in `all` only). A reader who combines the published values with these relations may learn more than
each value says. `audit` states exactly what the published values allow: the relations of one period and
destination form a circulation in a network with lower and upper bounds on its arcs (below), so the set of
integer values a hidden count can take is an integer interval, and `fixed_arcs` decides exactly which counts
they pin to one value. `protect` withholds counts until no hidden count is pinned; the independent check of a
written release (`mignet.quality.release_check`) applies the same attacker model to the files themselves.

The network of one period and destination d (A, B: the first and second family of groups):

    t --M_all--> s --M_a--> a --x[a,o]--> o --x[all,o]--> o' --x[b,o]--> b --M_b--> t
                 s --slack_A[o] (movers of o outside family A, 0..inf)--> o
                                             o' --slack_B[o] (outside family B, 0..inf)--> t

Flow conservation at s, a, o, o', b and t is exactly: every margin is the sum of its column, and per dyad
the family's counts plus the movers outside it are the all-movers count. Assumptions of the model (the
attacker knows them; the check verifies them on the exact counts): no relation links different periods or
destinations (no origin margins are published), and there are at most two families of groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import breadth_first_order, connected_components

from mignet import db

# The group every period has: all movers (int_networks); the other group types are the families.
ALL_GROUP = "all"
# An upper bound that stands for "no upper bound" (a withheld count, the movers outside a family).
UNBOUNDED = np.int64(1) << np.int64(60)

# ---- the rule -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureRule:
    """The disclosure rule of a build: counts rounded to `round_to`, non-zero counts below `suppress_below`
    suppressed; `min_moves` (the build's tie threshold) decides which ties the published counts determine."""

    round_to: int
    suppress_below: int
    min_moves: int = 1

    def __post_init__(self):
        if self.round_to < 1:
            raise ValueError(f"disclosure_round_to must be >= 1, got {self.round_to}")
        if self.suppress_below < 0:
            raise ValueError(f"disclosure_suppress_below must be >= 0, got {self.suppress_below}")
        if self.min_moves < 1:
            raise ValueError(f"min_moves must be >= 1, got {self.min_moves}")

    @classmethod
    def of(cls, build) -> "DisclosureRule":
        """The rule the build recorded (`BuildSettings`)."""
        return cls(round_to=build.disclosure_round_to, suppress_below=build.disclosure_suppress_below,
                   min_moves=build.min_moves)

    @property
    def smallest_shown(self) -> int:
        """The smallest non-zero count that is shown (rounded)."""
        return max(self.suppress_below, 1)

    @property
    def suppressed_interval(self) -> tuple[int, int]:
        return 1, self.suppress_below - 1

    def as_dict(self) -> dict:
        return {"round_to": self.round_to, "suppress_below": self.suppress_below, "min_moves": self.min_moves,
                "suppressed_means": f"a count from 1 to {self.suppress_below - 1}" if self.suppress_below > 1
                else "nothing is suppressed", "withheld_means": "a count of at least 1",
                "rounding": f"to the nearest multiple of {self.round_to}, halves up, never below {self.round_to}"}

    # -- forward: what is shown ---------------------------------------------------------------------------
    def is_small(self, counts: np.ndarray) -> np.ndarray:
        counts = np.asarray(counts)
        return (counts >= 1) & (counts < self.suppress_below)

    def rounded(self, counts: np.ndarray) -> np.ndarray:
        """The shown value of counts that are neither 0 nor small."""
        counts = np.asarray(counts, dtype=np.int64)
        r = self.round_to
        return np.maximum((counts + r // 2) // r * r, r)

    def sql_value(self, count: str, withheld: str) -> str:
        """SQL of the shown value of the count column `count` (NULL when hidden); `withheld` is a boolean SQL
        expression, true for the counts secondary suppression withholds. Integer arithmetic throughout."""
        r, t = db.sql_literal(self.round_to), db.sql_literal(self.suppress_below)
        return (f"case when {withheld} then null when {count} = 0 then 0 when {count} < {t} then null "
                f"else greatest(({count} + {db.sql_literal(self.round_to // 2)}) // {r} * {r}, {r}) end")

    def sql_suppressed(self, count: str, withheld: str) -> str:
        return (f"(not {withheld} and {count} between 1 and {db.sql_literal(self.suppress_below - 1)})")

    # -- backward: what a shown value says ----------------------------------------------------------------
    def interval(self, shown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The smallest and largest count that the rule shows as `shown` (0 -> [0, 0]). A value the rule never
        shows (not a multiple of round_to, or below the smallest shown value) gives an empty interval
        (lo > hi)."""
        shown = np.asarray(shown, dtype=np.int64)
        r, half = self.round_to, self.round_to // 2
        lo = np.maximum(shown - half, self.smallest_shown)
        lo = np.where(shown == r, self.smallest_shown, lo)
        hi = shown + (r - half - 1)
        off_base = (shown % r != 0) | (shown < 0) | ((shown > 0) & (shown < r))
        lo = np.where(shown == 0, 0, lo)
        hi = np.where(shown == 0, 0, hi)
        return np.where(off_base, 1, lo), np.where(off_base, 0, hi)

    def tie_of_interval(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The tie (count >= min_moves) that an interval of counts determines: 1 true, 0 false, -1 unknown."""
        return np.where(lo >= self.min_moves, 1, np.where(hi < self.min_moves, 0, -1))

    def sql_tie(self, value: str, suppressed: str, withheld: str) -> str:
        """SQL of the tie a published count determines (NULL when it does not): derived from the published
        value and flags only, so it tells nothing the count does not."""
        lit = db.sql_literal
        m, r, half = lit(self.min_moves), lit(self.round_to), lit(self.round_to // 2)

        def verdict(lo: str, hi: str) -> str:
            return f"case when {lo} >= {m} then true when {hi} < {m} then false end"

        shown_lo = (f"(case when {value} = {r} then {lit(self.smallest_shown)} "
                    f"else greatest({value} - {half}, {lit(self.smallest_shown)}) end)")
        shown_hi = f"({value} + {lit(self.round_to - self.round_to // 2 - 1)})"
        return (f"case when {withheld} then {verdict(lit(1), lit(int(UNBOUNDED)))} "
                f"when {suppressed} then {verdict(lit(1), lit(self.suppress_below - 1))} "
                f"when {value} = 0 then {verdict(lit(0), lit(0))} "
                f"else {verdict(shown_lo, shown_hi)} end")


# ---- the catalogue ---------------------------------------------------------------------------------------

# Disclosure classes of columns.
KEY = "key"                        # identifies the row: codes and labels of periods, groups, municipalities
REFERENCE = "reference"            # public reference data: names, areas, centroids, distances, the study design
STATISTIC = "published_statistic"  # registers statistics published as such (population on 1 January, densities)
CONTROLLED = "controlled_count"    # a count under the disclosure rule (rounded, suppressed, withheld)
CONTROLLED_NET = "controlled_net"  # a net of counts, rounded to the rule's base (halves away from 0), or withheld
DERIVED = "derived"                # computed from published values only (shares, ties, the all-movers margin)
FLAG = "disclosure_flag"           # <count>_suppressed, <count>_withheld
MODEL_RESULT = "model_result"      # estimates and fit statistics of whole networks


@dataclass(frozen=True)
class PublicTable:
    """A table of the public release: where it comes from, its disclosure class, and the class of each
    column. A column of the source that is not listed is not published (and the release says so)."""

    name: str
    source_schema: str
    disclosure_class: str
    description: str
    columns: dict[str, str] = field(default_factory=dict)  # empty: every column, as `MODEL_RESULT`

    def column_class(self, column: str) -> str | None:
        if not self.columns:
            return MODEL_RESULT
        return self.columns.get(column)


_DYAD_KEYS = {"network_id": KEY, "period_label": KEY, "group_type": KEY, "group_value": KEY,
              "origin_nis": KEY, "destination_nis": KEY}

PUBLIC_TABLES: dict[str, PublicTable] = {t.name: t for t in (
    PublicTable("dim_municipality", "marts", "reference",
                "municipalities of the target vintage: codes, names, hierarchy, area, centroid (public reference data)",
                {"nis_code": KEY, "name_nl": REFERENCE, "name_fr": REFERENCE, "arrondissement_nis": REFERENCE,
                 "province_nis": REFERENCE, "region_nis": REFERENCE, "region_name": REFERENCE, "area_km2": REFERENCE,
                 "centroid_x": REFERENCE, "centroid_y": REFERENCE, "n_predecessor_codes": REFERENCE,
                 "vintage": REFERENCE}),
    PublicTable("dim_municipality_year", "marts", "published_statistics",
                "population on 1 January per municipality: the registers statistics Statbel publishes per "
                "municipality (not controlled: they are published as exact counts), and densities from them",
                {"nis_code": KEY, "year": KEY, "population": STATISTIC, "area_km2": REFERENCE,
                 "density_per_km2": STATISTIC}),
    PublicTable("dim_network", "marts", "reference", "the study's networks (periods x groups of movers)",
                {"network_id": KEY, "period_label": KEY, "period_start": REFERENCE, "period_end": REFERENCE,
                 "density_year": REFERENCE, "group_type": KEY, "group_value": KEY, "group_order": REFERENCE}),
    PublicTable("mart_network_dyads", "marts", "controlled_counts",
                "moves per network and ordered pair of municipalities under the disclosure rule",
                {**_DYAD_KEYS, "n_moves": CONTROLLED, "n_moves_suppressed": FLAG, "n_moves_withheld": FLAG,
                 "tie": DERIVED, "reverse_tie": DERIVED, "density_diff_per_1000": STATISTIC,
                 "distance_km": REFERENCE, "distance_10km": REFERENCE}),
    PublicTable("mart_destination_shares", "marts", "controlled_counts",
                "movers into each destination per period and group, under the disclosure rule, and shares of "
                "the published counts",
                {"period_label": KEY, "group_type": KEY, "group_value": KEY, "destination_nis": KEY,
                 "movers_in": CONTROLLED, "movers_in_suppressed": FLAG, "movers_in_withheld": FLAG,
                 "movers_in_all_groups": DERIVED, "movers_in_all_groups_suppressed": DERIVED,
                 "movers_in_all_groups_withheld": DERIVED, "share": DERIVED}),
    PublicTable("model_estimates", "results", "model_results",
                "ERGM estimates per network: aggregates of whole networks, fitted on the ties (n_moves >= min_moves)"),
    PublicTable("model_gof", "results", "model_results",
                "goodness of fit per network: statistics of whole networks against simulated ones"),
    # A network's exact total of moves (n_moves) is a margin the attacker model above does not know: with
    # disclosure_round_to = 1 it would pin a withheld destination margin, so it stays in the secure tier.
    PublicTable("count_estimates", "results", "model_results",
                "count (gravity) model estimates per network: coefficients of whole networks",
                {c: (KEY if c in ("network_id", "period_label", "group_type", "group_value") else MODEL_RESULT)
                 for c in ("network_id", "period_label", "group_type", "group_value", "model", "family",
                           "fixed_effects", "term", "estimate", "std_error", "z", "p_value", "stars", "ci_low",
                           "ci_high", "std_error_cr1", "std_error_model", "vcov", "rate_ratio", "dispersion",
                           "n_obs", "n_dropped", "n_clusters", "n_fixed_effects", "loglik", "converged",
                           "iterations", "engine", "certification_id", "fitted_at")}),
    PublicTable("period_change_tests", "results", "model_results",
                "Wald tests of change between periods per group: functions of the estimates of whole networks"),
    # the income-position study (mignet.quality.position_disclosure: the area types and the territory only, its
    # own attacker model of the relations between these tables)
    PublicTable("dim_income_position", "marts", "reference", "the income positions of the income-position study",
                {c: (KEY if c == "position" else REFERENCE) for c in (
                    "position", "position_order", "classification", "min_ratio_pct", "max_ratio_pct",
                    "is_student_position", "description")}),
    PublicTable("dim_area", "marts", "reference",
                "the areas of the income-position study: municipalities, named areas, area types, the territory",
                {c: (KEY if c in ("area_level", "area_code") else REFERENCE) for c in (
                    "area_level", "area_code", "area_name", "area_type", "parent_level", "parent_code", "level_order",
                    "n_municipalities", "is_unclassified")}),
    PublicTable("mart_migration_balance", "marts", "controlled_counts",
                "movers in, out and net per area type (and the territory), span and income position under the "
                "disclosure rule; the populations and rates from the published values",
                {**{c: KEY for c in ("area_level", "area_code", "year_from", "year_to", "position")},
                 "n_years": REFERENCE, "position_order": REFERENCE,
                 "movers_in": CONTROLLED, "movers_in_suppressed": FLAG, "movers_in_withheld": FLAG,
                 "movers_out": CONTROLLED, "movers_out_suppressed": FLAG, "movers_out_withheld": FLAG,
                 "net_movers": CONTROLLED_NET, "net_movers_withheld": FLAG, "population": DERIVED,
                 "population_total": STATISTIC, "net_rate_total": DERIVED, "net_rate_position": DERIVED}),
    PublicTable("mart_od_net", "marts", "controlled_counts",
                "net movers between area types per span and income position, rounded (the one-way counts stay secure)",
                {**{c: KEY for c in ("area_type", "partner_area_type", "year_from", "year_to", "position")},
                 "n_years": REFERENCE, "position_order": REFERENCE, "net_movers": CONTROLLED_NET,
                 "net_movers_withheld": FLAG}),
    PublicTable("mart_position_population", "marts", "controlled_counts",
                "residents per area type (and the territory), 1 January and income position under the disclosure "
                "rule, and every resident (the published population statistic)",
                {**{c: KEY for c in ("area_level", "area_code", "year", "position")}, "position_order": REFERENCE,
                 "population": CONTROLLED, "population_suppressed": FLAG, "population_withheld": FLAG,
                 "population_total": STATISTIC}),
    PublicTable("mart_position_exclusions", "marts", "controlled_counts",
                "movers the income-position study excludes, per year and reason, under the disclosure rule",
                {"move_year": KEY, "exclusion": KEY, "exclusion_order": REFERENCE, "movers": CONTROLLED,
                 "movers_suppressed": FLAG, "movers_withheld": FLAG}),
)}

# Marts published to the secure tier only, and why (a mart in neither list is secure-only too, and named).
SECURE_ONLY: dict[str, str] = {
    "fct_moves": "person-level: one row per move with person_id, move date, age, sex, country of birth and income",
    "fct_incomes": "person-level: one row per person and year with the exact disposable income",
}


# ---- the attacker model: which values of a circulation are pinned -----------------------------------------


def fixed_arcs(n_nodes: int, tail: np.ndarray, head: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               flow: np.ndarray, seed: int = 20240611) -> np.ndarray:
    """True for each arc whose flow is the same in every feasible integer circulation.

    `flow` must be a feasible integer circulation (conservation at every node, lo <= flow <= hi). In the
    residual graph of `flow` (u->v while flow < hi, v->u while flow > lo), the flow on an arc can change iff a
    cycle passes through one of its residual arcs without the other. An arc with one residual arc can change
    iff its ends are in the same strongly connected component; an arc with both can change iff it is not a
    bridge of the undirected multigraph of the residual arcs inside its component (a bridge is the only link
    between two parts, so no cycle can use it once). The network matrix is totally unimodular, so what holds
    for real-valued circulations holds for integer ones, and the values an arc can take form an integer
    interval. Exact; the bridges are found with random 64-bit labels of cycles, which can only err towards
    calling an arc pinned (with probability 2**-64 per arc)."""
    tail, head = np.asarray(tail, dtype=np.int64), np.asarray(head, dtype=np.int64)
    lo, hi, flow = (np.asarray(a, dtype=np.int64) for a in (lo, hi, flow))
    m = len(tail)
    if m == 0:
        return np.zeros(0, dtype=bool)
    if np.any(flow < lo) or np.any(flow > hi):
        raise ValueError("the witness circulation breaks a bound")
    balance = np.bincount(head, weights=flow.astype(np.float64), minlength=n_nodes) - \
        np.bincount(tail, weights=flow.astype(np.float64), minlength=n_nodes)
    if np.any(balance != 0):
        raise ValueError(f"the witness is not a circulation: {int(np.count_nonzero(balance))} nodes out of balance")
    up, down = flow < hi, flow > lo
    rows = np.concatenate([tail[up], head[down]])
    cols = np.concatenate([head[up], tail[down]])
    residual = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_nodes, n_nodes))
    _, component = connected_components(residual, directed=True, connection="strong")
    same = component[tail] == component[head]
    fixed = ~(up | down)
    one_way = up ^ down
    fixed[one_way] = ~same[one_way]
    inside = (up | down) & same
    both = up & down
    if both.any():
        bridge = np.zeros(m, dtype=bool)
        bridge[inside] = _bridges(n_nodes, tail[inside], head[inside], seed)
        fixed[both] = bridge[both]
    return fixed


def _bridges(n_nodes: int, a: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    """Bridges of the undirected multigraph with edges a[k]-b[k]: a spanning forest by breadth-first search,
    a random 64-bit label per non-tree edge xor-ed onto both its ends; a tree edge is a bridge iff the xor
    over the subtree below it is 0 (no non-tree edge leaves that subtree)."""
    m = len(a)
    root = n_nodes  # a virtual root joined to one node of each connected part, so one search covers all
    graph = sparse.csr_matrix((np.ones(m, dtype=np.float32), (a, b)), shape=(n_nodes, n_nodes))
    _, part = connected_components(graph, directed=False)
    first = np.unique(part, return_index=True)[1]
    rows = np.concatenate([a, first])
    cols = np.concatenate([b, np.full(len(first), root)])
    forest = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_nodes + 1, n_nodes + 1))
    order, parent = breadth_first_order(forest, root, directed=False, return_predecessors=True)
    depth = np.full(n_nodes + 1, -1, dtype=np.int64)
    depth[root] = 0
    pending = order[1:]
    while pending.size:  # one pass per level of the search; the forest is shallow
        ready = depth[parent[pending]] >= 0
        depth[pending[ready]] = depth[parent[pending[ready]]] + 1
        pending = pending[~ready]
    # the tree edge of each node below a part's root: one of the (possibly parallel) edges to its parent
    span = np.int64(n_nodes + 1)
    edge_key = np.minimum(a, b) * span + np.maximum(a, b)
    by_key = np.argsort(edge_key, kind="stable")
    children = order[depth[order] >= 2]
    child_key = np.minimum(children, parent[children]) * span + np.maximum(children, parent[children])
    tree_edge = by_key[np.searchsorted(edge_key[by_key], child_key)]
    is_tree = np.zeros(m, dtype=bool)
    is_tree[tree_edge] = True
    child_of_edge = np.full(m, -1, dtype=np.int64)
    child_of_edge[tree_edge] = children
    label = np.random.default_rng(seed).integers(1, np.iinfo(np.uint64).max, size=m, dtype=np.uint64, endpoint=True)
    label[is_tree] = 0
    acc = np.zeros(n_nodes + 1, dtype=np.uint64)
    np.bitwise_xor.at(acc, a, label)
    np.bitwise_xor.at(acc, b, label)
    levels = depth[children]
    by_level = children[np.argsort(-levels, kind="stable")]
    bounds = np.flatnonzero(np.diff(-np.sort(-levels))) + 1
    for nodes in np.split(by_level, bounds):  # deepest level first: a subtree is complete before its parent
        np.bitwise_xor.at(acc, parent[nodes], acc[nodes])
    bridge = np.zeros(m, dtype=bool)
    bridge[is_tree] = acc[child_of_edge[is_tree]] == 0
    return bridge


# ---- the flow counts of a release as a circulation ---------------------------------------------------------


@dataclass(frozen=True)
class NetworkDesign:
    """The networks (dim_network) as the attacker model needs them: per network_id its period, its family
    (0: all movers; 1, 2: the group types) and its group within the family."""

    network_id: np.ndarray
    period: np.ndarray
    family: np.ndarray
    group: np.ndarray
    families: tuple[str, ...]  # group types of families 1 and 2
    groups: tuple[tuple[str, ...], ...]  # group values per family 1, 2
    labels: dict = field(default_factory=dict, repr=False)  # network_id -> (period, group_type, group_value)

    @classmethod
    def from_rows(cls, rows) -> "NetworkDesign":
        """From (network_id, period_label, group_type, group_value) rows."""
        rows = sorted(rows)
        periods: list[str] = []
        families: list[str] = []
        groups: dict[str, list[str]] = {}
        out = {"network_id": [], "period": [], "family": [], "group": []}
        for network_id, period, group_type, group_value in rows:
            if period not in periods:
                periods.append(period)
            if group_type == ALL_GROUP:
                family, group = 0, 0
            else:
                if group_type not in families:
                    families.append(group_type)
                family = families.index(group_type) + 1
                values = groups.setdefault(group_type, [])
                if group_value not in values:
                    values.append(group_value)
                group = values.index(group_value)
            for key, value in (("network_id", network_id), ("period", periods.index(period)),
                               ("family", family), ("group", group)):
                out[key].append(value)
        if len(families) > 2:
            raise DisclosureModelError(
                f"the networks have {len(families)} families of groups ({', '.join(families)}); the attacker model "
                "is exact for at most two (a third makes the relations no longer a network flow)")
        design = cls(network_id=np.array(out["network_id"], dtype=np.int64), period=np.array(out["period"]),
                     family=np.array(out["family"]), group=np.array(out["group"]), families=tuple(families),
                     groups=tuple(tuple(groups[f]) for f in families),
                     labels={r[0]: tuple(r[1:]) for r in rows})
        missing = set(range(len(periods))) - set(design.period[design.family == 0].tolist())
        if missing:
            raise DisclosureModelError(f"periods {sorted(periods[i] for i in missing)} have no all-movers network")
        return design

    def index(self, network_id: np.ndarray) -> np.ndarray:
        """Position in the design of each network id."""
        network_id = np.asarray(network_id, dtype=np.int64)
        if not len(network_id):
            return np.zeros(0, dtype=np.int64)
        if network_id.min() < 0 or network_id.max() > self.network_id.max():
            raise DisclosureModelError("a count belongs to a network that dim_network does not list")
        at = _lookup(self.network_id, int(self.network_id.max()) + 1)[network_id]
        if np.any(at < 0):
            raise DisclosureModelError("a count belongs to a network that dim_network does not list")
        return at


def _lookup(keys: np.ndarray, size: int) -> np.ndarray:
    """An array mapping each of `keys` (distinct integers in 0..size-1) to its position, and the rest to -1."""
    table = np.full(size, -1, dtype=np.int64)
    table[keys] = np.arange(len(keys))
    return table


class DisclosureModelError(ValueError):
    """The counts do not fit the attacker model (inconsistent sums, unknown networks, too many families)."""


@dataclass
class FlowCounts:
    """Non-zero counts of a release, as the attacker model sees them. Cells: network_id, origin and destination
    (integer codes), lo..hi (what the published value says) and the exact count (a witness: any feasible
    values would do, the exact ones are at hand). Margins: network_id, destination, lo, hi, exact."""

    cell_network: np.ndarray
    cell_origin: np.ndarray
    cell_destination: np.ndarray
    cell_lo: np.ndarray
    cell_hi: np.ndarray
    cell_exact: np.ndarray
    margin_network: np.ndarray
    margin_destination: np.ndarray
    margin_lo: np.ndarray
    margin_hi: np.ndarray
    margin_exact: np.ndarray


def audit(design: NetworkDesign, counts: FlowCounts) -> tuple[np.ndarray, np.ndarray]:
    """(cell pinned, margin pinned): True where the published values and the relations between them leave the
    count one value only. Raises DisclosureModelError when the exact counts break a relation of the model."""
    cn = design.index(counts.cell_network)
    mn = design.index(counts.margin_network)
    n_dest = int(max(counts.cell_destination.max(initial=-1), counts.margin_destination.max(initial=-1))) + 1
    n_orig = int(counts.cell_origin.max(initial=-1)) + 1
    n_a = len(design.groups[0]) if design.families else 0
    n_b = len(design.groups[1]) if len(design.families) > 1 else 0
    hubs = 2 + n_a + n_b
    cell_comp_key = design.period[cn].astype(np.int64) * n_dest + counts.cell_destination
    margin_comp_key = design.period[mn].astype(np.int64) * n_dest + counts.margin_destination
    # the keys are small dense integers (period x destination; component x origin): numbered by direct lookup
    comp_keys, margin_comp = np.unique(margin_comp_key, return_inverse=True)
    comp_of_key = _lookup(comp_keys, int(design.period.max(initial=0) + 1) * n_dest)
    cell_comp = comp_of_key[cell_comp_key]
    if np.any(cell_comp < 0):
        raise DisclosureModelError("a non-zero dyad count lies in a destination whose movers_in is 0")
    cell_family, cell_group = design.family[cn], design.group[cn]
    margin_family, margin_group = design.family[mn], design.group[mn]

    def hub(comp, family, group):
        offset = np.where(family == 1, 2 + group, np.where(family == 2, 2 + n_a + group, 0))
        return comp * hubs + offset

    s_of = lambda comp: comp * hubs  # noqa: E731
    t_of = lambda comp: comp * hubs + 1  # noqa: E731
    # gadgets: one per (component, origin) with a non-zero all-movers dyad
    is_all = cell_family == 0
    gadget_key = cell_comp.astype(np.int64) * n_orig + counts.cell_origin
    gadget_keys = np.unique(gadget_key[is_all])
    if len(gadget_keys) != int(is_all.sum()):
        raise DisclosureModelError("two all-movers counts for one dyad")
    cell_gadget = _lookup(gadget_keys, len(comp_keys) * n_orig)[gadget_key]
    bad = cell_gadget < 0
    if bad.any():
        raise DisclosureModelError(f"{int(bad.sum())} group counts are non-zero where the all-movers count is 0")
    base = len(comp_keys) * hubs
    node_o = base + 2 * cell_gadget
    gadget_comp = gadget_keys // n_orig
    n_gadgets = len(gadget_keys)
    n_nodes = base + 2 * n_gadgets
    # family sums per gadget give the slack arcs (movers of the dyad outside the family)
    exact_all = np.zeros(n_gadgets, dtype=np.int64)
    exact_all[cell_gadget[is_all]] = counts.cell_exact[is_all]
    slack = []
    for family in (1, 2):
        inside = cell_family == family
        total = np.bincount(cell_gadget[inside], weights=counts.cell_exact[inside], minlength=n_gadgets).astype(np.int64)
        if np.any(total > exact_all):
            raise DisclosureModelError(f"the {design.families[family - 1]} counts of {int(np.count_nonzero(total > exact_all))} "
                                       "dyads sum to more than their all-movers count")
        slack.append(exact_all - total)
    g_o = base + 2 * np.arange(n_gadgets)
    tails, heads, los, his, flows = [], [], [], [], []

    def add(t, h, lo_, hi_, f):
        tails.append(np.asarray(t, dtype=np.int64)), heads.append(np.asarray(h, dtype=np.int64))
        los.append(np.asarray(lo_, dtype=np.int64)), his.append(np.asarray(hi_, dtype=np.int64))
        flows.append(np.asarray(f, dtype=np.int64))

    # margins: all movers t -> s, family A s -> a, family B b -> t
    add(np.where(margin_family == 0, t_of(margin_comp), np.where(margin_family == 1, s_of(margin_comp),
                                                                    hub(margin_comp, margin_family, margin_group))),
        np.where(margin_family == 0, s_of(margin_comp), np.where(margin_family == 1,
                                                                  hub(margin_comp, margin_family, margin_group),
                                                                  t_of(margin_comp))),
        counts.margin_lo, counts.margin_hi, counts.margin_exact)
    # cells: all movers o -> o', family A a -> o, family B o' -> b
    add(np.where(cell_family == 0, node_o, np.where(cell_family == 1, hub(cell_comp, cell_family, cell_group), node_o + 1)),
        np.where(cell_family == 0, node_o + 1, np.where(cell_family == 1, node_o, hub(cell_comp, cell_family, cell_group))),
        counts.cell_lo, counts.cell_hi, counts.cell_exact)
    zeros, unbounded = np.zeros(n_gadgets, dtype=np.int64), np.full(n_gadgets, UNBOUNDED)
    add(s_of(gadget_comp), g_o, zeros, unbounded, slack[0])
    add(g_o + 1, t_of(gadget_comp), zeros, unbounded, slack[1])
    tail, head = np.concatenate(tails), np.concatenate(heads)
    lo, hi, flow = np.concatenate(los), np.concatenate(his), np.concatenate(flows)
    if np.any(flow < lo) or np.any(flow > hi):
        raise DisclosureModelError(f"{int(np.count_nonzero((flow < lo) | (flow > hi)))} exact counts lie outside "
                                   "what their published values say")
    try:
        fixed = fixed_arcs(n_nodes, tail, head, lo, hi, flow)
    except ValueError as exc:
        raise DisclosureModelError(
            f"the exact counts break a relation of the model ({exc}): a margin is not the sum of its column") from None
    n_margins = len(counts.margin_lo)
    return fixed[n_margins:n_margins + len(counts.cell_lo)], fixed[:n_margins]


# ---- secondary suppression -------------------------------------------------------------------------------

SHOWN, SUPPRESSED, WITHHELD = 0, 1, 2


@dataclass
class Protection:
    """Which non-zero counts are suppressed and which withheld; `rounds` audits were run, the last one found
    no hidden count pinned."""

    cell_state: np.ndarray
    margin_state: np.ndarray
    rounds: int
    upgraded: int  # suppressed counts withheld instead (a reader then knows only "at least 1")

    @property
    def cells_withheld(self) -> int:
        return int(np.count_nonzero(self.cell_state == WITHHELD))

    @property
    def margins_withheld(self) -> int:
        return int(np.count_nonzero(self.margin_state == WITHHELD))


def bounds(rule: DisclosureRule, exact: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What a reader knows of each count, from its state and (when shown) its rounded value."""
    lo, hi = rule.interval(rule.rounded(exact))
    small_lo, small_hi = rule.suppressed_interval
    lo = np.where(state == SUPPRESSED, small_lo, np.where(state == WITHHELD, 1, lo))
    hi = np.where(state == SUPPRESSED, small_hi, np.where(state == WITHHELD, UNBOUNDED, hi))
    return lo, hi


def protect(design: NetworkDesign, cell_network, cell_origin, cell_destination, cell_exact,
            margin_network, margin_destination, margin_exact, rule: DisclosureRule, progress=None) -> Protection:
    """Primary suppression by the rule, then secondary suppression until no hidden count is pinned.

    Each round audits the periods and destinations that still have a pinned count. Every pinned count then
    takes the next step of its ladder that hides something new: a dyad count (0) is withheld instead of
    suppressed (a reader then knows "at least 1", not "1..T-1"), (1) the margin of its column is withheld,
    (2) every count of its dyad (all groups) is withheld, (3) every count of its period and destination is
    withheld; a margin (0) is withheld instead of suppressed, (1) every margin of its period and destination
    is withheld, (3) every count of them. Withholding only widens what a reader knows, so a count once free
    stays free, and step 3 frees every count of its destination: at most five audits are needed."""
    say = progress or (lambda message: None)
    cell_network = np.asarray(cell_network, dtype=np.int64)
    cell_origin = np.asarray(cell_origin, dtype=np.int64)
    cell_destination = np.asarray(cell_destination, dtype=np.int64)
    margin_network = np.asarray(margin_network, dtype=np.int64)
    margin_destination = np.asarray(margin_destination, dtype=np.int64)
    cell_exact = np.asarray(cell_exact, dtype=np.int64)
    margin_exact = np.asarray(margin_exact, dtype=np.int64)
    cell_state = np.where(rule.is_small(cell_exact), SUPPRESSED, SHOWN).astype(np.int8)
    margin_state = np.where(rule.is_small(margin_exact), SUPPRESSED, SHOWN).astype(np.int8)
    cn, mn = design.index(cell_network), design.index(margin_network)
    n_dest = int(max(np.max(cell_destination, initial=-1), np.max(margin_destination, initial=-1))) + 1
    n_orig = int(np.max(cell_origin, initial=-1)) + 1
    cell_comp = design.period[cn].astype(np.int64) * n_dest + cell_destination
    margin_comp = design.period[mn].astype(np.int64) * n_dest + margin_destination
    margin_column = margin_network * n_dest + margin_destination
    by_column = np.argsort(margin_column, kind="stable")
    cell_margin = by_column[np.minimum(np.searchsorted(margin_column[by_column], cell_network * n_dest + cell_destination),
                                       len(by_column) - 1)] if len(by_column) else np.zeros(0, dtype=np.int64)
    if len(cell_exact) and np.any(margin_column[cell_margin] != cell_network * n_dest + cell_destination):
        raise DisclosureModelError("a non-zero dyad count lies in a column whose movers_in is 0")
    cell_dyad = cell_comp * n_orig + cell_origin
    cell_level = np.zeros(len(cell_exact), dtype=np.int8)
    margin_level = np.zeros(len(margin_exact), dtype=np.int8)
    upgraded = 0
    active = np.unique(margin_comp)
    for round_ in range(1, 7):
        in_cells, in_margins = np.isin(cell_comp, active), np.isin(margin_comp, active)
        c_lo, c_hi = bounds(rule, cell_exact[in_cells], cell_state[in_cells])
        m_lo, m_hi = bounds(rule, margin_exact[in_margins], margin_state[in_margins])
        pinned_cells, pinned_margins = audit(design, FlowCounts(
            cell_network[in_cells], cell_origin[in_cells], cell_destination[in_cells], c_lo, c_hi, cell_exact[in_cells],
            margin_network[in_margins], margin_destination[in_margins], m_lo, m_hi, margin_exact[in_margins]))
        cells = np.flatnonzero(in_cells)[pinned_cells & (cell_state[in_cells] != SHOWN)]
        margins = np.flatnonzero(in_margins)[pinned_margins & (margin_state[in_margins] != SHOWN)]
        if not len(cells) and not len(margins):
            return Protection(cell_state, margin_state, round_, upgraded)
        say(f"secondary suppression, round {round_}: {len(cells)} dyad counts and {len(margins)} margins pinned")
        if round_ == 6:
            break
        c_level, m_level = cell_level[cells], margin_level[margins]
        c_done, m_done = np.zeros(len(cells), dtype=bool), np.zeros(len(margins), dtype=bool)
        for level in range(4):
            ci = np.flatnonzero((c_level == level) & ~c_done)
            mi = np.flatnonzero((m_level == level) & ~m_done)
            c_now, m_now = cells[ci], margins[mi]
            if level == 0:
                c_new = cell_state[c_now] == SUPPRESSED
                m_new = margin_state[m_now] == SUPPRESSED
                cell_state[c_now[c_new]] = WITHHELD
                margin_state[m_now[m_new]] = WITHHELD
                upgraded += int(c_new.sum() + m_new.sum())
            elif level == 1:
                column_margin = cell_margin[c_now]
                c_new = margin_state[column_margin] != WITHHELD
                margin_state[column_margin] = WITHHELD
                targets = np.isin(margin_comp, margin_comp[m_now]) & (margin_state != WITHHELD)
                m_new = np.isin(margin_comp[m_now], margin_comp[targets])
                margin_state[targets] = WITHHELD
            elif level == 2:
                targets = np.isin(cell_dyad, cell_dyad[c_now]) & (cell_state != WITHHELD)
                c_new = np.isin(cell_dyad[c_now], cell_dyad[targets])
                cell_state[targets] = WITHHELD
                m_new = np.zeros(len(m_now), dtype=bool)  # a margin has no dyad: on to step 3
            else:
                comps = np.union1d(cell_comp[c_now], margin_comp[m_now])
                cell_state[np.isin(cell_comp, comps)] = WITHHELD
                margin_state[np.isin(margin_comp, comps)] = WITHHELD
                c_new, m_new = np.ones(len(c_now), dtype=bool), np.ones(len(m_now), dtype=bool)
            c_level[ci], m_level[mi] = level + 1, level + 1
            c_done[ci] |= c_new
            m_done[mi] |= m_new
        cell_level[cells], margin_level[margins] = c_level, m_level
        active = np.union1d(cell_comp[cells], margin_comp[margins])
    raise DisclosureModelError("secondary suppression did not converge: counts stay pinned with every count of "
                               "their destination withheld (the attacker model is broken)")
