"""`mignet fit`, `mignet scenario` and `mignet gof`."""

from __future__ import annotations

import click

from mignet.settings import Settings


def _progress(message: str) -> None:
    click.echo(message)


def _refusals():
    from mignet.warehouse import WarehouseError

    return (WarehouseError, FileNotFoundError, ValueError)


@click.command("fit")
@click.option("--method", type=click.Choice(["mle", "mple"]), default="mle", show_default=True,
              help="mle: exact maximum likelihood; mple: ergm's maximum pseudo-likelihood (for comparison).")
@click.option("--counts", is_flag=True,
              help="Also fit the count models of n_moves (Poisson PML, negative binomial) and the pooled tests of "
                   "change between periods; write results.count_estimates and results.period_change_tests.")
@click.option("--counts-only", is_flag=True,
              help="Only the count models and the pooled tests (results.model_estimates is left as it is).")
def fit(method, counts, counts_only):
    """Fit the ERGM of every network (each period x all movers, each age band, each income group of the
    seeds: marts.dim_network) on the certified network dyads; write results.model_estimates and the appendix
    tables (reports/models/tables/). With --counts, also the count (gravity) models per network and the Wald
    tests, pooled over the periods with pair-clustered standard errors, of whether the density and distance
    effects changed (they refit the exact ERGM: their sandwich needs its scores, whatever --method says)."""
    from mignet.network.fit import fit_all

    settings = Settings.from_env()
    try:
        if not counts_only:
            fit_all(settings, method=method, progress=_progress)
        if counts or counts_only:
            from mignet.network.pooled import run_counts

            run_counts(settings, progress=_progress)
    except _refusals() as err:
        raise click.ClickException(f"mignet fit refused: {err}") from None


@click.command("scenario")
@click.argument("origin")
@click.argument("destination")
@click.option("--period", default=None, help="A period of the periods seed (default: the last one).")
@click.option("--group", default="all", show_default=True,
              help="all, an age band or an income group (as in marts.dim_network).")
@click.option("--method", type=click.Choice(["mle", "mple"]), default=None, help="Which stored fit (default: the stored one).")
def scenario(origin, destination, period, group, method):
    """Tie probabilities ORIGIN -> DESTINATION (NIS codes or Dutch/French names) under a fitted model."""
    from mignet.network.scenario import ScenarioError
    from mignet.network.scenario import scenario as compute

    settings = Settings.from_env()
    try:
        s = compute(settings, origin, destination, period, group, method=method)
    except (ScenarioError, *_refusals()) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{s.origin_name} ({s.origin_nis}) -> {s.destination_name} ({s.destination_nis}), "
               f"{s.period_label}, {'all movers' if s.group_type == 'all' else s.group_type + ' ' + s.group_value} "
               f"({'exact MLE' if s.method == 'mle' else s.method})")
    click.echo(f"  density difference {s.covariates['density_diff_per_1000']:+.3f} thousand inh./km², "
               f"distance {s.covariates['distance_km']:.1f} km; observed tie {s.observed_tie}, reverse tie {s.observed_reverse_tie}")
    click.echo(f"  P(tie | no reverse tie) = {s.p_given_no_reverse:.4f}")
    click.echo(f"  P(tie | reverse tie)    = {s.p_given_reverse:.4f}")
    click.echo(f"  P(tie) marginal         = {s.p_marginal:.4f}")


@click.command("gof")
@click.option("--n-sim", type=click.IntRange(min=2), default=200, show_default=True, help="Simulated networks per model.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--all-figures", is_flag=True, help="Distribution figures for every network, not only all movers.")
def gof(n_sim, seed, all_figures):
    """Goodness of fit of the stored ERGMs by exact simulation; writes results.model_gof and figures."""
    from mignet.network.gof import run_gof

    settings = Settings.from_env()
    try:
        run_gof(settings, n_sim=n_sim, seed=seed, progress=_progress, all_figures=all_figures)
    except (RuntimeError, *_refusals()) as err:
        raise click.ClickException(f"mignet gof refused: {err}") from None
