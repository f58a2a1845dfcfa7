"""Realistic defects injected into the raw tables, one fault per affected row, each listed with the
quarantine rule the warehouse is expected to apply (rule names of docs/design.md).

A duplicate is an extra row (with the later position and, for moves, a higher move_id); the original
row stays clean. Persons used by a moves fault (birth_after_move) get no persons fault.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mignet.generate.geography import Geography
from mignet.generate.simulate import DAY_2019, DAY_END, DAY_START, MOVE_TYPES
from mignet.generate.tables import RawTables

# fault_type -> (table, expected_rule, expected_outcome)
FAULT_TYPES: dict[str, tuple[str, str, str]] = {
    "move_duplicate_exact": ("moves", "move_duplicate_exact", "quarantine"),
    "move_duplicate_near": ("moves", "move_duplicate_near", "quarantine"),
    "move_date_missing": ("moves", "move_date_missing", "quarantine"),
    "move_date_invalid": ("moves", "move_date_invalid", "quarantine"),
    "nis_malformed": ("moves", "nis_malformed", "quarantine"),
    "nis_unknown": ("moves", "nis_unknown", "quarantine"),
    "nis_not_valid_on_date": ("moves", "nis_not_valid_on_date", "quarantine"),
    "nis_expired_code": ("moves", "code_remapped", "flag"),
    "move_type_inconsistent": ("moves", "move_type_inconsistent", "quarantine"),
    "person_unknown": ("moves", "person_unknown", "quarantine"),
    "birth_after_move": ("moves", "birth_after_move", "quarantine"),
    "coordinates_outside_belgium": ("moves", "coordinates_outside_belgium", "quarantine"),
    "address_class_invalid": ("moves", "address_class_invalid", "quarantine"),
    "sector_malformed": ("moves", "sector_malformed", "quarantine"),
    "sector_unknown": ("moves", "sector_unknown", "quarantine"),
    "person_duplicate": ("persons", "person_duplicate", "quarantine"),
    "person_value_invalid": ("persons", "person_value_invalid", "quarantine"),
    "income_negative": ("incomes", "income_negative", "quarantine"),
    "income_absurd": ("incomes", "income_absurd", "quarantine"),
    "income_duplicate": ("incomes", "income_duplicate", "quarantine"),
    "income_person_unknown": ("incomes", "income_person_unknown", "quarantine"),
}

MALFORMED_CODES = ("4401", "440110", "44O21", "2100 4", "ABCDE", "11.002", "-1234", "4402l")
UNPARSEABLE_DATES = ("2021-02-30", "2019-13-01", "31/04/2020", "2022-00-10", "20XX-05-01")
KEY_OFFSET_UNKNOWN = 8_000_000_000  # person numbers from here on are never in persons


@dataclass
class Fault:
    table: str
    key: str
    fault_type: str
    detail: str

    def row(self) -> dict:
        table, rule, outcome = FAULT_TYPES[self.fault_type]
        return dict(table=table, key=self.key, fault_type=self.fault_type, expected_rule=rule,
                    expected_outcome=outcome, detail=self.detail)


def _date_text(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _counts(rate: float, n_rows: int, types: list[str]) -> dict[str, int]:
    if rate <= 0:
        return {t: 0 for t in types}
    per = max(1, int(round(rate * n_rows / len(types))))
    return {t: per for t in types}


def _append(columns: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Append copies of `rows`; returns the indices of the copies."""
    n = len(next(iter(columns.values())))
    for name, arr in columns.items():
        columns[name] = np.concatenate([arr, arr[rows]])
    return np.arange(n, n + len(rows))


