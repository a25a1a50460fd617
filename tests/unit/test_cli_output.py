"""What the CLI and the DAG print: the headline table, and values made safe for XCom."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

from llmledger import pipeline, summary
from llmledger.paths import Home


def test_money_and_shares_are_rounded_for_display_only():
    assert summary.money(Decimal("1234567.894")) == "1,234,567.89"
    assert summary.money(Decimal("0.005")) == "0.01"  # half up, as finance expects
    assert summary.money(Decimal("-2500")) == "-2,500.00"
    assert summary.money(None) == "n/a"
    assert summary.share(Decimal("0.80")) == "80.0 %"
    assert summary.share(Decimal("0.71428571")) == "71.4 %"
    assert summary.share(None) == "n/a"


def test_headline_table():
    rows = [
        (
            "gen1",
            Decimal("93674.155"),
            Decimal("254689.5412"),
            Decimal("0.269"),
            Decimal("0.8"),
            Decimal("0.5"),
        ),
        ("gen2", Decimal("1000000"), Decimal("0"), Decimal("1"), Decimal("0.8"), None),
    ]
    text = summary.render_headline(rows, "/h/warehouse.duckdb")
    lines = text.splitlines()
    assert lines[0].startswith("LLM Ledger: data versus training cost")
    header = lines[2]
    for column in (
        "model generation",
        "data cost",
        "training cost",
        "data share",
        "target",
        "break-even",
    ):
        assert column in header
    gen1 = lines[4].split()
    assert gen1 == ["gen1", "93,674.16", "254,689.54", "26.9", "%", "80.0", "%", "50.0", "%"]
    assert lines[5].split()[-1] == "n/a"
    assert set(lines[6].replace(" ", "")) == {"-"}
    total = lines[7].split()
    assert total[:3] == ["total", "1,093,674.16", "254,689.54"]
    assert total[3] == "81.1"  # 1,093,674.155 / 1,348,363.6962, not the mean of the shares
    assert lines[-1] == "warehouse: /h/warehouse.duckdb"
    # Fixed width: money is right-aligned in one column across generations and the total.
    cells = ((lines[4], "93,674.16"), (lines[5], "1,000,000.00"), (lines[7], "1,093,674.16"))
    assert len({line.index(cell) + len(cell) for line, cell in cells}) == 1


def test_headline_without_generations_says_what_to_do():
    text = summary.render_headline([], "/h/warehouse.duckdb")
    assert "config/model_generations.csv" in text
    assert text.endswith("warehouse: /h/warehouse.duckdb")


def test_headline_reads_the_warehouse_read_only(tmp_path: Path):
    home = Home(tmp_path)
    con = duckdb.connect(str(home.warehouse))
    con.execute(
        "create table fct_data_share as select 'gen1' as model_generation,"
        " 10.5::decimal(38, 10) as data_cost_usd, 31.5::decimal(38, 10) as training_cost_usd,"
        " 0.25::decimal(38, 10) as data_share, 0.8::decimal(38, 10) as target_share,"
        " 4::decimal(38, 10) as efficiency_multiplier, 0.75::decimal(38, 10) as break_even_share"
    )
    con.close()
    text = summary.headline(home)
    assert "gen1" in text
    assert "25.0 %" in text
    assert "75.0 %" in text
    assert str(home.warehouse) in text


@dataclass
class _Result:
    source_file: str
    amount: Decimal
    path: Path
    when: dt.datetime
    reasons: dict[str, int] = field(default_factory=dict)


def test_to_jsonable_keeps_decimals_exact_and_survives_json():
    value = _Result(
        "landing/x.csv",
        Decimal("0.1000000001"),
        Path("/h/x"),
        dt.datetime(2026, 1, 5, 10, 30),
        {"bad_timestamp": 2},
    )
    plain = pipeline.to_jsonable(value)
    assert plain == {
        "source_file": "landing/x.csv",
        "amount": "0.1000000001",
        "path": "/h/x",
        "when": "2026-01-05T10:30:00",
        "reasons": {"bad_timestamp": 2},
    }
    assert json.loads(json.dumps(plain)) == plain


def test_headline_shows_untagged_and_idle_as_their_own_lines(tmp_path: Path):
    """Untagged 10.00 (two quarters: 4 + 6) and idle 20.00 are shown under the table, beside
    what no generation carries; an activity of a generation (training.sft) is not."""
    home = Home(tmp_path)
    con = duckdb.connect(str(home.warehouse))
    con.execute(
        "create table fct_data_share as select 'gen1' as model_generation,"
        " 10.5::decimal(38, 10) as data_cost_usd, 31.5::decimal(38, 10) as training_cost_usd,"
        " 0.25::decimal(38, 10) as data_share, 0.8::decimal(38, 10) as target_share,"
        " 4::decimal(38, 10) as efficiency_multiplier, 0.75::decimal(38, 10) as break_even_share"
    )
    con.execute(
        "create table fct_quarterly_allocation as select * from (values"
        " ('2026Q1', 'untagged', 'unassigned', 4::decimal(38, 10)),"
        " ('2026Q2', 'untagged', 'unassigned', 6::decimal(38, 10)),"
        " ('2026Q1', 'idle', 'unassigned', 20::decimal(38, 10)),"
        " ('2026Q1', 'training.sft', 'gen1', 31.5::decimal(38, 10)))"
        " as t (quarter, activity, model_generation, cost_usd)"
    )
    con.close()
    lines = summary.headline(home).splitlines()
    untagged = next(line for line in lines if line.startswith("untagged"))
    idle = next(line for line in lines if line.startswith("idle"))
    assert "10.00" in untagged.split() and "20.00" in idle.split()
    assert lines.index(untagged) > next(i for i, x in enumerate(lines) if x.startswith("total"))
    assert lines[-1] == f"warehouse: {home.warehouse}"


def test_policy_comparison_shows_both_shares_and_the_difference():
    """gen1: 250 of data at 25 % configured, nothing on first use (0 %) -> -25.0 pts;
    gen3: 32.58 % configured, 75 % on first use -> +42.4 pts (0.4241573034 half up)."""
    rows = [
        ("gen1", Decimal("250"), Decimal("0.25"), Decimal("0"), Decimal("0")),
        (
            "gen3",
            Decimal("241.6666666666"),
            Decimal("0.3258426966"),
            Decimal("1500"),
            Decimal("0.75"),
        ),
        ("gen4", Decimal("0"), None, Decimal("0"), None),
    ]
    text = summary.render_policy_comparison(rows)
    lines = text.splitlines()
    assert "expense_on_first_use" in lines[0]
    assert lines[4].split() == ["gen1", "250.00", "25.0", "%", "0.00", "0.0", "%", "-25.0", "pts"]
    assert lines[5].split()[-2:] == ["+42.4", "pts"]
    assert lines[5].split()[1:3] == ["241.67", "32.6"]
    assert lines[6].split()[-1] == "n/a"
