"""What the results classes of mignet's network models share: statsmodels' lazily cached, read-only
attributes (`cache_readonly`) and the Wald inference every model derives from its estimates and standard
errors (`WaldInference`: z, two-sided p-values, intervals, exponentiated effects), each from one formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps


class cache_readonly:
    """A read-only attribute computed on first access and kept in the instance's `_cache` dict: the descriptor
    statsmodels' results classes are built on (private in statsmodels 0.15, `statsmodels.tools._decorators`,
    so not imported from there). Unlike statsmodels' it also caches None (`pseudo_llf` of an MLE fit)."""

    def __init__(self, func):
        self.func = func
        self.__doc__ = func.__doc__
        self.name = func.__name__

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        cache = obj.__dict__.setdefault("_cache", {})
        try:
            return cache[self.name]
        except KeyError:
            value = cache[self.name] = self.func(obj)
            return value

    def __set__(self, obj, value):
        raise AttributeError(f"{type(obj).__name__}.{self.name} is derived from the fit and cannot be set")


class WaldInference:
    """z statistics, two-sided p-values and Wald intervals from `params` and `bse` (pandas Series on the
    terms), and the exponentiated estimates (odds ratios of a logit model, rate ratios of a count model)."""

    params: pd.Series
    bse: pd.Series

    @cache_readonly
    def tvalues(self) -> pd.Series:
        return (self.params / self.bse).rename("z")

    @cache_readonly
    def pvalues(self) -> pd.Series:
        """Two-sided Wald p-values."""
        return pd.Series(2 * sps.norm.sf(np.abs(self.tvalues.to_numpy(dtype=float))), index=self.params.index,
                         name="p_value")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals at level 1 - alpha: columns 0 (low) and 1 (high), as statsmodels."""
        q = sps.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({0: self.params - q * self.bse, 1: self.params + q * self.bse})

    def _exp_params(self, name: str) -> pd.Series:
        return np.exp(self.params).rename(name)
