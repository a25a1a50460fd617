"""Source freshness thresholds from config/freshness.yaml, and how dbt's results are read
(no dbt run here: tests/dbt/test_source_freshness.py runs it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmledger import freshness
from llmledger.config import ConfigError
from llmledger.paths import Home

SOURCES_YML = Path(__file__).resolve().parents[2] / "dbt" / "models" / "staging" / "_sources.yml"


def _home(tmp_path: Path, yaml_text: str | None = None) -> Home:
    home = Home(tmp_path / "home")
    home.config.mkdir(parents=True)
    if yaml_text is not None:
        (home.config / freshness.FRESHNESS_FILE).write_text(yaml_text)
    return home


def test_no_file_means_the_defaults_and_the_default_file_says_the_same(tmp_path):
    home = _home(tmp_path)
    defaults = freshness.load_thresholds(home)
    assert defaults["focus"] == freshness.Threshold("focus", 36, 72)
    assert defaults["annotation_invoice"] == freshness.Threshold("annotation_invoice", 840, 1080)
    freshness.write_default(home)
    assert freshness.load_thresholds(home) == defaults


def test_dbt_defaults_match_the_python_defaults():
    """A bare `dbt source freshness` (no --vars) applies the same thresholds."""
    text = SOURCES_YML.read_text()
    for kind, (warn, error) in freshness.DEFAULT_HOURS.items():
        found = re.findall(rf"get\('{kind}', {{}}\)\.get\('(\w+)', (\d+)\)", text)
        assert dict(found) == {"warn_after_hours": str(warn), "error_after_hours": str(error)}


def test_partial_and_switched_off_thresholds(tmp_path):
    home = _home(
        tmp_path,
        "focus: {warn_after_hours: 12}\nslurm_job: {error_after_hours: null}\nrun_manifest: off\n",
    )
    got = freshness.load_thresholds(home)
    assert got["focus"] == freshness.Threshold("focus", 12, 72)
    assert got["slurm_job"] == freshness.Threshold("slurm_job", 36, None)
    assert got["slurm_job"].dbt_vars() == {
        "warn_after_hours": 36,
        "error_after_hours": freshness.OFF_HOURS,
    }
    assert not got["run_manifest"].enabled


def test_every_problem_is_named_with_file_key_value_and_expectation(tmp_path):
    home = _home(
        tmp_path,
        "focus: {warn_after_hours: 80, error_after_hours: 72}\n"
        "slurm_job: {warn_after_hours: -1, error_after: 5}\n"
        "billing: {warn_after_hours: 1}\n"
        "run_manifest: 12\n"
        "annotation_invoice: {warn_after_hours: 1.5}\n",
    )
    with pytest.raises(ConfigError) as err:
        freshness.load_thresholds(home)
    message = str(err.value)
    for expected in (
        "config/freshness.yaml, key focus.warn_after_hours: value '80' — expected fewer hours "
        "than error_after_hours (72)",
        "key slurm_job.warn_after_hours: value '-1' — expected a whole number of hours > 0",
        "key slurm_job.error_after — expected one of warn_after_hours, error_after_hours",
        "key billing — expected a source kind, one of focus, annotation_invoice",
        "key run_manifest: value '12' — expected off, or a mapping",
        "key annotation_invoice.warn_after_hours: value '1.5' — expected a whole number",
    ):
        assert expected in message, expected
    assert message.startswith("6 problem(s) in the configuration:")


def test_not_yaml_or_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="valid YAML"):
        freshness.load_thresholds(_home(tmp_path, "focus: [unclosed\n"))
    (tmp_path / "home" / "config" / freshness.FRESHNESS_FILE).write_text("- focus\n")
    with pytest.raises(ConfigError, match="a mapping of kind -> thresholds"):
        freshness.load_thresholds(Home(tmp_path / "home"))


def test_dbt_runtime_errors_are_errors_naming_the_source():
    thresholds = {"focus": freshness.Threshold("focus", 36, 72)}
    result = freshness.parse_results(
        {
            "results": [
                {
                    "unique_id": "source.llmledger.raw.focus",
                    "status": "runtime error",
                    "message": "IO Error: No files found",
                }
            ]
        },
        thresholds,
    )
    [source] = result.errors
    assert str(source) == (
        "source raw.focus: ERROR: dbt could not check it: IO Error: No files found"
    )
