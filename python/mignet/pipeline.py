"""`mignet run`: the whole pipeline in one command, skipping what is up to date.

Stages: generate (only without --raw-dir) -> check-raw -> build (dbt) -> validate (certify) -> fit -> gof ->
counts -> publish -> report. Publishing comes after the models so that a release carries the estimates fitted on
exactly the marts it holds. If validation refuses a mart the run stops before the models, pointing to the
quality report.

Each stage declares what it reads (`Stage.inputs`, names of `INPUTS`) and the module that does its work
(`Stage.entry`). Its fingerprint is the value of each input plus the source of every mignet module the entry
module imports, directly or not (`code_fingerprint`), so a changed input or a changed line of code reruns
exactly the stages that depend on it, and the run says which input changed. Fingerprints are kept in
`<data_dir>/run_state.json`.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import click

from mignet.runstate import DBT_PROJECT_PATHS, RunState, differences, files_fingerprint, tree_hash
from mignet.settings import Settings

RUN_STATE_FILE = "run_state.json"
# Default scale of `mignet run`: 10 % of Belgian volumes (about 360,000 inter-municipal moves), which runs
# end to end in a few minutes on 2 cores. `--scale 1` is Belgian scale.
DEFAULT_SCALE = 0.1
DEFAULT_SEED = 20180101
GOF_SIMULATIONS = 200
GOF_SEED = 1
FIT_METHOD = "mle"
PACKAGE_ROOT = Path(__file__).resolve().parent


class StageFailed(click.ClickException):
    """A stage stopped the run; the message says what to look at. Exit code 1, or 2 when validation refused."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class RunContext:
    settings: Settings
    state: RunState
    generate: bool
    generator: dict
    dbt_vars: dict
    force: bool
    gof_sims: int = GOF_SIMULATIONS
    outputs: dict = field(default_factory=dict)  # this run's outputs of each stage, by stage name
    raw_cache: dict = field(default_factory=dict)

    def output(self, stage: str, key: str, default=None):
        return (self.outputs.get(stage) or {}).get(key, default)


# ---- code fingerprints ---------------------------------------------------------------------------------

