"""Simulate the register: persons who move, their moves (a gravity process per period, age band and
income quartile), and their yearly incomes. Everything is held as numpy arrays of codes and indices
until the tables are written, so scale 1.0 (about 8 million moves) stays fast and small.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtri

from mignet.generate.geography import Geography

EPOCH = dt.date(1970, 1, 1)
START = dt.date(2018, 1, 1)
END = dt.date(2023, 12, 31)
DAY_START = (START - EPOCH).days
DAY_END = (END - EPOCH).days
DAY_2019 = (dt.date(2019, 1, 1) - EPOCH).days
N_DAYS = DAY_END - DAY_START + 1
INCOME_YEARS = tuple(range(2018, 2024))

PERIODS = (("pre_covid", 2018, 2019), ("covid", 2020, 2021), ("post_covid", 2022, 2023))
AGE_BANDS = ("18-30", "31-55", "56-75", "other")
QUARTILES = ("low", "lower_middle", "upper_middle", "high")
MOVE_TYPES = ("internal", "immigration", "emigration")

# Scale 1.0: Belgian volumes 2018-2023.
PERSONS_AT_SCALE_1 = 3_850_000
EXTRA_MOVES_MEAN = 1.0  # moves per person in six years = 1 + Poisson(1.0)
IMMIGRANT_SHARE = 0.235
EMIGRANT_SHARE = 0.155
INTRA_SHARE = 0.42  # of internal moves, within one municipality
RETURN_SHARE = 0.30  # of a person's consecutive inter-municipal moves, the second goes back

# age at the first move: children (with their parents), 18-30, 31-55, 56-75, 76-95
FIRST_AGE_BANDS = ((0, 17, 0.16), (18, 30, 0.42), (31, 55, 0.30), (56, 75, 0.08), (76, 95, 0.04))
QUARTILE_PROBS = {0: (0.38, 0.27, 0.20, 0.15), 1: (0.18, 0.22, 0.28, 0.32),
                  2: (0.22, 0.26, 0.26, 0.26), 3: (0.30, 0.25, 0.25, 0.20)}

COUNTRIES_IMMIGRATION = (("FR", 12), ("NL", 10), ("RO", 9), ("IT", 5), ("ES", 5), ("PL", 4), ("MA", 5),
                         ("DE", 3), ("PT", 3), ("BG", 3), ("SY", 3), ("AF", 2), ("IN", 3), ("US", 2),
                         ("TR", 2), ("CD", 2), ("UA", 2), ("BR", 2), ("GB", 2), ("CM", 1), ("LU", 1))
COUNTRIES_EMIGRATION = (("FR", 16), ("NL", 14), ("LU", 6), ("ES", 6), ("DE", 5), ("GB", 5), ("RO", 6),
                        ("IT", 4), ("PL", 4), ("US", 3), ("CH", 3), ("PT", 3), ("MA", 2), ("BG", 2))


def true_parameters() -> list[dict]:
    """The gravity parameters per period x age band x income quartile.

    log P(i -> j) = alpha ln pop_i + beta ln pop_j - distance_ij / decay_km + gamma z_j + delta coast_j
    (i != j), z_j the standardised log density of destination j, coast_j 1 for a coastal municipality.
    """
    base = {  # alpha, beta, decay_km, gamma, delta
        "18-30": (0.95, 1.00, 22.0, 0.45, 0.00),
        "31-55": (0.95, 0.90, 18.0, -0.10, 0.00),
        "56-75": (0.95, 0.80, 25.0, -0.45, 0.90),
        "other": (0.95, 0.90, 15.0, 0.00, 0.10),
    }
    period_shift = {  # added to gamma, multiplies decay, added to delta
        ("covid", "18-30"): (-0.10, 1.0, 0.0),
        ("covid", "31-55"): (-0.40, 1.3, 0.2),
        ("covid", "56-75"): (-0.10, 1.2, 0.3),
        ("post_covid", "18-30"): (-0.05, 1.0, 0.0),
        ("post_covid", "31-55"): (-0.15, 1.1, 0.1),
    }
    out = []
    for period, _, _ in PERIODS:
        for band in AGE_BANDS:
            alpha, beta, decay, gamma, delta = base[band]
            dg, fd, dd = period_shift.get((period, band), (0.0, 1.0, 0.0))
            for q, quartile in enumerate(QUARTILES):
                out.append(dict(period_label=period, age_band=band, income_quartile=quartile,
                                alpha=alpha, beta=beta,
                                decay_km=round(decay * fd * (1 + 0.1 * q), 3),
                                gamma_density=round(gamma + dg + 0.08 * (1.5 - q), 3),
                                delta_coast=delta + dd))
    return out


@dataclass
class Register:
    """Persons, moves and incomes as arrays. Codes of municipalities are indices into geo.units
    (unit_o/unit_d, -1 for the foreign side); person_num is the pseudonymised number behind person_id."""

    # persons (P)
    person_num: np.ndarray
    sex: np.ndarray  # int8: 0 M, 1 F
    birth_day: np.ndarray  # int32 days since 1970-01-01
    birth_known: np.ndarray  # bool
    country_of_birth: np.ndarray  # int16 index into countries, -1 NULL
    nationality_at_birth: np.ndarray
    current_nationality: np.ndarray
    n_moves: np.ndarray
    # moves (M)
    m_person: np.ndarray  # index into persons
    m_day: np.ndarray
    m_type: np.ndarray  # int8 index into MOVE_TYPES
    unit_o: np.ndarray
    unit_d: np.ndarray
    country_o: np.ndarray
    country_d: np.ndarray
    ox: np.ndarray
    oy: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    m_age_band: np.ndarray
    m_quartile: np.ndarray
    m_period: np.ndarray
    # incomes (I)
    i_person: np.ndarray
    i_year: np.ndarray
    i_income: np.ndarray  # NaN = missing
    i_household: np.ndarray  # int64 household number
    i_household_type: np.ndarray  # int8 index into contract.HOUSEHOLD_TYPES
    i_equivalised: np.ndarray
    i_student: np.ndarray
    i_institutional: np.ndarray
    countries: list[str]
    parameters: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


def _day_weights() -> np.ndarray:
    days = pd.date_range(START, END, freq="D")
    doy = days.day_of_year.to_numpy()
    w = 1.0 + 0.25 * np.sin(2 * np.pi * (doy - 120) / 365.25)  # summer peak
    lockdown = (days >= "2020-03-16") & (days <= "2020-05-10")
    w[lockdown] *= 0.55
    w[days.day_of_week.to_numpy() >= 5] *= 0.35  # registrations are on working days mostly
    return w / w.sum()


def _ymd(days: np.ndarray):
    """Year, month, day of days since 1970-01-01, through a lookup table over the days' range."""
    lo, hi = int(days.min()), int(days.max())
    d = np.arange(lo, hi + 1).astype("datetime64[D]")
    y = (d.astype("datetime64[Y]").astype(np.int64) + 1970).astype(np.int16)
    m = (d.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(np.int8)
    dd = ((d - d.astype("datetime64[M]")).astype(np.int64) + 1).astype(np.int8)
    i = days - lo
    return y[i].astype(np.int32), m[i].astype(np.int32), dd[i].astype(np.int32)


def age_in_years(birth_day: np.ndarray, day: np.ndarray) -> np.ndarray:
    by, bm, bd = _ymd(birth_day)
    y, m, d = _ymd(day)
    return y - by - ((m * 100 + d) < (bm * 100 + bd))


def age_band_index(age: np.ndarray) -> np.ndarray:
    band = np.full(age.shape, 3, dtype=np.int8)
    band[(age >= 18) & (age <= 30)] = 0
    band[(age >= 31) & (age <= 55)] = 1
    band[(age >= 56) & (age <= 75)] = 2
    return band


def _categorical(rng, weights, n):
    w = np.asarray(weights, dtype=float)
    return np.searchsorted(np.cumsum(w) / w.sum(), rng.random(n), side="right").astype(np.int16)


def simulate(geo: Geography, scale: float, rng: np.random.Generator, progress=None) -> Register:
    say = progress or (lambda m: None)
    units = geo.units
    n_units = len(units)
    n_persons = max(int(round(PERSONS_AT_SCALE_1 * scale)), 300)

    # --- persons and the skeleton of their moves ---
    k = (1 + rng.poisson(EXTRA_MOVES_MEAN, n_persons)).astype(np.int32)
    immigrant = rng.random(n_persons) < IMMIGRANT_SHARE
    emigrant = rng.random(n_persons) < EMIGRANT_SHARE
    n_moves = int(k.sum())
    m_person = np.repeat(np.arange(n_persons, dtype=np.int32), k)
    starts = np.concatenate([[0], np.cumsum(k)[:-1]])
    pos = (np.arange(n_moves) - np.repeat(starts, k)).astype(np.int32)
    offset = np.searchsorted(np.cumsum(_day_weights()), rng.random(n_moves), side="right").astype(np.int64)
    offset = np.minimum(offset, N_DAYS - 1)
    # sort each person's days and make them strictly increasing (no two moves of a person on one day)
    big = np.int64(N_DAYS * 4)
    offset = np.sort(offset + m_person.astype(np.int64) * big) - m_person.astype(np.int64) * big
    g = offset - pos + m_person.astype(np.int64) * big
    g = np.maximum.accumulate(g) - m_person.astype(np.int64) * big
    offset = np.minimum(g + pos, N_DAYS - 1 - (np.repeat(k, k) - 1 - pos))
    m_day = (DAY_START + offset).astype(np.int32)
    is_first = pos == 0
    is_last = pos == np.repeat(k, k) - 1
    imm = immigrant[m_person] & is_first
    emi = emigrant[m_person] & is_last & ~imm
    m_type = np.zeros(n_moves, dtype=np.int8)
    m_type[imm] = 1
    m_type[emi] = 2
    internal = m_type == 0
    intra = internal & (rng.random(n_moves) < INTRA_SHARE)
    inter = internal & ~intra
    say(f"persons: {n_persons:,}; moves: {n_moves:,} ({int(inter.sum()):,} between municipalities)")

    # --- who they are ---
    first_day = m_day[starts]
    lo_hi_p = np.array([(lo, hi) for lo, hi, _ in FIRST_AGE_BANDS])
    band_first = _categorical(rng, [p for _, _, p in FIRST_AGE_BANDS], n_persons)
    lo, hi = lo_hi_p[band_first, 0], lo_hi_p[band_first, 1]
    age_days = ((lo + rng.random(n_persons) * (hi + 1 - lo)) * 365.25).astype(np.int64)
    birth_day = (first_day - np.maximum(age_days, 1)).astype(np.int32)
    birth_known = rng.random(n_persons) > 0.003
    sex = (rng.random(n_persons) < 0.49).astype(np.int8)
    first_band = age_band_index(age_in_years(birth_day, first_day))
    quartile = np.zeros(n_persons, dtype=np.int8)
    u = rng.random(n_persons)
    for b, probs in QUARTILE_PROBS.items():
        sel = first_band == b
        quartile[sel] = np.searchsorted(np.cumsum(probs), u[sel], side="right").clip(0, 3)
    countries = sorted({c for c, _ in COUNTRIES_IMMIGRATION} | {c for c, _ in COUNTRIES_EMIGRATION} | {"BE"})
    cidx = {c: i for i, c in enumerate(countries)}
    imm_codes = np.array([cidx[c] for c, _ in COUNTRIES_IMMIGRATION], dtype=np.int16)
    emi_codes = np.array([cidx[c] for c, _ in COUNTRIES_EMIGRATION], dtype=np.int16)
    foreign_born = np.where(immigrant, rng.random(n_persons) < 0.85, rng.random(n_persons) < 0.14)
    cob = np.where(foreign_born, imm_codes[_categorical(rng, [w for _, w in COUNTRIES_IMMIGRATION], n_persons)],
                   cidx["BE"]).astype(np.int16)
    nat_birth = np.where(~foreign_born & (rng.random(n_persons) < 0.06),
                         imm_codes[_categorical(rng, [w for _, w in COUNTRIES_IMMIGRATION], n_persons)], cob)
    naturalised = (nat_birth != cidx["BE"]) & (rng.random(n_persons) < np.where(immigrant, 0.05, 0.45))
    cur_nat = np.where(naturalised, cidx["BE"], nat_birth).astype(np.int16)
    for arr in (cob, nat_birth, cur_nat):
        arr[rng.random(n_persons) < 0.005] = -1

    # --- moves: age band, quartile, period ---
    m_age = age_in_years(birth_day[m_person], m_day)
    m_band = age_band_index(m_age)
    m_quart = quartile[m_person]
    y = _ymd(m_day)[0]
    m_period = ((y - 2018) // 2).astype(np.int8)

    # --- gravity between municipalities ---
    pop = units["pop_2018"].to_numpy(float)
    logdens = np.log(units["density"].to_numpy(float))
    z = (logdens - logdens.mean()) / logdens.std()
    coast = units["coast"].to_numpy(float)
    xy = units[["x", "y"]].to_numpy(float) / 1000.0
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    lp = np.log(pop)
    params = true_parameters()
    unit_o = np.full(n_moves, -1, dtype=np.int32)
    unit_d = np.full(n_moves, -1, dtype=np.int32)
    cell = (m_period.astype(np.int32) * 16 + m_band.astype(np.int32) * 4 + m_quart.astype(np.int32))
    inter_idx = np.flatnonzero(inter)
    order = inter_idx[np.argsort(cell[inter_idx], kind="stable")]
    counts = np.bincount(cell[order], minlength=48)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    band_pos = {b: i for i, b in enumerate(AGE_BANDS)}
    per_pos = {p[0]: i for i, p in enumerate(PERIODS)}
    for prm in params:
        c = per_pos[prm["period_label"]] * 16 + band_pos[prm["age_band"]] * 4 + QUARTILES.index(prm["income_quartile"])
        rows = order[bounds[c]:bounds[c + 1]]
        if len(rows) == 0:
            continue
        logw = (prm["alpha"] * lp[:, None] + prm["beta"] * lp[None, :] - dist / prm["decay_km"]
                + prm["gamma_density"] * z[None, :] + prm["delta_coast"] * coast[None, :])
        np.fill_diagonal(logw, -np.inf)
        w = np.exp(logw - logw.max()).ravel()
        cum = np.cumsum(w)
        flat = np.searchsorted(cum, rng.random(len(rows)) * cum[-1], side="right")
        flat = np.minimum(flat, len(cum) - 1)
        unit_o[rows] = flat // n_units
        unit_d[rows] = flat % n_units
    # reciprocal flows: a person's next inter-municipal move goes back where they came from
    nxt = np.flatnonzero(inter[:-1] & inter[1:] & (m_person[:-1] == m_person[1:]) & (pos[:-1] % 2 == 0))
    back = nxt[rng.random(len(nxt)) < RETURN_SHARE]
    unit_o[back + 1] = unit_d[back]
    unit_d[back + 1] = unit_o[back]

    cum_pop = np.cumsum(pop) / pop.sum()
    unit_intra = np.searchsorted(cum_pop, rng.random(int(intra.sum())), side="right").clip(0, n_units - 1)
    unit_o[intra] = unit_intra
    unit_d[intra] = unit_intra
    attract = pop * np.where(units["region_nis"].eq("04000"), 3.0, 1.0) * np.where(units["kind"].eq("city"), 1.5, 1.0)
    cum_attr = np.cumsum(attract) / attract.sum()
    unit_d[imm] = np.searchsorted(cum_attr, rng.random(int(imm.sum())), side="right").clip(0, n_units - 1)
    unit_o[emi] = np.searchsorted(cum_attr, rng.random(int(emi.sum())), side="right").clip(0, n_units - 1)
    country_o = np.full(n_moves, -1, dtype=np.int16)
    country_d = np.full(n_moves, -1, dtype=np.int16)
    # immigrants mostly come from their country of birth
    own = cob[m_person[imm]]
    drawn = imm_codes[_categorical(rng, [w for _, w in COUNTRIES_IMMIGRATION], int(imm.sum()))]
    country_o[imm] = np.where((own >= 0) & (own != cidx["BE"]) & (rng.random(len(own)) < 0.8), own, drawn)
    country_d[emi] = emi_codes[_categorical(rng, [w for _, w in COUNTRIES_EMIGRATION], int(emi.sum()))]
    say("moves drawn from the gravity model")

    # --- address coordinates around the municipality centre; about 20% unknown ---
    radius = np.sqrt(units["area_km2"].to_numpy(float) / np.pi) * 1000 * 0.45
    ux, uy = units["x"].to_numpy(float), units["y"].to_numpy(float)

    def scatter(unit):
        has = unit >= 0
        x = np.full(n_moves, np.nan)
        yy = np.full(n_moves, np.nan)
        uu = unit[has]
        x[has] = np.clip(ux[uu] + rng.normal(0, 1, len(uu)) * radius[uu], 16_000, 299_000).round(1)
        yy[has] = np.clip(uy[uu] + rng.normal(0, 1, len(uu)) * radius[uu], 16_000, 249_000).round(1)
        unknown = rng.random(n_moves) < 0.2
        x[unknown] = np.nan
        yy[unknown] = np.nan
        return x, yy

    ox, oy = scatter(unit_o)
    dx, dy = scatter(unit_d)

    # --- incomes of adults, the years they live in Belgium ---
    years = np.array(INCOME_YEARS)
    year_end_day = np.array([(dt.date(yy, 12, 31) - EPOCH).days for yy in INCOME_YEARS])
    last_day = m_day[starts + k - 1]
    arrival_year = np.where(immigrant, _ymd(first_day)[0], 0)
    leave_year = np.where(emigrant & ~(immigrant & (k == 1)), _ymd(last_day)[0], 9999)
    by = _ymd(birth_day)[0]
    age_end = years[None, :] - by[:, None]  # age on 31 December
    present = (age_end >= 18) & (years[None, :] >= arrival_year[:, None]) & (years[None, :] <= leave_year[:, None])
    i_person, yi = np.nonzero(present)
    i_person = i_person.astype(np.int32)
    i_year = years[yi].astype(np.int32)
    i_age = age_end[i_person, yi]
    del present, age_end
    n_inc = len(i_person)
    # a person's income level: a draw inside their quartile of a log-normal distribution
    uq = (quartile.astype(float) + rng.uniform(0.02, 0.98, n_persons)) / 4.0
    base = np.exp(np.log(21_500.0) + 0.55 * ndtri(uq))
    young = np.clip((25 - i_age) / 7.0, 0, 1)
    old = np.clip((i_age - 65) / 20.0, 0, 1)
    growth = (1.02 ** (years - 2018))[yi]
    noise = np.exp(rng.standard_normal(n_inc, dtype=np.float32) * np.float32(0.12))
    income = base[i_person] * growth * noise * ((1 - 0.45 * young) * (1 - 0.2 * old))
    del noise, growth, young, old
    income = np.clip(income.round(2), 0.0, 4_900_000.0)
    years_here = i_year - arrival_year[i_person]
    p_missing = (0.055 + 0.07 * (i_age < 25) + np.where(immigrant[i_person] & (years_here == 0), 0.25, 0.0)
                 + np.where(immigrant[i_person] & (years_here == 1), 0.08, 0.0))
    income[rng.random(n_inc, dtype=np.float32) < p_missing] = np.nan
    del p_missing, years_here
    # household type by age
    i_band = age_band_index(i_age)
    ht_probs = {0: (0.40, 0.28, 0.12, 0.04, 0.15, 0.01), 1: (0.18, 0.12, 0.50, 0.12, 0.075, 0.005),
                2: (0.25, 0.55, 0.08, 0.04, 0.07, 0.01), 3: (0.42, 0.33, 0.02, 0.02, 0.06, 0.15)}
    household_type = np.zeros(n_inc, dtype=np.int8)
    uh = rng.random(n_inc, dtype=np.float32)
    for b, probs in ht_probs.items():
        sel = i_band == b
        household_type[sel] = np.searchsorted(np.cumsum(probs), uh[sel], side="right").clip(0, 5)
    # equivalised household income: own income plus a partner's, on the modified OECD scale
    uf = rng.random(n_inc, dtype=np.float32)
    lo_hi = np.array([(1.0, 1.0), (1.3 / 1.5, 2.1 / 1.5), (1.3 / 2.1, 2.0 / 2.1), (1 / 1.5, 1 / 1.5),
                      (0.8, 1.3), (np.nan, np.nan)])[household_type]
    equivalised = (income * (lo_hi[:, 0] + uf * (lo_hi[:, 1] - lo_hi[:, 0]))).round(2)
    del lo_hi, uf
    student_p = np.where(i_age <= 24, 0.45, np.where(i_age <= 29, 0.08, 0.005))
    student = rng.random(n_inc, dtype=np.float32) < student_p
    institutional = household_type == 5
    # household: one per person and residence spell (changes when the person moves)
    spell = np.zeros(n_inc, dtype=np.int64)
    for j, yy in enumerate(INCOME_YEARS):
        sel = i_year == yy
        cnt = np.bincount(m_person[m_day <= year_end_day[j]], minlength=n_persons)
        spell[sel] = cnt[i_person[sel]]
    person_num = rng.permutation(n_persons).astype(np.int64) + 1
    household = person_num[i_person] * 16 + spell
    # unknown or missing household fields for a few rows, as in real fiscal links
    hh_missing = rng.random(n_inc, dtype=np.float32) < 0.01
    household_type = np.where(hh_missing, -1, household_type).astype(np.int8)
    equivalised[hh_missing] = np.nan
    household[hh_missing] = -1

    say(f"incomes: {n_inc:,} person-years")
    return Register(
        person_num=person_num, sex=sex, birth_day=birth_day, birth_known=birth_known, country_of_birth=cob,
        nationality_at_birth=nat_birth.astype(np.int16), current_nationality=cur_nat, n_moves=k,
        m_person=m_person, m_day=m_day, m_type=m_type, unit_o=unit_o, unit_d=unit_d, country_o=country_o,
        country_d=country_d, ox=ox, oy=oy, dx=dx, dy=dy, m_age_band=m_band, m_quartile=m_quart,
        m_period=m_period, i_person=i_person, i_year=i_year, i_income=income, i_household=household,
        i_household_type=household_type, i_equivalised=equivalised, i_student=student,
        i_institutional=institutional, countries=countries, parameters=params,
        stats=dict(persons=n_persons, moves=n_moves, inter=int(inter.sum()), intra=int(intra.sum()),
                   immigration=int(imm.sum()), emigration=int(emi.sum()), return_moves=int(len(back))))
