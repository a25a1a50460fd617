"""``warehouse.dbt_build`` starts dbt before it knows the command (``StartedDbt``): dbt imports
itself and reads its saved parse while the config is staged and the build planned, then runs
the command it is handed, on that parse, with the plan's environment, and fails as dbt would.

dbt here is a stand-in package first on ``PYTHONPATH``: the started script imports it as it
would import dbt, and it records every invocation."""

import json
import sys
from pathlib import Path

import pytest

from llmledger import config, warehouse
from llmledger.incremental import EVERYTHING
from llmledger.paths import Home

FAKE_DBT_MAIN = """\
import atexit, gc, json, os

# As dbt-duckdb does (it closes its connections): the started dbt must run exit handlers.
EXITED = json.dumps({"exit": "handlers ran"}) + "\\n"
atexit.register(lambda: open(os.environ["FAKE_DBT_OUT"], "a").write(EXITED))


class Result:
    def __init__(self, success, result=None, exception=None):
        self.success, self.result, self.exception = success, result, exception


class dbtRunner:
    def __init__(self, manifest=None, callbacks=None):
        self.manifest = manifest

    def invoke(self, args):
        seen = {"args": args, "manifest": self.manifest,
                "window": os.environ.get("LLMLEDGER_REFRESH_FROM"),
                "home": os.environ.get("LLMLEDGER_HOME"),
                "collector": gc.isenabled(), "frozen": gc.get_freeze_count()}
        with open(os.environ["FAKE_DBT_OUT"], "a") as out:
            out.write(json.dumps(seen) + "\\n")
        if args[0] == "parse":
            return Result(os.environ.get("FAKE_DBT_PARSE") != "fail", result="the saved parse")
        mode = os.environ.get("FAKE_DBT_MODE", "ok")
        if mode == "fail":
            print("12:00:01  1 of 1 ERROR creating sql table model main.fct_x ... [ERROR in 0.1s]")
            print("Done. PASS=0 WARN=0 ERROR=1 SKIP=0 TOTAL=1")
            return Result(False)
        if mode == "crash":
            return Result(False, exception=RuntimeError("Could not find profile named 'x'"))
        print("Done. PASS=1 WARN=0 ERROR=0 SKIP=0 TOTAL=1")
        return Result(True)
"""


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every dbt run of this test is the stand-in; returns the file its invocations go to."""
    package = tmp_path / "site" / "dbt" / "cli"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(FAKE_DBT_MAIN)
    launcher = tmp_path / "bin" / "dbt"
    launcher.parent.mkdir()
    launcher.write_text(f"#!{sys.executable}\n# a console script: never run here\n")
    monkeypatch.setattr(warehouse, "dbt_executable", lambda: str(launcher))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    out = tmp_path / "runs.jsonl"
    monkeypatch.setenv("FAKE_DBT_OUT", str(out))
    return out


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def invocations(out: Path) -> list[dict]:
    return [record for record in records(out) if "args" in record]


def test_dbt_runs_the_command_on_the_parse_it_read_while_the_config_was_staged(
    runs: Path, tmp_path: Path
) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    hooked: list[bool] = []

    done = warehouse.dbt_build(
        home, ["--select", "x"], echo=False, while_building=lambda: hooked.append(True)
    )

    assert done == "dbt build --select x"
    assert hooked == [True]
    parse, build = invocations(runs)
    project = str(warehouse.DBT_PROJECT_DIR)
    assert parse["args"] == ["parse", "--project-dir", project, "--quiet", "--no-write-json"]
    # The command is dbt's own command line, on the manifest the early parse returned, with
    # the plan's window in the environment (a selection builds everything in its window).
    assert build["args"] == [
        "build",
        "--project-dir",
        str(warehouse.DBT_PROJECT_DIR),
        "--select",
        "x",
    ]
    assert build["manifest"] == "the saved parse"
    assert build["window"] == EVERYTHING and parse["window"] is None
    assert build["home"] == str(home.root)
    # The garbage collector is off while dbt imports itself and parses (their objects live to
    # the end), then those objects are frozen and it is on again for the build.
    assert parse["collector"] is False and parse["frozen"] == 0
    assert build["collector"] is True and build["frozen"] > 0


@pytest.mark.parametrize(
    ("mode", "parse", "message"),
    [
        # A model failed: exit 1, and dbt's own line names it.
        ("fail", "ok", "exit 1):\n12:00:01  1 of 1 ERROR creating sql table model main.fct_x"),
        # dbt could not run at all (and its early parse had failed too): exit 2, and why.
        ("crash", "fail", "exit 2):\ndbt could not run: Could not find profile named 'x'"),
    ],
)
def test_a_failed_dbt_fails_the_build_saying_why(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, parse: str, message
) -> None:
    monkeypatch.setenv("FAKE_DBT_MODE", mode)
    monkeypatch.setenv("FAKE_DBT_PARSE", parse)
    home = Home.resolve(tmp_path / "home").ensure()
    with pytest.raises(warehouse.BuildFailed) as failed:
        warehouse.dbt_build(home, ["--select", "x"], echo=False)
    assert message in str(failed.value)
    # The manifest of the early parse is handed over when there is one; else dbt parses again.
    expected = "the saved parse" if parse == "ok" else None
    assert invocations(runs)[-1]["manifest"] == expected


def test_when_the_config_fails_dbt_exits_without_running_anything(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    started: list[warehouse.StartedDbt] = []
    start = warehouse.StartedDbt.start
    monkeypatch.setattr(
        warehouse.StartedDbt, "start", lambda h: started.append(start(h)) or started[-1]
    )

    def broken(_home: Home) -> None:
        raise config.ConfigError(["config/policies.yaml: target_share: expected a number"])

    monkeypatch.setattr(config, "stage", broken)
    with pytest.raises(config.ConfigError, match="target_share"):
        warehouse.dbt_build(home, ["--select", "x"], echo=False)
    assert started[0].proc.returncode == 0
    assert [run["args"][0] for run in invocations(runs)] == ["parse"]


@pytest.mark.parametrize(
    ("first_line", "python"),
    [
        ("#!{python}\n", True),
        ("#!/bin/sh\n", False),  # a wrapper (the tests' stand-in dbt): run as a command
        ("#!/usr/bin/env python3\n", False),
        ("#!/no/such/python3\n", False),
        ("import sys\n", False),
    ],
)
def test_dbts_python_is_read_from_its_launcher(tmp_path: Path, first_line: str, python: bool):
    launcher = tmp_path / "dbt"
    launcher.write_text(first_line.format(python=sys.executable) + "print()\n")
    assert warehouse.dbt_python(str(launcher)) == (sys.executable if python else None)
    assert warehouse.dbt_python(str(tmp_path / "missing")) is None


def test_dbt_exits_with_its_output_delivered_and_its_exit_handlers_run(
    runs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The started dbt ends without tearing down the interpreter (``dbt_started.exit_now``):
    what it printed (to a pipe, so buffered) still reaches the caller, and the exit handlers
    still run, once, after the command."""
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    home = Home.resolve(tmp_path / "home").ensure()
    warehouse.dbt_build(home, ["--select", "x"], echo=True)
    assert "Done. PASS=1 WARN=0 ERROR=0 SKIP=0 TOTAL=1" in capsys.readouterr().out
    assert [next(iter(r)) for r in records(runs)] == ["args", "args", "exit"]


