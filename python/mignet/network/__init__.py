"""Network models of migration: exact-likelihood ERGMs (edges, mutual, edge and node covariates).

    from mignet.network import fit_ergm
    res = fit_ergm(dyads, terms=["edges", "mutual", "edgecov:density_diff_per_1000", "edgecov:distance_10km"])
    print(res.summary())
"""

from mignet.network.model import DyadDataError, ErgmExistenceWarning, ErgmModel, ErgmResults, fit_ergm
from mignet.network.terms import DyadDependentTermError

STUDY_TERMS = ["edges", "mutual", "edgecov:density_diff_per_1000", "edgecov:distance_10km"]

__all__ = [
    "fit_ergm", "ErgmModel", "ErgmResults", "ErgmExistenceWarning", "DyadDataError", "DyadDependentTermError",
    "STUDY_TERMS",
]