def _module_file(name: str) -> Path | None:
    """The source file of mignet module `name` (a package's __init__.py), or None if it is not ours."""
    parts = name.split(".")
    if parts[0] != "mignet":
        return None
    base = PACKAGE_ROOT.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imports(name: str, path: Path) -> set[str]:
    """mignet modules that module `name` imports anywhere in its source (function-level imports included)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    out = set()
    for module in found:
        parts = module.split(".")
        # importing a.b.c runs a/__init__, a/b/__init__ too
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {m for m in out if _module_file(m) is not None}


@lru_cache(maxsize=None)
def code_closure(entry: str) -> tuple[Path, ...]:
    """Every mignet source file module `entry` depends on, with the templates of their packages."""
    seen: dict[str, Path] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            raise ValueError(f"{name} is not a module of the mignet package")
        seen[name] = path
        todo.extend(_imports(name, path) - set(seen))
    files = set(seen.values())
    for path in list(files):
        templates = path.parent / "templates"
        if templates.is_dir():
            files.update(p for p in templates.rglob("*") if p.is_file())
    return tuple(sorted(files))


def code_fingerprint(entry: str) -> str:
    h = hashlib.sha256()
    for path in code_closure(entry):
        h.update(str(path.relative_to(PACKAGE_ROOT)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:20]


# ---- inputs: what a stage reads, by name ------------------------------------------------------------------

def _raw_files(ctx: RunContext) -> dict:
    previous = (ctx.state.data.get("raw_cache") or {}) if not ctx.raw_cache else ctx.raw_cache
    cache = dict(previous)
    fp = files_fingerprint(ctx.settings.raw_dir, cache, patterns=("*.parquet", "*.csv"))
    ctx.raw_cache = cache
    return fp


def _geography(geography: str) -> str:
    if geography == "synthetic":
        return "synthetic"
    folder = Path(geography)
    return f"{folder.resolve()}:{tree_hash(folder, ('.',))}" if folder.is_dir() else str(geography)


def _reference_polygons(ctx: RunContext):
    from mignet.report.maps import POLYGONS_FILE

    path = ctx.settings.reference_dir / POLYGONS_FILE
    return f"{path.stat().st_size}:{path.stat().st_mtime_ns}" if path.is_file() else None


INPUTS: dict[str, Callable[[RunContext], object]] = {
    "generator": lambda ctx: {**ctx.generator, "geography": _geography(str(ctx.generator["geography"]))},
    "raw_dir": lambda ctx: str(ctx.settings.raw_dir),
    "raw_files": _raw_files,
    "dbt_project": lambda ctx: tree_hash(ctx.settings.project_root, DBT_PROJECT_PATHS),
    "dbt_vars": lambda ctx: ctx.dbt_vars,
    "warehouse": lambda ctx: str(ctx.settings.warehouse),
    "build_id": lambda ctx: ctx.output("build", "build_id"),
    "certifications": lambda ctx: ctx.output("validate", "certification_ids"),
    "fit_method": lambda ctx: FIT_METHOD,
    "estimates": lambda ctx: ctx.output("fit", "content_hash"),
    "n_sim": lambda ctx: ctx.gof_sims,
    "gof_seed": lambda ctx: GOF_SEED,
    "gof": lambda ctx: ctx.output("gof", "content_hash"),
    "counts": lambda ctx: ctx.output("counts", "content_hashes"),
    "release_id": lambda ctx: ctx.output("publish", "release_id"),
    "polygons": _reference_polygons,
}


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    entry: str  # the module that does the work; its code (and what it imports) is part of the fingerprint
    inputs: tuple[str, ...]
    execute: Callable[[RunContext, Callable[[str], None]], dict]
    # why the recorded outputs are unusable now (None: they are fine)
    missing_outputs: Callable[[RunContext, dict], str | None] = lambda ctx, outputs: None

    def fingerprint(self, ctx: RunContext) -> dict:
        fp = {name: INPUTS[name](ctx) for name in self.inputs}
        fp["code"] = code_fingerprint(self.entry)
        return fp


# ---- output checks ---------------------------------------------------------------------------------------

def out_generate(ctx, outputs):
    manifest = ctx.settings.raw_dir / "manifest.json"
    if not manifest.is_file():
        return f"{manifest} is missing"
    if _raw_files(ctx) != outputs.get("raw_files"):
        return "the raw files changed since they were generated"
    return None


def _warehouse_identity(settings: Settings) -> list | None:
    path = settings.warehouse
    if not path.is_file():
        return None
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def out_build(ctx, outputs):
    if not ctx.settings.warehouse.is_file():
        return f"the warehouse {ctx.settings.warehouse} is missing"
    last = ctx.state.data.get("warehouse_after_run")
    if last is not None and _warehouse_identity(ctx.settings) != last:
        return "the warehouse was changed outside `mignet run` since the last run"
    return None


def out_validate(ctx, outputs):
    report = Path(outputs.get("report_path") or "")
    if not report.is_file():
        return f"the quality report {report} is missing"
    return None


def _results_reason(ctx, table: str, content_hash: str | None) -> str | None:
    from mignet.warehouse import Warehouse, WarehouseError

    warehouse = Warehouse(ctx.settings)
    try:
        with warehouse.connect() as con:
            record = warehouse.verify_results(con, table)
    except WarehouseError as exc:
        return str(exc)
    if record["content_hash"] != content_hash:
        return f"results.{table} is not the table this run wrote"
    return None


def out_fit(ctx, outputs):
    return _results_reason(ctx, "model_estimates", outputs.get("content_hash"))


def out_gof(ctx, outputs):
    return _results_reason(ctx, "model_gof", outputs.get("content_hash"))


def out_counts(ctx, outputs):
    hashes = outputs.get("content_hashes") or {}
    for table in ("count_estimates", "period_change_tests"):
        reason = _results_reason(ctx, table, hashes.get(table))
        if reason:
            return reason
    return None


def out_publish(ctx, outputs):
    from mignet.quality.publish import tiers

    for tier in tiers(ctx.settings):
        current = tier.releases_dir / "current"
        if not current.exists():
            return f"{current} is missing"
        if current.resolve().name != outputs.get("release_id"):
            return f"the current {tier.name} release is {current.resolve().name}, not {outputs.get('release_id')}"
        if not tier.analytics_db.is_file():
            return f"{tier.analytics_db} is missing"
    return None


def out_report(ctx, outputs):
    from mignet.report.pages import WRITERS

    for name in WRITERS:
        path = ctx.settings.reports_dir / name / "index.html"
        if not path.is_file():
            return f"{path} is missing"
    return None


# ---- stage bodies ---------------------------------------------------------------------------------------

def run_generate(ctx, say):
    from mignet.generate import generate_register

    g = ctx.generator
    manifest = generate_register(ctx.settings.raw_dir, scale=g["scale"], seed=g["seed"], geography=g["geography"],
                                 faults=g["faults"], progress=say)
    ctx.raw_cache = {}
    counts = manifest.get("row_counts") or manifest.get("rows") or {}
    return {"raw_files": _raw_files(ctx), "row_counts": counts}


def run_check_raw(ctx, say):
    from mignet.raw import RawContractError, check_raw

    try:
        report = check_raw(ctx.settings.raw_dir)
    except RawContractError as exc:
        raise StageFailed(str(exc)) from exc
    for name, table in report["tables"].items():
        say(f"{name}: {table['rows']:,} rows ({table['format']})")
        for w in table["warnings"]:
            say(f"  warning: {w.get('count', 0):,} rows break {w['rule']} (column {w.get('column')}): quarantined by the warehouse")
    return {"warnings": int(report.get("warning_count", 0)),
            "rows": {name: t["rows"] for name, t in report["tables"].items()}}


def run_build(ctx, say):
    from mignet.warehouse.build import build_warehouse

    result = build_warehouse(ctx.settings, dbt_vars=ctx.dbt_vars or None, progress=say)
    if not result.ok:
        where = [str(p) for p in (result.run_results_path, result.log_path) if p is not None and p.is_file()]
        raise StageFailed(
            f"dbt build failed (build {result.build_id}); the previous warehouse stays in place."
            + ("\n  " + "\n  ".join(result.failures[:10]) if result.failures else "")
            + (f"\nSee {' and '.join(where)}." if where else "")
        )
    return {"build_id": result.build_id, "run_results_path": str(result.run_results_path) if result.run_results_path else None}


def run_validate(ctx, say):
    from mignet.quality.validate import validate

    kwargs = {}
    run_results = ctx.output("build", "run_results_path")
    if run_results and Path(run_results).is_file():
        kwargs["artifacts_dir"] = Path(run_results).parent
    result = validate(ctx.settings, progress=say, **kwargs)
    if not result.all_certified:
        failed = result.failed_checks()
        lines = [f"  {mart}: {', '.join(checks) or 'refused'}" for mart, checks in failed.items()]
        raise StageFailed(
            "validation refused these marts, so the models were not fitted (nothing was published):\n"
            + "\n".join(lines) + f"\nRead the quality report: {result.report_path}",
            exit_code=2,
        )
    return {
        "build_id": result.build_id,
        "certified": result.certified,
        "certification_ids": {m: c.certification_id for m, c in result.certifications.items()},
        "report_path": str(result.report_path),
    }


def _results_hash(ctx, table: str) -> str:
    from mignet.warehouse import Warehouse

    warehouse = Warehouse(ctx.settings)
    with warehouse.connect() as con:
        return warehouse.verify_results(con, table)["content_hash"]


def run_fit(ctx, say):
    from mignet.network.fit import fit_all

    estimates = fit_all(ctx.settings, method=FIT_METHOD, progress=say)
    n_models = estimates.groupby(["period_label", "group_type", "group_value"]).ngroups
    return {"content_hash": _results_hash(ctx, "model_estimates"), "n_models": int(n_models)}


def run_gof_stage(ctx, say):
    from mignet.network.gof import run_gof

    gof = run_gof(ctx.settings, n_sim=ctx.gof_sims, seed=GOF_SEED, progress=say)
    return {"rows": int(len(gof)), "n_sim": ctx.gof_sims, "content_hash": _results_hash(ctx, "model_gof")}


def run_counts_stage(ctx, say):
    from mignet.network.pooled import CHANGE_TESTS, COUNT_ESTIMATES, run_counts

    run = run_counts(ctx.settings, progress=say)
    return {"content_hashes": {t: _results_hash(ctx, t) for t in (COUNT_ESTIMATES, CHANGE_TESTS)},
            "rows": {COUNT_ESTIMATES: int(len(run.estimates)), CHANGE_TESTS: int(len(run.tests))}}


def run_publish(ctx, say):
    from mignet.quality.publish import publish

    release_id = publish(ctx.settings, progress=say)
    return {"release_id": release_id}


def run_report(ctx, say):
    from mignet.report.pages import write_reports

    written = write_reports(ctx.settings, progress=say)
    return {"path": str(written["models"]), "pages": {name: str(path) for name, path in written.items()}}


STAGES = [
    Stage("generate", "generate a synthetic register", "mignet.generate", ("generator", "raw_dir"), run_generate,
          out_generate),
    Stage("check-raw", "check the raw extract against the contract", "mignet.raw", ("raw_files",), run_check_raw),
    Stage("build", "dbt build into a fresh warehouse", "mignet.warehouse.build",
          ("raw_files", "raw_dir", "dbt_project", "dbt_vars", "warehouse"), run_build, out_build),
    Stage("validate", "validate and certify the marts", "mignet.quality.validate", ("build_id",), run_validate,
          out_validate),
    Stage("fit", "fit the ERGMs", "mignet.network.fit", ("certifications", "fit_method"), run_fit, out_fit),
    Stage("gof", "goodness of fit by simulation", "mignet.network.gof", ("estimates", "n_sim", "gof_seed"),
          run_gof_stage, out_gof),
    Stage("counts", "count models and pooled tests of change", "mignet.network.pooled", ("certifications",),
          run_counts_stage, out_counts),
    Stage("publish", "publish certified marts and model estimates", "mignet.quality.publish",
          ("certifications", "estimates", "gof", "counts"), run_publish, out_publish),
    Stage("report", "write the report pages", "mignet.report.pages",
          ("estimates", "gof", "counts", "certifications", "release_id", "polygons"), run_report, out_report),
]


# ---- driver ---------------------------------------------------------------------------------------------

def _echo(message: str = "", **kw) -> None:
    click.echo(message, **kw)


def run_pipeline(settings: Settings, generate: bool, generator: dict, dbt_vars: dict | None = None,
                 force: bool = False, echo: Callable[[str], None] = _echo, result: dict | None = None,
                 until: str | None = None, gof_sims: int = GOF_SIMULATIONS, rerun_from: str | None = None) -> dict:
    """Run the stages in order (`force`: every stage reruns; `rerun_from`: that stage and every later one
    rerun, the earlier ones only if out of date), holding the data folder (`mignet.locking`: one run per data folder at a
    time, refused with DataFolderBusyError naming the other; the first to hold it removes what killed runs
    left behind). Returns (and fills `result`) as `_run_stages`."""
    from mignet.locking import hold_data_folder

    with hold_data_folder(settings, progress=echo):
        return _run_stages(settings, generate, generator, dbt_vars=dbt_vars, force=force, echo=echo,
                           result=result, until=until, gof_sims=gof_sims, rerun_from=rerun_from)


def _run_stages(settings: Settings, generate: bool, generator: dict, dbt_vars: dict | None = None,
                force: bool = False, echo: Callable[[str], None] = _echo, result: dict | None = None,
                until: str | None = None, gof_sims: int = GOF_SIMULATIONS, rerun_from: str | None = None) -> dict:
    """Run the stages in order. Returns (and fills `result`, when given, as it goes) {"stages": {stage:
    {"status", "elapsed_s", "reason"}}, "outputs", "elapsed_s"}. Raises StageFailed when a stage stops the
    run; the stages that finished stay recorded and are skipped next time."""
    state = RunState(settings.data_dir / RUN_STATE_FILE)
    if state.problem:
        echo(f"note: {state.problem}")
    ctx = RunContext(settings=settings, state=state, generate=generate, generator=generator,
                     dbt_vars=dict(dbt_vars or {}), force=force, gof_sims=gof_sims)
    stages = [s for s in STAGES if generate or s.name != "generate"]
    names = [s.name for s in stages]
    for option, stage_name in (("--until", until), ("--from", rerun_from)):
        if stage_name is not None and stage_name not in names:
            raise click.BadParameter(f"{stage_name!r} is not a stage of this run ({', '.join(names)})",
                                     param_hint=option)
    forced = set(names if force else names[names.index(rerun_from):] if rerun_from else ())
    if until is not None:
        stages = stages[: names.index(until) + 1]

    def remember_run() -> None:
        state.data["raw_cache"] = ctx.raw_cache or state.data.get("raw_cache") or {}
        state.data["run"] = {
            "generator": generator if generate else None,
            "raw_dir": str(settings.raw_dir),
            "dbt_vars": ctx.dbt_vars,
            "build_id": ctx.output("build", "build_id"),
            "release_id": ctx.output("publish", "release_id"),
        }
    result = result if result is not None else {}
    summary = result.setdefault("stages", {})
    result.update(stages=summary, outputs=ctx.outputs)
    started = time.perf_counter()
    try:
        for number, stage in enumerate(stages, 1):
            header = f"[{number}/{len(stages)}] {stage.name}: {stage.title}"
            fingerprint = stage.fingerprint(ctx)
            recorded = state.stage(stage.name)
            reason = None
            if stage.name in forced:
                reason = "--force" if force else f"--from {rerun_from}"
            elif state.failure(stage.name):
                reason = f"it failed last time: {state.failure(stage.name)}"
            else:
                changed = differences(recorded["fingerprint"] if recorded else None, fingerprint)
                if changed:
                    reason = "; ".join(changed)
                else:
                    reason = stage.missing_outputs(ctx, recorded.get("outputs") or {})
            if reason is None:
                ctx.outputs[stage.name] = recorded.get("outputs") or {}
                echo(f"{header} ... up to date")
                summary[stage.name] = {"status": "up to date", "elapsed_s": 0.0}
                continue
            echo(f"{header} ... runs ({reason})")
            t0 = time.perf_counter()

            def say(message: str, _t0=t0) -> None:
                echo(f"    {time.perf_counter() - _t0:6.1f}s  {message}")

            try:
                outputs = stage.execute(ctx, say) or {}
            except Exception as exc:
                failure = exc if isinstance(exc, StageFailed) else StageFailed(
                    f"stage {stage.name} failed: {type(exc).__name__}: {exc}")
                state.mark_failed(stage.name, str(failure.message).splitlines()[0])
                summary[stage.name] = {"status": "failed", "elapsed_s": time.perf_counter() - t0}
                result["failure"] = failure
                if failure is exc:
                    raise
                raise failure from exc
            elapsed = time.perf_counter() - t0
            ctx.outputs[stage.name] = outputs
            remember_run()
            # inputs that are outputs of an earlier stage of this run are known only now for a skipped stage's
            # successors; the fingerprint recorded is the one the stage ran with
            state.record(stage.name, fingerprint, outputs, elapsed)
            echo(f"    done in {elapsed:.1f}s")
            summary[stage.name] = {"status": "ran", "elapsed_s": elapsed, "reason": reason}
    finally:
        remember_run()
        state.data["warehouse_after_run"] = _warehouse_identity(settings)
        result["elapsed_s"] = time.perf_counter() - started
        state.save()
    return result


def print_summary(settings: Settings, result: dict, echo=_echo) -> None:
    echo("")
    echo("Summary")
    for name, entry in result["stages"].items():
        echo(f"  {name:<10} {entry['status']:<11} {entry['elapsed_s']:7.1f}s")
    echo(f"  {'total':<10} {'':<11} {result.get('elapsed_s', 0.0):7.1f}s")
    outputs = result.get("outputs") or {}
    certified = (outputs.get("validate") or {}).get("certified") or {}
    if certified:
        good = [m for m, ok in certified.items() if ok]
        echo(f"  certified: {', '.join(good)}" + (f"; refused: {', '.join(m for m, ok in certified.items() if not ok)}"
                                                  if len(good) < len(certified) else ""))
    release = (outputs.get("publish") or {}).get("release_id")
    if release:
        from mignet.quality.publish import tiers

        secure, public = tiers(settings)
        echo(f"  release {release}: public aggregates in {public.analytics_db}; inside the secure environment "
             f"{secure.analytics_db} (microdata); open them read-only")
    quality = settings.reports_dir / "quality" / "index.html"
    if quality.is_file():
        echo(f"  quality report: {quality}")
    from mignet.report import PAGES

    for name, title in PAGES.items():
        page = settings.reports_dir / name / "index.html"
        if page.is_file():
            echo(f"  {title}: {page}")


@click.command("run")
@click.option("--raw-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Use this existing raw extract folder (e.g. a real register extract) instead of generating one.")
@click.option("--scale", type=float, default=DEFAULT_SCALE, show_default=True,
              help="Size of the generated register; 1.0 is Belgian scale (about 3.6 million inter-municipal moves).")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Seed of the generated register.")
@click.option("--geography", default="synthetic", show_default=True,
              help="'synthetic', or a folder of real municipalities such as ../shared/reference.")
@click.option("--faults", type=float, default=0.0, show_default=True,
              help="Share of generated rows with injected defects (they end in quarantine or refuse certification).")
@click.option("--dbt-var", "dbt_vars", multiple=True, metavar="KEY=VALUE",
              help="Override a dbt var of the build, e.g. --dbt-var imputation_method=median (repeatable).")
@click.option("--gof-sims", type=click.IntRange(min=2), default=GOF_SIMULATIONS, show_default=True,
              help="Simulations per network for the goodness of fit (fewer is faster, with wider bands).")
@click.option("--force", is_flag=True, help="Rerun every stage even when it is up to date.")
@click.option("--from", "rerun_from", type=click.Choice([s.name for s in STAGES]),
              help="Rerun this stage and every later one, e.g. --from fit after changing the models' code.")
@click.option("--until", type=click.Choice([s.name for s in STAGES]), help="Stop after this stage.")
@click.pass_context
def run(ctx, raw_dir, scale, seed, geography, faults, dbt_vars, gof_sims, force, rerun_from, until):
    """Everything end to end: generate, check, build, validate, fit, gof, counts, publish, reports.

    \b
    Without --raw-dir a synthetic register is generated into $MIGNET_RAW_DIR (default data/raw).
    A second run skips the stages whose inputs did not change (state in data/run_state.json) and says
    why it reruns the others. Exit code 2 when validation refuses a mart (see reports/quality/index.html).
    """
    from mignet.warehouse.build_settings import BuildVarError, parse_var_assignments

    settings = Settings.from_env()
    generator_options = [name for name in ("scale", "seed", "geography", "faults")
                         if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    try:
        overrides = parse_var_assignments(dbt_vars, settings.project_root)
    except BuildVarError as exc:
        raise click.BadParameter(str(exc), param_hint="--dbt-var") from None
    if "raw_dir" in overrides:
        raise click.BadParameter("the raw extract folder is --raw-dir (or MIGNET_RAW_DIR), not a dbt var: check-raw, "
                                 "the build and the reports must all read the same folder", param_hint="--dbt-var")
    if raw_dir is not None:
        if generator_options:
            raise click.UsageError(f"--{', --'.join(generator_options)}: generator options apply only without --raw-dir")
        if not raw_dir.is_dir():
            raise click.BadParameter(f"{raw_dir} is not a folder", param_hint="--raw-dir")
        settings = dataclasses.replace(settings, raw_dir=raw_dir.resolve())
    generator = {"scale": scale, "seed": seed, "geography": geography, "faults": faults}
    click.echo(f"mignet run: raw extract {settings.raw_dir}" + (" (generated)" if raw_dir is None else "")
               + f", warehouse {settings.warehouse}")
    result: dict = {"stages": {}}
    try:
        run_pipeline(settings, generate=raw_dir is None, generator=generator, dbt_vars=overrides,
                     force=force, result=result, until=until, gof_sims=gof_sims, rerun_from=rerun_from)
    except StageFailed:
        print_summary(settings, result)
        click.echo("mignet run stopped; the stages that finished are kept and will be skipped next time.", err=True)
        raise
    print_summary(settings, result)


if __name__ == "__main__":
    sys.exit(run())
