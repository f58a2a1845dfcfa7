"""The simulated register as raw tables: columns as numpy arrays (codes as indices into small lists),
turned into Arrow tables with exactly the contract's types only when written."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mignet import contract
from mignet.generate.geography import Geography
from mignet.generate.simulate import MOVE_TYPES, Register

ARROW_TYPES = {"BIGINT": pa.int64(), "INTEGER": pa.int32(), "VARCHAR": pa.string(), "DATE": pa.date32(),
               "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_()}


def arrow_schema(table: contract.Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.dtype], nullable=c.nullable) for c in table.columns])


@dataclass
class RawTables:
    """Column arrays of moves, persons and incomes, plus the value lists the index columns point into.
    Faults edit these arrays in place (and append rows)."""

    nis_codes: list[str]
    countries: list[str]
    sexes: list[str]
    moves: dict[str, np.ndarray]
    persons: dict[str, np.ndarray]
    incomes: dict[str, np.ndarray]
    # CSV only: row -> text written instead of the date (an unparseable date string)
    move_date_text: dict[int, str] = field(default_factory=dict)
    # the values moves["o_class"] (origin_address_class) points into: the contract's, and faulty ones appended
    address_classes: list[str] = field(
        default_factory=lambda: list(contract.MOVES.column("origin_address_class").allowed))
    # the simulated person number of each person index, and its formatted id (made once)
    person_nums: np.ndarray | None = None
    person_ids: pa.Array | None = None
    # the statistical sector codes moves["o_sector"] and moves["d_sector"] point into (mignet.generate.sectors)
    sector_codes: list[str] = field(default_factory=list)

    def code_index(self, code: str) -> int:
        try:
            return self.nis_codes.index(code)
        except ValueError:
            self.nis_codes.append(code)
            return len(self.nis_codes) - 1

    def country_index(self, code: str) -> int:
        if code not in self.countries:
            self.countries.append(code)
        return self.countries.index(code)


def raw_tables(reg: Register, geo: Geography) -> RawTables:
    nis_codes = geo.municipalities["nis_code"].tolist()
    pos = {c: i for i, c in enumerate(nis_codes)}
    idx18 = np.array([pos[c] for c in geo.units["code_2018"]], dtype=np.int16)
    idx19 = np.array([pos[c] for c in geo.units["code_2019"]], dtype=np.int16)
    order = np.argsort(reg.m_day, kind="stable")
    day = reg.m_day[order]
    before = day < (np.datetime64("2019-01-01") - np.datetime64("1970-01-01")).astype(int)

    def code(units):
        u = units[order]
        out = np.where(before, idx18[np.maximum(u, 0)], idx19[np.maximum(u, 0)]).astype(np.int16)
        out[u < 0] = -1
        return out

    moves = dict(
        move_id=np.arange(1, len(order) + 1, dtype=np.int64),
        person_num=reg.person_num[reg.m_person[order]],
        person_idx=reg.m_person[order],
        day=day.astype(np.int32),
        day_null=np.zeros(len(order), dtype=bool),
        type=reg.m_type[order].astype(np.int8),
        o_code=code(reg.unit_o), d_code=code(reg.unit_d),
        o_country=reg.country_o[order], d_country=reg.country_d[order],
        ox=reg.ox[order], oy=reg.oy[order], dx=reg.dx[order], dy=reg.dy[order],
        # kept for fault selection (not written)
        unit_o=reg.unit_o[order], unit_d=reg.unit_d[order],
    )
    # persons in simulation order (their pseudonymised ids look random), incomes grouped by person
    p_order = slice(None)
    persons = dict(
        person_num=reg.person_num[p_order],
        sex=reg.sex[p_order].astype(np.int8),
        birth_day=reg.birth_day[p_order],
        birth_null=~reg.birth_known[p_order],
        cob=reg.country_of_birth[p_order], nat_birth=reg.nationality_at_birth[p_order],
        cur_nat=reg.current_nationality[p_order],
        n_moves=reg.n_moves[p_order],
    )
    i_order = slice(None)
    incomes = dict(
        person_num=reg.person_num[reg.i_person[i_order]],
        person_idx=reg.i_person[i_order],
        year=reg.i_year[i_order],
        income=reg.i_income[i_order],
        household=reg.i_household[i_order],
        htype=reg.i_household_type[i_order],
        equivalised=reg.i_equivalised[i_order],
        student=reg.i_student[i_order],
        institutional=reg.i_institutional[i_order],
    )
    return RawTables(nis_codes=nis_codes, countries=list(reg.countries), sexes=["M", "F"],
                     moves=moves, persons=persons, incomes=incomes, person_nums=reg.person_num.copy())


def _take(values: list[str], idx: np.ndarray) -> pa.Array:
    return pc.take(pa.array(values, type=pa.string()), pa.array(idx.astype(np.int32), mask=idx < 0))


def _ids(prefix: str, numbers: np.ndarray, width: int, null: np.ndarray | None = None) -> pa.Array:
    text = pc.utf8_lpad(pa.array(np.abs(numbers)).cast(pa.string()), width, "0")
    out = pc.binary_join_element_wise(prefix, text, "")
    if null is not None and null.any():
        out = pc.if_else(pa.array(null), pa.scalar(None, pa.string()), out)
    return out


def _dates(day: np.ndarray, null: np.ndarray) -> pa.Array:
    return pa.array(day.astype(np.int32), type=pa.int32(), mask=null).view(pa.date32())


def _doubles(x: np.ndarray) -> pa.Array:
    return pa.array(x, type=pa.float64(), mask=np.isnan(x))


def person_id(numbers: np.ndarray) -> pa.Array:
    return _ids("P", numbers, 10)


def _person_ids(t: RawTables, columns: dict[str, np.ndarray]) -> pa.Array:
    """person_id of each row: taken from the persons' ids (cheaper than formatting every row again),
    then formatted anew only on rows whose person number was changed (faults)."""
    if t.person_ids is None:
        t.person_ids = person_id(t.person_nums)
    ids = pc.take(t.person_ids, pa.array(columns["person_idx"]))
    changed = columns["person_num"] != t.person_nums[columns["person_idx"]]
    if changed.any():
        ids = pc.replace_with_mask(ids, pa.array(changed), person_id(columns["person_num"][changed]))
    return ids


def moves_table(t: RawTables) -> pa.Table:
    m = t.moves
    cols = {
        "move_id": pa.array(m["move_id"]),
        "person_id": _person_ids(t, m),
        "move_date": _dates(m["day"], m["day_null"]),
        "move_type": _take(list(MOVE_TYPES), m["type"]),
        "origin_nis": _take(t.nis_codes, m["o_code"]),
        "destination_nis": _take(t.nis_codes, m["d_code"]),
        "origin_country": _take(t.countries, m["o_country"]),
        "destination_country": _take(t.countries, m["d_country"]),
        "origin_x": _doubles(m["ox"]), "origin_y": _doubles(m["oy"]),
        "destination_x": _doubles(m["dx"]), "destination_y": _doubles(m["dy"]),
    }
    if "o_class" in m:
        cols["origin_address_class"] = _take(t.address_classes, m["o_class"])
    if "o_sector" in m:
        cols["origin_sector"] = _take(t.sector_codes, m["o_sector"])
        cols["destination_sector"] = _take(t.sector_codes, m["d_sector"])
    return pa.Table.from_pydict(_with_optional_nulls(cols, contract.MOVES, len(m["move_id"])),
                                schema=arrow_schema(contract.MOVES))


def _with_optional_nulls(cols: dict, table: contract.Table, n_rows: int) -> dict:
    """`cols` with every optional column of the contract it lacks as NULL, as the warehouse reads an optional
    column an extract does not have (a required one must be given)."""
    missing = {c.name: pa.nulls(n_rows, ARROW_TYPES[c.dtype]) for c in table.columns
               if c.optional and c.name not in cols}
    return {**cols, **missing}


def persons_table(t: RawTables) -> pa.Table:
    p = t.persons
    cols = {
        "person_id": person_id(p["person_num"]),
        "sex": _take(t.sexes, p["sex"]),
        "birth_date": _dates(p["birth_day"], p["birth_null"]),
        "country_of_birth": _take(t.countries, p["cob"]),
        "nationality_at_birth": _take(t.countries, p["nat_birth"]),
        "current_nationality": _take(t.countries, p["cur_nat"]),
    }
    return pa.Table.from_pydict(cols, schema=arrow_schema(contract.PERSONS))


def incomes_table(t: RawTables) -> pa.Table:
    i = t.incomes
    cols = {
        "person_id": _person_ids(t, i),
        "income_year": pa.array(i["year"].astype(np.int32)),
        "disposable_income": _doubles(i["income"]),
        "household_id": _ids("H", i["household"], 11, null=i["household"] < 0),
        "household_type": _take(list(contract.HOUSEHOLD_TYPES), i["htype"]),
        "household_equivalised_income": _doubles(i["equivalised"]),
        "is_student": pa.array(i["student"], type=pa.bool_()),
        "is_institutional_household": pa.array(i["institutional"], type=pa.bool_()),
    }
    return pa.Table.from_pydict(cols, schema=arrow_schema(contract.INCOMES))


def frame_table(frame, table: contract.Table) -> pa.Table:
    return pa.Table.from_pandas(frame[list(table.column_names)], schema=arrow_schema(table), preserve_index=False)
