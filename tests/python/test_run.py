"""`mignet run` end to end on a small generated register (scale 0.01): every stage runs and both reports
appear; a second run skips everything as up to date; a removed output or a changed input reruns exactly
what depends on it, saying why."""

from __future__ import annotations

import json
import os
import re

import pytest
from click.testing import CliRunner

from mignet.pipeline import code_closure, run
from mignet.runstate import RunState, differences, files_fingerprint

from mignet.pipeline import STAGES as PIPELINE_STAGES  # noqa: E402

STAGES = [stage.name for stage in PIPELINE_STAGES]


def _statuses(output: str) -> dict[str, str]:
    """{stage: status} from the closing summary."""
    summary = output.split("\nSummary\n", 1)[1]
    return {m.group(1): m.group(2) for m in re.finditer(r"^  (\S+)\s+(ran|up to date|failed)\s", summary, re.M)}


@pytest.fixture
def run_env(tmp_path, monkeypatch):
    for name, value in {"MIGNET_DATA_DIR": tmp_path / "data", "MIGNET_REPORTS_DIR": tmp_path / "reports"}.items():
        monkeypatch.setenv(name, str(value))
    for name in ("MIGNET_RAW_DIR", "MIGNET_WAREHOUSE", "MIGNET_RELEASES_DIR", "MIGNET_ANALYTICS_DB", "MIGNET_SECURE_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.slow
def test_run_end_to_end_then_up_to_date_then_targeted_reruns(run_env):
    args = ["--scale", "0.01", "--seed", "7", "--geography", "synthetic-small", "--gof-sims", "10"]
    runner = CliRunner()
    first = runner.invoke(run, args)
    assert first.exit_code == 0, first.output + repr(first.exception)
    assert _statuses(first.output) == {s: "ran" for s in STAGES}
    models = run_env / "reports" / "models" / "index.html"
    quality = run_env / "reports" / "quality" / "index.html"
    assert models.is_file() and quality.is_file()
    assert f"analysis report: {models}" in first.output
    for name, title in (("income_positions", "income-position report"), ("arrivals", "arrival report")):
        assert f"{title}: {run_env / 'reports' / name / 'index.html'}" in first.output
    assert re.search(r"certified: .*mart_network_dyads", first.output)
    page = models.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 5
    assert "seed=7" in page  # the methods section states the generator parameters of this run
    state = json.loads((run_env / "data" / "run_state.json").read_text())
    assert set(state["stages"]) == set(STAGES)
    assert state["run"]["build_id"] == state["stages"]["build"]["outputs"]["build_id"]

    second = runner.invoke(run, args)
    assert second.exit_code == 0, second.output
    # (a source file edited during the test, e.g. by a concurrent checkout edit, rightly reruns its stage)
    assert _statuses(second.output) == {s: "up to date" for s in STAGES}, second.output[-3000:]
    assert second.output.count("... up to date") == len(STAGES)

    models.unlink()
    third = runner.invoke(run, args)
    assert third.exit_code == 0, third.output
    assert _statuses(third.output) == {**{s: "up to date" for s in STAGES[:-1]}, "report": "ran"}
    assert f"report: write the report pages ... runs ({models} is missing)" in third.output

    # More simulations change the goodness of fit only: gof reruns, and what reads it (the release carries
    # the goodness of fit, the report draws it); the rest is kept.
    fourth = runner.invoke(run, [*args[:-1], "12"])
    assert fourth.exit_code == 0, fourth.output
    assert _statuses(fourth.output) == {**{s: "up to date" for s in STAGES}, "gof": "ran", "publish": "ran",
                                        "report": "ran"}
    assert "runs (n_sim 10 -> 12)" in fourth.output

    # --from reruns that stage and every later one, and nothing before it
    fifth = runner.invoke(run, [*args[:-1], "12", "--from", "gof"])
    assert fifth.exit_code == 0, fifth.output
    later = STAGES[STAGES.index("gof"):]
    assert _statuses(fifth.output) == {**{s: "up to date" for s in STAGES}, **{s: "ran" for s in later}}
    assert "gof: goodness of fit by simulation ... runs (--from gof)" in fifth.output
    assert "publish: publish certified marts and model estimates ... runs (gof changed)" in fourth.output


def test_generator_options_are_refused_with_a_raw_dir(run_env):
    raw = run_env / "extract"
    raw.mkdir()
    result = CliRunner().invoke(run, ["--raw-dir", str(raw), "--scale", "0.5"])
    assert result.exit_code == 2
    assert "--scale: generator options apply only without --raw-dir" in result.output


def test_broken_extract_stops_at_check_raw_with_file_and_rule(run_env):
    raw = run_env / "extract"
    raw.mkdir()
    (raw / "moves.csv").write_text("move_id,person_id\n1,p1\n")
    result = CliRunner().invoke(run, ["--raw-dir", str(raw)])
    assert result.exit_code == 1
    assert "moves.csv" in result.output and "rule" in result.output
    assert _statuses(result.output) == {"check-raw": "failed"}
    state = RunState(run_env / "data" / "run_state.json")
    assert state.failure("check-raw")
    again = CliRunner().invoke(run, ["--raw-dir", str(raw)])
    assert "runs (it failed last time:" in again.output


def test_fingerprints_name_what_changed(tmp_path):
    (tmp_path / "moves.parquet").write_bytes(b"a" * 10)
    (tmp_path / "persons.parquet").write_bytes(b"b" * 10)
    cache: dict = {}
    before = files_fingerprint(tmp_path, cache)
    assert set(cache) == {"moves.parquet", "persons.parquet"}
    (tmp_path / "moves.parquet").write_bytes(b"c" * 10)  # same size, new content
    os.utime(tmp_path / "moves.parquet", ns=(1, 1))  # and a different mtime even on a coarse clock
    after = files_fingerprint(tmp_path, dict(cache))
    assert differences({"raw_files": before, "seed": 1}, {"raw_files": after, "seed": 2}) == [
        "raw_files changed (moves.parquet)", "seed 1 -> 2"]
    assert differences(None, {"x": 1}) == ["never run"]


def test_code_fingerprints_follow_the_imports_of_each_stage():
    """A stage's code is every mignet module its entry imports, directly or not, function-level imports
    included: fit depends on the model and the warehouse, not on the report; the report depends on the
    scenario probabilities it imports from the network package, and on its templates."""
    from mignet.pipeline import PACKAGE_ROOT

    def names(entry):
        return {p.relative_to(PACKAGE_ROOT.parent).as_posix() for p in code_closure(entry)}

    fit = names("mignet.network.fit")
    assert {"mignet/network/model.py", "mignet/network/likelihood.py", "mignet/warehouse/__init__.py",
            "mignet/warehouse/build_settings.py", "mignet/db.py"} <= fit
    assert not any(n.startswith("mignet/report/") for n in fit)
    report = names("mignet.report.models")
    assert "mignet/network/scenario.py" in report and "mignet/report/templates/models.html.j2" in report
    validate = names("mignet.quality.validate")
    assert "mignet/quality/expectations.py" in validate and "mignet/quality/templates/quality_report.html.j2" in validate