class _Checked:
    def report(self) -> str:
        return "checks: stand-in"


def test_the_refresh_starts_dbt_before_ingest_and_builds_on_it(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pipeline.refresh``: dbt reads its parse while the files are ingested (ingest does not
    change what it parses), and the build runs on that same dbt: one parse, one build."""
    from llmledger import incremental, ingest, pipeline, validation

    home = Home.resolve(tmp_path / "home").ensure()
    pipeline.prepare(home)
    events: list[str] = []
    # The stand-in dbt builds no warehouse to read the billing horizon from.
    monkeypatch.setattr(incremental, "record", lambda h, plan: events.append("recorded"))
    start = warehouse.StartedDbt.start
    monkeypatch.setattr(
        warehouse.StartedDbt, "start", lambda h: events.append("dbt started") or start(h)
    )
    monkeypatch.setattr(ingest, "ingest_paths", lambda *a, **k: events.append("ingested") or [])
    monkeypatch.setattr(validation, "warm_up", lambda: None)
    monkeypatch.setattr(pipeline, "validate", lambda h: events.append("checked") or _Checked())

    done = pipeline.refresh(home)

    assert events == ["dbt started", "ingested", "recorded", "checked"]
    assert done.built.startswith("full refresh")
    assert [run["args"][0] for run in invocations(runs)] == ["parse", "build"]
    assert done.ingest_s >= 0 and done.build_s > 0 and done.checks_s >= 0


def test_on_a_new_home_the_refresh_starts_dbt_before_making_the_home(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt's parse reads the project, not the home: dbt is started before the home's skeleton
    and config are made (``prepare``), even for a home that does not exist yet."""
    from llmledger import incremental, ingest, pipeline, validation

    home = Home.resolve(tmp_path / "new-home")
    assert not home.root.exists()
    events: list[str] = []
    monkeypatch.setattr(incremental, "record", lambda h, plan: events.append("recorded"))
    start = warehouse.StartedDbt.start
    monkeypatch.setattr(
        warehouse.StartedDbt, "start", lambda h: events.append("dbt started") or start(h)
    )
    prepare = pipeline.prepare
    monkeypatch.setattr(
        pipeline, "prepare", lambda h: events.append(f"prepared {h.landing.exists()}") or prepare(h)
    )
    monkeypatch.setattr(ingest, "ingest_paths", lambda *a, **k: events.append("ingested") or [])
    monkeypatch.setattr(validation, "warm_up", lambda: None)
    monkeypatch.setattr(pipeline, "validate", lambda h: events.append("checked") or _Checked())

    pipeline.refresh(home)

    assert events[:3] == ["dbt started", "prepared False", "ingested"]
    assert (home.config / "policies.yaml").exists() and (home.staged_config).is_dir()
    assert [run["args"][0] for run in invocations(runs)] == ["parse", "build"]
    assert {run["home"] for run in invocations(runs)} == {str(home.root)}


def test_when_ingest_fails_the_started_dbt_exits_without_building(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmledger import ingest, pipeline

    home = Home.resolve(tmp_path / "home").ensure()
    pipeline.prepare(home)
    started: list[warehouse.StartedDbt] = []
    start = warehouse.StartedDbt.start
    monkeypatch.setattr(
        warehouse.StartedDbt, "start", lambda h: started.append(start(h)) or started[-1]
    )

    def broken(*_args, **_kwargs):
        raise OSError("landing/billing/x.csv: disk full")

    monkeypatch.setattr(ingest, "ingest_paths", broken)
    with pytest.raises(OSError, match="disk full"):
        pipeline.refresh(home)
    assert started[0].proc.returncode == 0
    assert [run["args"][0] for run in invocations(runs)] == ["parse"]
