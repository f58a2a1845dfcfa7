"""The independent check of a public release: it reads the Parquet files as written and fails publication when
anything in them breaks the disclosure rule.

It does not trust the export. Everything is read back from the files, with this module's own queries:

- the files: only tables of the public catalogue (`disclosure.PUBLIC_TABLES`) and `release_info`; no column
  that identifies or describes a person (`PERSON_LEVEL_COLUMNS`, whatever the catalogue says); no column the
  catalogue does not list;
- every controlled count: no count from 1 to T-1 shown, every shown count a multiple of R, every NULL
  flagged (suppressed or withheld, not both), no flag on a shown count;
- every derived column recomputed from the published values: `share` from the published counts,
  `movers_in_all_groups` (and its flags) equal to the published all-movers `movers_in`, `tie` and
  `reverse_tie` what the published counts determine (NULL where they do not);
- every published value tells the truth: the certified count of the warehouse lies in the interval the
  value stands for (a suppressed count is 1..T-1, a withheld one at least 1, a shown one what rounds to it);
- no hidden count can be recovered: the attacker model (`disclosure.audit`) combines the published dyads,
  margins and group relations and the check fails for every suppressed or withheld count they pin to one
  value. The exact counts serve only as a feasible point of those relations; what is pinned depends on
  the published values alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from mignet import db
from mignet.quality import disclosure as dc
from mignet.quality import position_disclosure

# Columns that identify or describe a person; never in the public tier, whatever the catalogue says.
PERSON_LEVEL_COLUMNS = frozenset({
    "person_id", "move_id", "birth_date", "date_of_birth", "birth_year", "death_date", "move_date", "sex",
    "country_of_birth", "nationality", "age_at_move", "age", "disposable_income", "disposable_income_raw",
    "income_imputed", "income_year", "address", "address_x", "address_y", "source_row",
    "source_key", "origin_nis_raw", "destination_nis_raw",
})
RELEASE_INFO = "release_info"
SHOWN, SUPPRESSED, WITHHELD = dc.SHOWN, dc.SUPPRESSED, dc.WITHHELD
MAX_EXAMPLES = 5


@dataclass
class Violation:
    table: str
    rule: str
    count: int
    examples: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.table}: {self.rule} ({self.count:,})"
        if self.examples:
            text += ", e.g. " + "; ".join(self.examples)
        return text


@dataclass
class ReleaseCheck:
    """The verdict on one written release; `summary` goes into its release.json."""

    folder: Path
    rule: dc.DisclosureRule
    violations: list[Violation] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, table: str, rule: str, count: int, examples=()) -> None:
        if count:
            self.violations.append(Violation(table, rule, int(count), list(examples)[:MAX_EXAMPLES]))


def _file(folder: Path, table: str) -> str:
    return f"read_parquet({db.sql_path(folder / (table + '.parquet'))})"


def _examples(con, relation: str, keys: list[str], predicate: str) -> list[str]:
    rows = con.execute(f"select {', '.join(keys)} from {relation} where {predicate} limit {MAX_EXAMPLES}").fetchall()
    return [" ".join(str(v) for v in row) for row in rows]


def check_public_release(folder: Path, con, rule: dc.DisclosureRule) -> ReleaseCheck:
    """Check the public release written in `folder`; `con` is a read-only connection to the warehouse whose
    certified marts it was exported from (for the certified counts)."""
    folder = Path(folder)
    check = ReleaseCheck(folder=folder, rule=rule)
    present = _check_files(folder, check)
    columns = {table: [c for c, *_ in con.execute(f"describe select * from {_file(folder, table)}").fetchall()]
               for table in present}
    _check_columns(columns, check)
    if "mart_network_dyads" in present:
        _check_counts(con, folder, "mart_network_dyads", "n_moves",
                      ["network_id", "origin_nis", "destination_nis"], rule, check)
        _check_ties(con, folder, columns["mart_network_dyads"], rule, check)
    if "mart_destination_shares" in present:
        keys = ["period_label", "group_type", "group_value", "destination_nis"]
        _check_counts(con, folder, "mart_destination_shares", "movers_in", keys, rule, check)
        _check_counts(con, folder, "mart_destination_shares", "movers_in_all_groups", keys, rule, check)
        _check_shares(con, folder, check)
    if "mart_network_dyads" in present and "dim_network" in present:
        _check_differencing(con, folder, "mart_destination_shares" in present, rule, check)
    elif "mart_network_dyads" in present:
        check.add("dim_network", "missing: the flow counts cannot be audited without the networks they belong to", 1)
    elif "mart_destination_shares" in present:
        check.add("mart_destination_shares", "published without mart_network_dyads: its margins cannot be audited "
                  "without the dyads they sum", 1)
    # the income-position study: its rows, its rule for nets, and its own attacker model (position_disclosure)
    positions = position_disclosure.check_release(con, folder, present, rule, check)
    if positions:
        check.summary["income_positions"] = positions
    return check


# ---- files and columns -------------------------------------------------------------------------------------

def _check_files(folder: Path, check: ReleaseCheck) -> list[str]:
    present = []
    for path in sorted(folder.iterdir()):
        if path.name == "release.json":
            continue
        if path.suffix != ".parquet" or not path.is_file():
            check.add(path.name, "not a table of the public catalogue", 1)
            continue
        table = path.stem
        if table not in dc.PUBLIC_TABLES and table != RELEASE_INFO:
            why = dc.SECURE_ONLY.get(table, "not in the public catalogue")
            check.add(table, f"not public ({why})", 1)
            continue
        present.append(table)
    return present


def _check_columns(columns: dict[str, list[str]], check: ReleaseCheck) -> None:
    for table, names in columns.items():
        person = [c for c in names if c.lower() in PERSON_LEVEL_COLUMNS]
        check.add(table, "person-level columns", len(person), person)
        if table == RELEASE_INFO:
            continue
        entry = dc.PUBLIC_TABLES[table]
        unknown = [c for c in names if entry.column_class(c) is None and c.lower() not in PERSON_LEVEL_COLUMNS]
        check.add(table, "columns the public catalogue does not list", len(unknown), unknown)


# ---- controlled counts and derived columns ------------------------------------------------------------------

def _check_counts(con, folder: Path, table: str, count: str, keys: list[str], rule: dc.DisclosureRule,
                  check: ReleaseCheck) -> None:
    relation = _file(folder, table)
    c = db.quote_ident(count)
    s, w = db.quote_ident(count + "_suppressed"), db.quote_ident(count + "_withheld")
    r, t = rule.round_to, rule.suppress_below
    lit = db.sql_literal
    predicates = {
        f"shown counts from 1 to {t - 1} (must be suppressed)": f"{c} between 1 and {lit(t - 1)}",
        f"shown counts off the rounding base {r}": f"{c} <> 0 and ({c} % {lit(r)} <> 0 or {c} < {lit(r)})",
        "negative counts": f"{c} < 0",
        "NULL counts without a suppressed or withheld flag": f"{c} is null and not coalesce({s}, false) "
                                                            f"and not coalesce({w}, false)",
        "shown counts flagged suppressed or withheld": f"{c} is not null and (coalesce({s}, false) or coalesce({w}, false))",
        "counts flagged both suppressed and withheld": f"coalesce({s}, false) and coalesce({w}, false)",
        "NULL disclosure flags": f"{s} is null or {w} is null",
    }
    for name in (count + "_suppressed", count + "_withheld"):
        if name not in [n for n, *_ in con.execute(f"describe select * from {relation}").fetchall()]:
            check.add(table, f"no column {name}", 1)
            return
    counted = con.execute("select " + ", ".join(f"count(*) filter (where {p})" for p in predicates.values())
                          + f" from {relation}").fetchall()[0]
    for (name, predicate), n in zip(predicates.items(), counted):
        if n:
            check.add(table, f"{count}: {name}", n, _examples(con, relation, keys, predicate))
    # a shown value the rule never produces (e.g. 10 when counts under 20 are suppressed)
    values = np.array([v for (v,) in con.execute(f"select distinct {c} from {relation} where {c} > 0").fetchall()],
                      dtype=np.int64)
    lo, hi = rule.interval(values)
    impossible = values[lo > hi]
    check.add(table, f"{count}: values the rule never shows", len(impossible), [str(v) for v in impossible])


def _interval_sql(value: str, suppressed: str, withheld: str, rule: dc.DisclosureRule) -> tuple[str, str]:
    """(lo, hi) of the counts a published value and its flags stand for, as SQL (the check's own reading of
    the rule: what a reader of the release knows)."""
    lit = db.sql_literal
    r, half, smallest = lit(rule.round_to), lit(rule.round_to // 2), lit(rule.smallest_shown)
    lo = (f"case when {withheld} then 1 when {suppressed} then 1 when {value} = 0 then 0 "
          f"when {value} = {r} then {smallest} else greatest({value} - {half}, {smallest}) end")
    hi = (f"case when {withheld} then {lit(int(dc.UNBOUNDED))} when {suppressed} then {lit(rule.suppress_below - 1)} "
          f"when {value} = 0 then 0 else {value} + {lit(rule.round_to - rule.round_to // 2 - 1)} end")
    return lo, hi


def _check_ties(con, folder: Path, columns: list[str], rule: dc.DisclosureRule, check: ReleaseCheck) -> None:
    relation = _file(folder, "mart_network_dyads")
    lo, hi = _interval_sql("n_moves", "n_moves_suppressed", "n_moves_withheld", rule)
    m = db.sql_literal(rule.min_moves)
    expected = f"case when ({lo}) >= {m} then true when ({hi}) < {m} then false end"
    if "tie" in columns:
        predicate = f"tie is distinct from ({expected})"
        n = con.execute(f"select count(*) from {relation} where {predicate}").fetchall()[0][0]
        check.add("mart_network_dyads", "tie says more than the published n_moves", n,
                  _examples(con, relation, ["network_id", "origin_nis", "destination_nis"], predicate))
    if "reverse_tie" in columns:
        # every pair is listed both ways, so reverse_tie is right iff the set of (network, d, o, reverse_tie)
        # is the set of (network, o, d, tie); compared by an order-free hash of each set in one scan
        forward = f"hash(network_id, origin_nis, destination_nis, ({expected}))"
        backward = "hash(network_id, destination_nis, origin_nis, reverse_tie)"
        a, b, c, d = con.execute(
            f"select bit_xor({forward}), sum({forward}::hugeint) % 18446744073709551616, bit_xor({backward}), "
            f"sum({backward}::hugeint) % 18446744073709551616 from {relation}").fetchall()[0]
        check.add("mart_network_dyads", "reverse_tie is not what the published n_moves of the reverse pair "
                  "determines", int((a, b) != (c, d)))


def _check_shares(con, folder: Path, check: ReleaseCheck) -> None:
    relation = _file(folder, "mart_destination_shares")
    keys = ["s.period_label", "s.group_type", "s.group_value", "s.destination_nis"]
    joined = (f"{relation} s left join (select period_label, destination_nis, movers_in as a_in, "
              f"movers_in_suppressed as a_s, movers_in_withheld as a_w from {relation} where group_type = "
              f"{db.sql_literal(dc.ALL_GROUP)}) a using (period_label, destination_nis)")
    predicate = ("a_in is distinct from s.movers_in_all_groups or a_s is distinct from s.movers_in_all_groups_suppressed "
                 "or a_w is distinct from s.movers_in_all_groups_withheld")
    n = con.execute(f"select count(*) from {joined} where {predicate}").fetchall()[0][0]
    check.add("mart_destination_shares", "movers_in_all_groups is not the published movers_in of all movers", n,
              _examples(con, joined, keys, predicate))
    expected = ("case when s.movers_in is not null and s.movers_in_all_groups > 0 "
                "then s.movers_in::double / s.movers_in_all_groups end")
    predicate = (f"(s.share is null) <> (({expected}) is null) or abs(s.share - ({expected})) > 1e-12")
    n = con.execute(f"select count(*) from {joined} where {predicate}").fetchall()[0][0]
    check.add("mart_destination_shares", "share is not the ratio of the published counts", n,
              _examples(con, joined, keys, predicate))


# ---- differencing --------------------------------------------------------------------------------------------

def _check_differencing(con, folder: Path, with_margins: bool, rule: dc.DisclosureRule, check: ReleaseCheck) -> None:
    """Published values against the certified counts, then the attacker model over all the relations."""
    networks = con.execute(f"select network_id, period_label, group_type, group_value from {_file(folder, 'dim_network')}").fetchall()
    try:
        design = dc.NetworkDesign.from_rows(networks)
    except dc.DisclosureModelError as exc:
        check.add("dim_network", str(exc), 1)
        return
    dyads = _file(folder, "mart_network_dyads")
    lo, hi = _interval_sql("p.n_moves", "p.n_moves_suppressed", "p.n_moves_withheld", rule)
    n_published, n_exact = con.execute(
        f"select (select count(*) from {dyads}), (select count(*) from marts.mart_network_dyads)").fetchall()[0]
    check.add("mart_network_dyads", f"rows: {n_published:,} published, {n_exact:,} certified", int(n_published != n_exact))
    # only non-zero counts take part; a count published as 0 must be 0, which the outer join shows
    con.execute(f"""
        create or replace temp table mignet_check_cells as
        with published as (
            select * from {dyads} p where p.n_moves is null or p.n_moves <> 0
        ),
        certified as (
            select network_id, origin_nis, destination_nis, n_moves as exact from marts.mart_network_dyads where n_moves <> 0
        )
        select network_id, origin_nis, destination_nis, coalesce(exact, 0) as exact,
               coalesce({lo}, 0) as lo, coalesce({hi}, 0) as hi, p.network_id is null as published_zero,
               case when p.n_moves_withheld then {db.sql_literal(WITHHELD)}
                    when p.n_moves_suppressed then {db.sql_literal(SUPPRESSED)} else {db.sql_literal(SHOWN)} end as status
        from published p full outer join certified c using (network_id, origin_nis, destination_nis)
    """)
    try:
        nis = [v for (v,) in con.execute("select origin_nis from mignet_check_cells union "
                                         "select destination_nis from mignet_check_cells order by 1").fetchall()]
        codes = dict(enumerate(nis))
        con.register("mignet_check_codes", pa.table({"nis": pa.array(nis, pa.string()),
                                                     "code": pa.array(range(len(nis)), pa.int64())}))
        cells = con.execute("""
            select network_id, o.code as origin_code, d.code as destination_code, exact, lo, hi, published_zero, status
            from mignet_check_cells
            join mignet_check_codes o on o.nis = origin_nis join mignet_check_codes d on d.nis = destination_nis
        """).fetchnumpy()
    finally:
        con.execute("drop table if exists mignet_check_cells")
        con.unregister("mignet_check_codes")
    c_network = cells["network_id"].astype(np.int64)
    c_origin, c_dest = cells["origin_code"].astype(np.int64), cells["destination_code"].astype(np.int64)
    c_exact, c_lo, c_hi = (cells[k].astype(np.int64) for k in ("exact", "lo", "hi"))
    c_status = cells["status"].astype(np.int8)

    def label(network, origin=None, destination=None) -> str:
        period, group_type, group_value = design.labels.get(int(network), ("?", "?", "?"))
        where = f"{codes.get(int(origin), '?')}->" if origin is not None else "into "
        return f"{period}/{group_type}={group_value} {where}{codes.get(int(destination), destination)}"

    untrue = (c_exact < c_lo) | (c_exact > c_hi) | cells["published_zero"].astype(bool)
    check.add("mart_network_dyads", "published n_moves that do not contain the certified count", int(untrue.sum()),
              [label(*k) for k in zip(c_network[untrue], c_origin[untrue], c_dest[untrue])])
    if with_margins:
        margins = _published_margins(con, folder, rule, codes, check)
        if margins is None:
            return
        m_network, m_dest, m_exact, m_lo, m_hi, m_status = margins
    else:
        # no margins published: a reader knows nothing of a column's sum
        span = np.int64(max(codes, default=0) + 1)
        column = c_network * span + c_dest
        keys, where = np.unique(column, return_inverse=True)
        m_exact = np.bincount(where, weights=c_exact).astype(np.int64)
        m_network, m_dest = keys // span, keys % span
        m_lo, m_hi = np.zeros(len(keys), dtype=np.int64), np.full(len(keys), dc.UNBOUNDED)
        m_status = np.full(len(keys), SHOWN, dtype=np.int8)  # not published at all: nothing to protect
    if check.violations:
        return  # the attacker model needs true, well-formed values; the violations above come first
    try:
        pinned_cells, pinned_margins = dc.audit(design, dc.FlowCounts(
            c_network, c_origin, c_dest, c_lo, c_hi, c_exact, m_network, m_dest, m_lo, m_hi, m_exact))
    except dc.DisclosureModelError as exc:
        check.add("mart_network_dyads", f"the counts do not fit the attacker model: {exc}", 1)
        return
    suppressed_cells, withheld_cells = c_status == SUPPRESSED, c_status == WITHHELD
    bad = pinned_cells & (c_status != SHOWN)
    check.add("mart_network_dyads", "suppressed or withheld n_moves that the published values pin to one value",
              int(bad.sum()), [label(*k) for k in zip(c_network[bad], c_origin[bad], c_dest[bad])])
    if with_margins:
        bad_m = pinned_margins & (m_status != SHOWN)
        check.add("mart_destination_shares", "suppressed or withheld movers_in that the published values pin to one value",
                  int(bad_m.sum()), [label(n, None, d) for n, d in zip(m_network[bad_m], m_dest[bad_m])])
    shown_rounded = (c_status == SHOWN) & (c_hi > c_lo)
    check.summary = {
        "nonzero_dyad_counts": int(len(c_exact)),
        "suppressed_dyad_counts": int(suppressed_cells.sum()),
        "withheld_dyad_counts": int(withheld_cells.sum()),
        "margins": int(len(m_exact)) if with_margins else 0,
        "suppressed_margins": int((m_status == SUPPRESSED).sum()),
        "withheld_margins": int((m_status == WITHHELD).sum()),
        "hidden_counts_pinned": int(bad.sum()) + (int(bad_m.sum()) if with_margins else 0),
        # shown counts whose exact value the relations give away: allowed (the rule protects small counts),
        # reported so that nobody mistakes a rounded count for an uncertain one
        "rounded_counts_recoverable_exactly": int((pinned_cells & shown_rounded).sum()),
    }


def _published_margins(con, folder: Path, rule: dc.DisclosureRule, codes: dict, check: ReleaseCheck):
    shares, networks = _file(folder, "mart_destination_shares"), _file(folder, "dim_network")
    lo, hi = _interval_sql("p.movers_in", "p.movers_in_suppressed", "p.movers_in_withheld", rule)
    by_code = {nis: code for code, nis in codes.items()}
    rows = con.execute(f"""
        with published as (
            select n.network_id, p.* from {shares} p
            join {networks} n using (period_label, group_type, group_value)
            where p.movers_in is null or p.movers_in <> 0
        ),
        certified as (
            select n.network_id, s.destination_nis, s.movers_in as exact
            from marts.mart_destination_shares s join marts.dim_network n using (period_label, group_type, group_value)
            where s.movers_in <> 0
        )
        select network_id, destination_nis, coalesce(exact, 0), coalesce({lo}, 0), coalesce({hi}, 0),
               p.network_id is null as published_zero,
               case when p.movers_in_withheld then {db.sql_literal(WITHHELD)} when p.movers_in_suppressed then {db.sql_literal(SUPPRESSED)}
                    else {db.sql_literal(SHOWN)} end as status
        from published p full outer join certified c using (network_id, destination_nis)
    """).fetchall()
    unknown = [r for r in rows if r[1] not in by_code]
    if unknown:
        # a destination with movers in but no non-zero dyad count: the sums cannot hold
        check.add("mart_destination_shares", "non-zero movers_in of destinations without non-zero dyads", len(unknown),
                  [f"{r[0]} {r[1]}" for r in unknown])
        return None
    m_network = np.array([r[0] for r in rows], dtype=np.int64)
    m_dest = np.array([by_code[r[1]] for r in rows], dtype=np.int64)
    m_exact, m_lo, m_hi = (np.array([r[k] for r in rows], dtype=np.int64) for k in (2, 3, 4))
    untrue = (m_exact < m_lo) | (m_exact > m_hi) | np.array([bool(r[5]) for r in rows], dtype=bool)
    check.add("mart_destination_shares", "published movers_in that do not contain the certified count",
              int(untrue.sum()), [f"network {n} into {codes[d]}" for n, d in zip(m_network[untrue], m_dest[untrue])])
    return m_network, m_dest, m_exact, m_lo, m_hi, np.array([r[6] for r in rows], dtype=np.int8)
