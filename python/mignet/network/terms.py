"""Model terms: which ERGM terms keep the model dyad-independent given pairs, and their change statistics.

A term is fitted exactly here only if the change statistic of toggling the tie i->j depends on nothing
but covariates and the reverse tie j->i. `edges`, `edgecov`, `sender` (ergm's `nodeocov`) and
`receiver` (`nodeicov`) depend on covariates only; `mutual` also on j->i, which is why the model
factorises over unordered pairs rather than ordered ones. Every other ERGM term (triangles, stars,
shared partners, degree terms) ties a pair's probability to ties elsewhere in the graph and needs MCMC.
"""

from __future__ import annotations

from dataclasses import dataclass

ALLOWED = ("edges", "mutual", "edgecov:COL", "sender:COL", "receiver:COL")

# ergm terms whose change statistics depend on ties beyond the pair itself.
DYAD_DEPENDENT = {
    "gwesp", "gwdsp", "gwnsp", "esp", "dsp", "nsp", "triangle", "triangles", "transitive", "transitiveties",
    "cyclicalties", "cycle", "ttriple", "ctriple", "twopath", "istar", "ostar", "kstar", "m2star",
    "idegree", "odegree", "degree", "gwidegree", "gwodegree", "gwdegree", "isolates", "sink", "source",
    "intransitive", "balance", "simmelian", "simmelianties", "localtriangle", "threetrail", "edgecov.mutual",
    "mutual.by", "asymmetric", "idegreepopularity", "odegreepopularity", "degreepopularity", "b1star",
    "b2star", "concurrent", "meandeg", "density", "gwb1degree", "gwb2degree", "dgwesp", "dgwdsp",
}


class DyadDependentTermError(ValueError):
    """A requested term would make the model dyad-dependent (not fittable exactly)."""


@dataclass(frozen=True)
class Term:
    name: str  # the string the user gave, used as the parameter label
    kind: str  # edges | mutual | edgecov | sender | receiver
    column: str | None = None


def parse_terms(terms) -> list[Term]:
    if isinstance(terms, str):
        terms = [terms]
    parsed: list[Term] = []
    seen = set()
    for raw in terms:
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError(f"model term {raw!r} is not a term name; allowed terms: {', '.join(ALLOWED)}")
        name = raw.strip()
        kind, _, column = name.partition(":")
        kind = kind.strip().lower()
        column = column.strip() or None
        base = kind.split("(")[0]
        if base in DYAD_DEPENDENT or (base == "mutual" and (column or "(" in kind)):
            raise DyadDependentTermError(
                f"term {name!r} makes the model dyad-dependent: its change statistic for a tie i->j depends on "
                f"ties other than j->i, so the likelihood no longer factorises over pairs and cannot be computed "
                f"exactly. mignet fits only {', '.join(ALLOWED)} exactly; fit {name!r} with statnet's ergm (MCMC)."
            )
        if kind in ("edges", "mutual"):
            if column:
                raise ValueError(f"term {name!r}: {kind} takes no column")
            term = Term(name, kind)
        elif kind in ("edgecov", "sender", "receiver", "nodeocov", "nodeicov"):
            if not column:
                raise ValueError(f"term {name!r} needs a column: write {kind}:COLUMN")
            kind = {"nodeocov": "sender", "nodeicov": "receiver"}.get(kind, kind)
            term = Term(name, kind, column)
        else:
            raise ValueError(f"unknown model term {name!r}; allowed terms: {', '.join(ALLOWED)}")
        if name in seen:
            raise ValueError(f"model term {name!r} is listed twice")
        seen.add(name)
        parsed.append(term)
    if not parsed:
        raise ValueError(f"no model terms given; allowed terms: {', '.join(ALLOWED)}")
    return parsed