def inject(t: RawTables, geo: Geography, rate: float, rng: np.random.Generator, fmt: str) -> list[Fault]:
    """Inject faults into `t` in place; return the list of faulty rows."""
    faults: list[Fault] = []
    if rate <= 0:
        return faults
    m, p, inc = t.moves, t.persons, t.incomes
    n_moves, n_persons, n_inc = len(m["move_id"]), len(p["person_num"]), len(inc["year"])
    move_types = [f for f, v in FAULT_TYPES.items() if v[0] == "moves"]
    want = _counts(rate, n_moves, move_types)
    taken = np.zeros(n_moves, dtype=bool)
    person_taken = np.zeros(n_persons, dtype=bool)
    belgian_o = m["o_code"] >= 0
    belgian_d = m["d_code"] >= 0

    def pick(name: str, eligible: np.ndarray, count: int | None = None) -> np.ndarray:
        cand = np.flatnonzero(eligible & ~taken)
        n = min(want[name] if count is None else count, len(cand))
        rows = np.sort(rng.choice(cand, n, replace=False)) if n else np.array([], dtype=np.int64)
        taken[rows] = True
        return rows

    def key(row):
        return str(int(m["move_id"][row]))

    def side(rows):
        """Which Belgian side of each row to damage: 0 origin, 1 destination."""
        s = rng.integers(0, 2, len(rows))
        s = np.where(~belgian_o[rows], 1, s)
        return np.where(~belgian_d[rows], 0, s)

    # persons with one move and no incomes: their birth date can move after that move without
    # touching any other row
    has_income = np.bincount(inc["person_idx"], minlength=n_persons) > 0
    lone = (p["n_moves"] == 1) & ~has_income & ~p["birth_null"]
    move_of_lone = lone[m["person_idx"]]

    # -- dates --
    rows = pick("move_date_missing", np.ones(n_moves, bool))
    m["day_null"][rows] = True
    for r in rows:
        faults.append(Fault("moves", key(r), "move_date_missing", "move_date NULL"))
    rows = pick("move_date_invalid", np.ones(n_moves, bool))
    for j, r in enumerate(rows):
        if fmt == "csv" and j % 3 == 2:
            text = UNPARSEABLE_DATES[j % len(UNPARSEABLE_DATES)]
            t.move_date_text[int(r)] = text
            faults.append(Fault("moves", key(r), "move_date_invalid", f"move_date '{text}' (not a date)"))
            continue
        d = np.datetime64(int(m["day"][r]), "D")
        year = 1899 if j % 2 == 0 else 2031
        month_day = str(d)[4:]
        new = np.datetime64(f"{year}{month_day if month_day != '-02-29' else '-02-28'}")
        m["day"][r] = int(new.astype(np.int64))
        faults.append(Fault("moves", key(r), "move_date_invalid", f"move_date {new} outside the data period"))

    # -- codes --
    def substitute_codes(fault_type: str, pool, note: str = "") -> None:
        """Put a code of `pool` (in turn) on the Belgian side, or one of both sides, of picked moves."""
        rows = pick(fault_type, belgian_o | belgian_d)
        for j, (r, s) in enumerate(zip(rows, side(rows))):
            bad = pool[j % len(pool)]
            m["o_code" if s == 0 else "d_code"][r] = t.code_index(bad)
            faults.append(Fault("moves", key(r), fault_type,
                                f"{'origin' if s == 0 else 'destination'}_nis '{bad}'{note}"))

    substitute_codes("nis_malformed", MALFORMED_CODES)
    known = set(t.nis_codes)
    unknown_pool = [c for c in (f"{a}{n:03d}" for a in ("11", "21", "25", "44", "57", "62", "85", "93", "99")
                                for n in (990, 991, 995, 999)) if c not in known]
    substitute_codes("nis_unknown", unknown_pool)
    # a code of 1-1-2025 used in 2018-2023, before it existed: no valid reading on that date
    future = sorted({c for c in t.nis_codes if c in set(geo.municipalities.loc[
        geo.municipalities["valid_from"].astype(str) >= "2025-01-01", "nis_code"])})
    substitute_codes("nis_not_valid_on_date", future, " valid from 2025-01-01 only")
    # a code that ended on 31-12-2018 used later: maps to exactly one successor, flagged not quarantined
    changed = geo.units["code_2018"].to_numpy() != geo.units["code_2019"].to_numpy()
    code18 = geo.units["code_2018"].to_numpy()
    late = m["day"] >= DAY_2019
    exp_o = late & (m["unit_o"] >= 0) & changed[np.maximum(m["unit_o"], 0)]
    exp_d = late & (m["unit_d"] >= 0) & changed[np.maximum(m["unit_d"], 0)]
    rows = pick("nis_expired_code", exp_o | exp_d)
    for r in rows:
        s = 0 if exp_o[r] and (not exp_d[r] or rng.random() < 0.5) else 1
        col, unit = ("o_code", m["unit_o"][r]) if s == 0 else ("d_code", m["unit_d"][r])
        old = code18[unit]
        m[col][r] = t.code_index(old)
        faults.append(Fault("moves", key(r), "nis_expired_code",
                            f"{'origin' if s == 0 else 'destination'}_nis '{old}' ended 2018-12-31, used {_date_text(m['day'][r])}"))

    # -- move type: the type does not fit which sides are Belgian (a NIS code) and which abroad (a country).
    # The faults are shared out over every form of it: the type itself is wrong (its NIS codes then do not
    # fit it), a country on a Belgian side, a country missing on the side abroad, a country on the wrong side.
    internal, immigration, emigration = (m["type"] == code for code in (0, 1, 2))
    forms = [  # (eligible rows, column set to a country or cleared, what the row then says)
        (np.ones(n_moves, bool), None, None),
        (internal, "o_country", "internal move with origin_country {}"),
        (internal, "d_country", "internal move with destination_country {}"),
        (immigration, "o_country", "immigration without origin_country"),
        (immigration, "d_country", "immigration with destination_country {} (the Belgian side)"),
        (emigration, "d_country", "emigration without destination_country"),
        (emigration, "o_country", "emigration with origin_country {} (the Belgian side)"),
    ]
    abroad = [t.country_index(c) for c in ("FR", "NL", "DE", "MA")]
    n_type = want["move_type_inconsistent"]
    for k, (eligible, column, detail) in enumerate(forms):
        rows = pick("move_type_inconsistent", eligible, n_type // len(forms) + (k < n_type % len(forms)))
        for j, r in enumerate(rows):
            if column is None:
                old = int(m["type"][r])
                new = 0 if old != 0 else int(rng.integers(1, 3))
                m["type"][r] = new
                text = f"move_type {MOVE_TYPES[new]} for a {MOVE_TYPES[old]} move"
            elif "without" in detail:
                m[column][r] = -1
                text = detail
            else:
                country = abroad[j % len(abroad)]
                m[column][r] = country
                text = detail.format(t.countries[country])
            faults.append(Fault("moves", key(r), "move_type_inconsistent", text))

    # -- persons --
    rows = pick("person_unknown", ~move_of_lone)
    for j, r in enumerate(rows):
        num = KEY_OFFSET_UNKNOWN + j
        m["person_num"][r] = num
        faults.append(Fault("moves", key(r), "person_unknown", f"person_id P{num:010d} not in persons"))
    ok_day = ~m["day_null"] & (m["day"] >= DAY_START) & (m["day"] <= DAY_END - 400)
    rows = pick("birth_after_move", move_of_lone & ok_day)
    for r in rows:
        pi = int(m["person_idx"][r])
        born = int(m["day"][r]) + int(rng.integers(1, 365))
        p["birth_day"][pi] = born
        person_taken[pi] = True
        faults.append(Fault("moves", key(r), "birth_after_move",
                            f"birth_date {_date_text(born)} after move_date {_date_text(m['day'][r])}"))

    # -- coordinates --
    coords_o = ~np.isnan(m["ox"])
    coords_d = ~np.isnan(m["dx"])
    rows = pick("coordinates_outside_belgium", coords_o | coords_d)
    for j, r in enumerate(rows):
        s = 0 if coords_o[r] and (not coords_d[r] or rng.random() < 0.5) else 1
        cx, cy = ("ox", "oy") if s == 0 else ("dx", "dy")
        if j % 2 == 0:  # WGS84 degrees delivered instead of Lambert 72 metres
            m[cx][r], m[cy][r] = round(2.6 + rng.random() * 3.7, 6), round(49.6 + rng.random() * 1.8, 6)
        else:  # Lambert 2008 (EPSG:3812) delivered instead of Lambert 72
            m[cx][r], m[cy][r] = m[cx][r] + 500_000.0, m[cy][r] + 500_000.0
        faults.append(Fault("moves", key(r), "coordinates_outside_belgium",
                            f"{'origin' if s == 0 else 'destination'} ({m[cx][r]}, {m[cy][r]})"))

    # -- origin address class (the income-position study): a value outside the contract's classes --
    if "o_class" in m:
        rows = pick("address_class_invalid", np.ones(n_moves, bool))
        for j, r in enumerate(rows):
            bad = ("Reception centre", "asylum", "RC", "prive")[j % 4]
            if bad not in t.address_classes:
                t.address_classes.append(bad)
            m["o_class"][r] = t.address_classes.index(bad)
            faults.append(Fault("moves", key(r), "address_class_invalid", f"origin_address_class '{bad}'"))

    # -- statistical sectors (the arrival study): a code cut short, and a well-formed code no sector has --
    if "o_sector" in m and t.sector_codes:
        rows = pick("sector_malformed", m["o_sector"] >= 0)
        for r in rows:
            bad = t.sector_codes[m["o_sector"][r]][:7]
            t.sector_codes.append(bad)
            m["o_sector"][r] = len(t.sector_codes) - 1
            faults.append(Fault("moves", key(r), "sector_malformed", f"origin_sector '{bad}'"))
        known = set(t.sector_codes)
        rows = pick("sector_unknown", m["d_sector"] >= 0)
        for r in rows:
            bad = t.sector_codes[m["d_sector"][r]][:5] + "Q9Q-"
            assert bad not in known
            t.sector_codes.append(bad)
            m["d_sector"][r] = len(t.sector_codes) - 1
            faults.append(Fault("moves", key(r), "sector_unknown", f"destination_sector '{bad}' is in no sector row"))

    # -- duplicates: copies of clean rows, appended with a new, higher move_id --
    rows = pick("move_duplicate_exact", np.ones(n_moves, bool))
    copies = _append(m, rows)
    n_exact = len(copies)
    m["move_id"][copies] = n_moves + 1 + np.arange(len(copies))
    for c, r in zip(copies, rows):
        faults.append(Fault("moves", key(c), "move_duplicate_exact", f"copy of move_id {int(m['move_id'][r])}"))
    rows = pick("move_duplicate_near", ~m["day_null"][:n_moves])
    copies = _append(m, rows)
    m["move_id"][copies] = n_moves + 1 + n_exact + np.arange(len(copies))
    for c, r in zip(copies, rows):
        # the same move registered again with slightly different address coordinates
        if not np.isnan(m["dx"][c]):
            m["dx"][c] = round(m["dx"][c] + rng.uniform(5, 60), 1)
        elif not np.isnan(m["ox"][c]):
            m["ox"][c] = round(m["ox"][c] + rng.uniform(5, 60), 1)
        else:
            unit = m["unit_d"][c] if m["unit_d"][c] >= 0 else m["unit_o"][c]
            cx, cy = ("dx", "dy") if m["unit_d"][c] >= 0 else ("ox", "oy")
            m[cx][c] = round(float(geo.units["x"].iloc[unit]) + rng.uniform(-500, 500), 1)
            m[cy][c] = round(float(geo.units["y"].iloc[unit]) + rng.uniform(-500, 500), 1)
        faults.append(Fault("moves", key(c), "move_duplicate_near",
                            f"move_id {int(m['move_id'][r])} registered again with other coordinates"))

    # -- persons table --
    p_types = ["person_duplicate", "person_value_invalid"]
    want_p = _counts(rate, n_persons, p_types)
    cand = np.flatnonzero(~person_taken)
    chosen = rng.choice(cand, min(len(cand), sum(want_p.values())), replace=False)
    dup_rows = np.sort(chosen[:want_p["person_duplicate"]])
    bad_rows = np.sort(chosen[want_p["person_duplicate"]:])
    copies = _append(p, dup_rows)
    for j, (c, r) in enumerate(zip(copies, dup_rows)):
        if j % 2 == 1:  # the second registration differs in current nationality
            p["cur_nat"][c] = t.country_index("BE") if p["cur_nat"][c] != t.country_index("BE") else t.country_index("FR")
        faults.append(Fault("persons", f"P{int(p['person_num'][c]):010d}", "person_duplicate",
                            "second row for this person_id" + (" with another current_nationality" if j % 2 else "")))
    for j, r in enumerate(bad_rows):
        kind = j % 4
        if kind == 0:
            bad = "X" if j % 8 == 0 else "U"
            if bad not in t.sexes:
                t.sexes.append(bad)
            p["sex"][r] = t.sexes.index(bad)
            detail = f"sex '{bad}'"
        elif kind == 1:
            # impossible in the past only: a future birth date would also put the person's moves before birth
            year = 1899 if j % 8 == 1 else 1850
            p["birth_day"][r] = int(np.datetime64(f"{year}-06-15").astype(np.int64))
            p["birth_null"][r] = False
            detail = f"birth_date {year}-06-15"
        elif kind == 2:
            bad = ("BEL", "be", "00", "B")[(j // 4) % 4]
            p["cob"][r] = t.country_index(bad)
            detail = f"country_of_birth '{bad}'"
        else:
            bad = ("XXX", "fr", "1A")[(j // 4) % 3]
            p["cur_nat"][r] = t.country_index(bad)
            detail = f"current_nationality '{bad}'"
        faults.append(Fault("persons", f"P{int(p['person_num'][r]):010d}", "person_value_invalid", detail))

    # -- incomes table --
    i_types = [f for f, v in FAULT_TYPES.items() if v[0] == "incomes"]
    want_i = _counts(rate, n_inc, i_types)
    order = rng.permutation(n_inc)
    cursor = 0

    def take(n):
        nonlocal cursor
        rows = np.sort(order[cursor:cursor + n])
        cursor += n
        return rows

    def ikey(r):
        return f"P{int(inc['person_num'][r]):010d}|{int(inc['year'][r])}"

    for r in take(want_i["income_negative"]):
        inc["income"][r] = -round(float(rng.uniform(50, 25_000)), 2)
        faults.append(Fault("incomes", ikey(r), "income_negative", f"disposable_income {inc['income'][r]}"))
    for j, r in enumerate(take(want_i["income_absurd"])):
        inc["income"][r] = (12_345_678.0, 99_999_999.0, 2.5e9)[j % 3]
        faults.append(Fault("incomes", ikey(r), "income_absurd", f"disposable_income {inc['income'][r]:.0f}"))
    rows = take(want_i["income_duplicate"])
    copies = _append(inc, rows)
    for c in copies:
        base = inc["income"][c]
        inc["income"][c] = round(float(base) * rng.uniform(0.8, 1.2), 2) if not np.isnan(base) else round(float(rng.uniform(9_000, 40_000)), 2)
        faults.append(Fault("incomes", ikey(c), "income_duplicate", "second row for this person and year"))
    for j, r in enumerate(take(want_i["income_person_unknown"])):
        inc["person_num"][r] = KEY_OFFSET_UNKNOWN + 500_000_000 + j
        faults.append(Fault("incomes", ikey(r), "income_person_unknown", "person_id not in persons"))
    return faults
