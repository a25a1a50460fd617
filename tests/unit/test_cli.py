"""The ``llmledger`` command line: parsing, read-only SQL, exit codes and error messages."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from llmledger import cli
from llmledger.paths import Home

SACCT = """\
JobID|JobName|Partition|Account|User|WCKey|Comment|Cluster|State|Submit|Start|End|Elapsed|AllocTRES
1001|pretrain|gpu|research|alice||activity=training.pretrain|h100a|COMPLETED|2026-01-05T00:00:00|2026-01-05T01:00:00|2026-01-05T03:00:00|02:00:00|cpu=32,gres/gpu=8,node=1
1001.batch|batch||research|||||COMPLETED|2026-01-05T00:00:00|2026-01-05T01:00:00|2026-01-05T03:00:00|02:00:00|cpu=32,gres/gpu=8,node=1
1002|eval|gpu|research|bob|||h100a|COMPLETED|2026-01-05T00:00:00|not-a-date|2026-01-05T03:00:00|02:00:00|gres/gpu=1
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def warehouse_home(home: Path) -> Path:
    """A home whose warehouse holds a small fct_data_share, written directly (no dbt)."""
    home.mkdir()
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute(
        "create table fct_data_share (model_generation varchar, data_cost_usd decimal(38, 10),"
        " training_cost_usd decimal(38, 10), data_share decimal(38, 10),"
        " target_share decimal(38, 10), efficiency_multiplier decimal(38, 10),"
        " break_even_share decimal(38, 10))"
    )
    con.execute(
        "insert into fct_data_share values"
        " ('gen1', 1234567.8912345678, 2000000, 0.3817, 0.8, 2, 0.5),"
        " ('gen2', 0.005, 0, 1, 0.8, null, null)"
    )
    con.close()
    return home


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_bad_config(home: Path) -> None:
    Home.resolve(home).ensure()
    with (home / "config" / "policies.yaml").open("a") as f:
        f.write("no_such_policy: 1\n")


# --- parsing ---------------------------------------------------------------------------------


def test_global_options_work_before_and_after_the_subcommand(home):
    parser = cli.build_parser()
    before = parser.parse_args(["--home", str(home), "-v", "sql", "select 1"])
    after = parser.parse_args(["sql", "select 1", "--home", str(home), "--verbose"])
    for args in (before, after):
        assert args.home == str(home)
        assert args.verbose is True
        assert args.query == "select 1"
        assert args.format == "table"


def test_home_defaults_to_the_environment(home, monkeypatch, warehouse_home, capsys):
    monkeypatch.setenv("LLMLEDGER_HOME", str(warehouse_home))
    code, out, _ = run(capsys, "sql", "select count(*) as n from fct_data_share")
    assert code == 0
    assert "2" in out


def test_subcommand_arguments():
    parser = cli.build_parser()
    args = parser.parse_args(["ingest", "a.csv", "folder", "--kind", "invoices"])
    assert args.paths == ["a.csv", "folder"]
    assert args.kind == "invoices"
    assert parser.parse_args(["ingest", "x"]).kind == "auto"
    assert parser.parse_args(["run", "--in-process"]).in_process is True
    assert parser.parse_args(["run"]).in_process is False
    demo = parser.parse_args(["demo", "--seed", "7", "--in-process"])
    assert (demo.seed, demo.in_process) == (7, True)
    assert parser.parse_args(["demo"]).seed is None
    assert parser.parse_args(["sql", "--file", "q.sql", "--format", "json"]).file == "q.sql"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["ingest"],
        ["ingest", "x", "--kind", "spreadsheets"],
        ["sql", "select 1", "--format", "xml"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2


def test_close_without_a_warehouse_says_build_first(capsys, home):
    # close is implemented (tests/e2e/test_periods_close.py); without a build it refuses.
    code, _, err = run(capsys, "--home", str(home), "close", "--quarter", "2026Q3")
    assert code == 1
    assert "no warehouse at" in err and "llmledger build" in err


# --- sql -------------------------------------------------------------------------------------


def test_sql_table(warehouse_home, capsys):
    code, out, _ = run(
        capsys,
        "--home",
        str(warehouse_home),
        "sql",
        "select model_generation, data_cost_usd from fct_data_share order by 1",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["model_generation", "data_cost_usd"]
    assert "1234567.8912345678" in out  # sql shows stored values: no display rounding
    assert lines[-1] == "(2 rows)"


def test_sql_csv_and_json_keep_every_decimal_digit(warehouse_home, capsys, tmp_path):
    query = tmp_path / "q.sql"
    query.write_text(
        "select model_generation, data_cost_usd, break_even_share\nfrom fct_data_share order by 1\n"
    )
    code, out, _ = run(
        capsys, "--home", str(warehouse_home), "sql", "--file", str(query), "--format", "csv"
    )
    assert code == 0
    assert out.splitlines() == [
        "model_generation,data_cost_usd,break_even_share",
        "gen1,1234567.8912345678,0.5000000000",
        "gen2,0.0050000000,",
    ]
    code, out, _ = run(
        capsys, "--home", str(warehouse_home), "sql", "--file", str(query), "--format", "json"
    )
    assert code == 0
    records = json.loads(out)
    assert Decimal(records[0]["data_cost_usd"]) == Decimal("1234567.8912345678")
    assert records[1]["break_even_share"] is None


@pytest.mark.parametrize(
    "statement",
    [
        "create table evil as select 1 as x",
        "insert into fct_data_share (model_generation) values ('gen9')",
        "drop table fct_data_share",
        "update fct_data_share set data_cost_usd = 0",
    ],
)
def test_sql_refuses_writes_in_one_clear_line(warehouse_home, capsys, statement):
    code, out, err = run(capsys, "--home", str(warehouse_home), "sql", statement)
    assert code == 1
    assert out == ""
    assert err.startswith("error: refused: the warehouse is opened read-only")
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    con = duckdb.connect(str(warehouse_home / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) from fct_data_share").fetchall() == [(2,)]
    con.close()


def test_sql_error_is_one_line(warehouse_home, capsys):
    code, _, err = run(capsys, "--home", str(warehouse_home), "sql", "select * from no_such_table")
    assert code == 1
    # the position DuckDB reports, then the query line with a caret under it
    assert err.startswith("error: SQL error at line 1, column 15: Catalog Error: ")
    assert err.splitlines()[1:] == ["  select * from no_such_table", "                ^"]
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["sql"], ["sql", "select 1", "--file", "q.sql"]])
def test_sql_needs_exactly_one_query(warehouse_home, capsys, argv):
    code, _, err = run(capsys, "--home", str(warehouse_home), *argv)
    assert code == 1
    assert "either a query" in err


def test_sql_without_a_warehouse_says_how_to_build_it(home, capsys):
    code, _, err = run(capsys, "--home", str(home), "sql", "select 1")
    assert code == 1
    assert "no warehouse at" in err
    assert "llmledger build" in err


# --- errors a user can act on ----------------------------------------------------------------


@pytest.mark.parametrize("argv", [["build"], ["run"], ["run", "--in-process"]])
def test_bad_config_is_a_message_not_a_traceback(home, capsys, argv):
    write_bad_config(home)
    code, _, err = run(capsys, "--home", str(home), *argv)
    assert code == 1
    assert err.startswith("error: ")
    assert "config/policies.yaml" in err
    assert "no_such_policy" in err
    assert "Traceback" not in err


def test_verbose_adds_the_traceback(home, capsys):
    write_bad_config(home)
    code, _, err = run(capsys, "--home", str(home), "-v", "build")
    assert code == 1
    assert "Traceback" in err
    assert "error: " in err


def test_ingest_missing_path(home, capsys):
    code, _, err = run(capsys, "--home", str(home), "ingest", str(home / "nope.csv"))
    assert code == 1
    assert "no such file or folder" in err


def test_ingest_prints_each_file_and_totals_and_is_idempotent(home, tmp_path, capsys):
    source = tmp_path / "jobs.txt"
    source.write_text(SACCT)
    code, out, _ = run(capsys, "--home", str(home), "ingest", str(source))
    assert code == 0
    first, totals = out.splitlines()
    assert first.startswith("[1/1] landing/pipeline/jobs.txt: slurm_job, 1 of 3 rows loaded")
    assert totals == (
        "1 file(s): 1 loaded, 0 quarantined as a whole, 0 already ingested; "
        "rows: 3 read, 1 loaded, 1 quarantined, 1 skipped"
    )
    code, out, _ = run(capsys, "--home", str(home), "ingest", str(source), "--kind", "pipeline")
    assert code == 0
    assert "already ingested" in out.splitlines()[0]
    assert "1 already ingested" in out.splitlines()[1]


# --- the console script ----------------------------------------------------------------------


def test_the_console_script_exits_with_mains_code_and_all_its_output(
    warehouse_home: Path, monkeypatch: pytest.MonkeyPatch
):
    """``llmledger`` ends without the interpreter's finalisation (``cli.entry``): its exit code
    is still main's, and what it wrote to a pipe (buffered) still arrives, to the last line."""
    import subprocess
    import sys

    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)

    def llmledger(query: str) -> subprocess.CompletedProcess[str]:
        script = "from llmledger.cli import entry; entry()"
        argv = ["--home", str(warehouse_home), "sql", query]
        return subprocess.run(
            [sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120
        )

    done = llmledger("select model_generation from fct_data_share order by 1")
    assert (done.returncode, done.stdout.splitlines()[-3:]) == (0, ["gen1", "gen2", "(2 rows)"])
    failed = llmledger("select * frm fct_data_share")
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.startswith("error: SQL error at line 1, column 14")
    assert failed.stderr.rstrip().endswith("^")  # the caret under the error, its last line
