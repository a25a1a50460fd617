"""Worked example of every amortization policy: one dataset of known cost reused by three
generations and derived once, every charge and balance computed by hand.

Fixture (tests/fixtures/amortization/, ingested and built for real). Direct billing costs:
  2026-01 base    data.acquisition 1400.00        2026-02 derived data.selection 100.00
  training.pretrain: gen1 750.00 (Feb), gen2 750.00 (Apr), gen3 500.00 (May)
datasets.csv: base  lifetime 5600 tokens, useful life 7 months, policy units_of_production
              derived (from base) lifetime 500, useful life 3, policy empty -> policies.yaml
              default straight_line
consumption:  base -> derived 1000 tokens 2026-01-15, gen1 1000 2026-02-10,
              gen2 1000 2026-04-20, gen3 500 2026-05-05; derived -> gen3 500 2026-05-05
As-of month = latest fact = 2026-05 (Q2). Charges floor to 1e-10 per lineage path: derived's
cost is its own 100 plus what base charged it, and each part is split separately.

units_of_production (rate tokens / max(lifetime, used) = tokens / 5600 for base):
  base 1400: derived 250 (Q1), gen1 250 (Q1), gen2 250 (Q2), gen3 125 (Q2); balance 525
    Q1 0 + 1400 - 500 = 900; Q2 900 + 0 - 375 = 525
  derived 100 + 250 = 350, gen3 500/500 -> 350 (Q2); Q1 0 + 350 - 0 = 350; Q2 350 - 350 = 0
full_reuse (tokens / 3500 known consumers' tokens):
  base: derived 400, gen1 400 (Q1), gen2 400, gen3 200 (Q2); Q1 1400 - 800 = 600; Q2 600 - 600 = 0
  derived 100 + 400 = 500 all to gen3 (Q2); Q1 +500 = 500; Q2 500 - 500 = 0
expense_on_first_use (all to the earliest consumer):
  base: derived (2026-01-15) gets 1400 in Q1; Q1 1400 - 1400 = 0; Q2 0
  derived 100 + 1400 = 1500 to gen3 (Q2); Q1 +1500 = 1500; Q2 1500 - 1500 = 0
straight_line (1400 / 7 = 200 a month from January, Jan..May elapsed):
  base: Jan derived 200, Feb gen1 200, Mar nobody -> unabsorbed 200, Apr gen2 200, May gen3 200
    Q1 1400 - 600 = 800; Q2 800 - 400 = 400 (June and July are still to come)
  derived 100 + 200 = 300, life 3 months from May: May only, gen3
    floor(100/3) + floor(200/3) = 33.3333333333 + 66.6666666666 = 99.9999999999
    Q1 +300 = 300; Q2 300 - 99.9999999999 = 200.0000000001
configured (base units_of_production, derived straight_line):
  base as in units_of_production; derived 100 + 250 = 350, May only:
    33.3333333333 + 83.3333333333 = 116.6666666666 to gen3; closing 233.3333333334

Data share (data / (data + training)), by policy:
  units_of_production gen1 250/1000 = 0.25, gen2 0.25, gen3 (125 + 350) / 975 = 0.4871794872
  expense_on_first_use gen1 0, gen2 0, gen3 1500 / 2000 = 0.75: the first user pays for all
  configured gen3 (125 + 116.6666666666) / 741.6666666666 = 0.3258426966 (= fct_data_share)
Replacement cost: base 1000 tokens x 0.75 / 600 x 15.00 = 18.75; derived 500 -> 9.375.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import ingest, warehouse
from llmledger.paths import Home

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "amortization"
D = Decimal
UNABSORBED = "unabsorbed amortization"


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    home = Home.resolve(tmp_path_factory.mktemp("amortization_home")).ensure()
    for name in ("config", "landing"):
        shutil.copytree(FIXTURE / name, home.root / name, dirs_exist_ok=True)
    ingest.ingest_paths(home, [home.landing])
    warehouse.dbt_build(home, echo=False)
    connection = warehouse.connect_readonly(home)
    yield connection
    connection.close()


def charges(con, policy: str) -> set[tuple]:
    return set(
        con.execute(
            "select dataset_version, consumer, consumer_kind, period, amortization_usd "
            "from fct_dataset_amortization_by_policy where policy = ?",
            [policy],
        ).fetchall()
    )


def balances(con, policy: str) -> list[tuple]:
    return con.execute(
        "select dataset_version, quarter, opening_usd, additions_usd, amortization_usd, "
        "closing_usd from fct_dataset_balance_by_policy where policy = ? order by 1, 2",
        [policy],
    ).fetchall()


def test_units_of_production(con):
    assert charges(con, "units_of_production") == {
        ("base", "derived", "dataset", "2026Q1", D("250")),
        ("base", "gen1", "model_generation", "2026Q1", D("250")),
        ("base", "gen2", "model_generation", "2026Q2", D("250")),
        ("base", "gen3", "model_generation", "2026Q2", D("125")),
        ("derived", "gen3", "model_generation", "2026Q2", D("350")),
    }
    assert balances(con, "units_of_production") == [
        ("base", "2026Q1", D("0"), D("1400"), D("500"), D("900")),
        ("base", "2026Q2", D("900"), D("0"), D("375"), D("525")),
        ("derived", "2026Q1", D("0"), D("350"), D("0"), D("350")),
        ("derived", "2026Q2", D("350"), D("0"), D("350"), D("0")),
    ]


def test_full_reuse(con):
    assert charges(con, "full_reuse") == {
        ("base", "derived", "dataset", "2026Q1", D("400")),
        ("base", "gen1", "model_generation", "2026Q1", D("400")),
        ("base", "gen2", "model_generation", "2026Q2", D("400")),
        ("base", "gen3", "model_generation", "2026Q2", D("200")),
        ("derived", "gen3", "model_generation", "2026Q2", D("500")),
    }
    assert balances(con, "full_reuse") == [
        ("base", "2026Q1", D("0"), D("1400"), D("800"), D("600")),
        ("base", "2026Q2", D("600"), D("0"), D("600"), D("0")),
        ("derived", "2026Q1", D("0"), D("500"), D("0"), D("500")),
        ("derived", "2026Q2", D("500"), D("0"), D("500"), D("0")),
    ]


def test_expense_on_first_use(con):
    assert charges(con, "expense_on_first_use") == {
        ("base", "derived", "dataset", "2026Q1", D("1400")),
        ("derived", "gen3", "model_generation", "2026Q2", D("1500")),
    }
    assert balances(con, "expense_on_first_use") == [
        ("base", "2026Q1", D("0"), D("1400"), D("1400"), D("0")),
        ("base", "2026Q2", D("0"), D("0"), D("0"), D("0")),
        ("derived", "2026Q1", D("0"), D("1500"), D("0"), D("1500")),
        ("derived", "2026Q2", D("1500"), D("0"), D("1500"), D("0")),
    ]


def test_straight_line(con):
    assert charges(con, "straight_line") == {
        ("base", "derived", "dataset", "2026Q1", D("200")),
        ("base", "gen1", "model_generation", "2026Q1", D("200")),
        ("base", UNABSORBED, "unabsorbed", "2026Q1", D("200")),
        ("base", "gen2", "model_generation", "2026Q2", D("200")),
        ("base", "gen3", "model_generation", "2026Q2", D("200")),
        ("derived", "gen3", "model_generation", "2026Q2", D("99.9999999999")),
    }
    assert balances(con, "straight_line") == [
        ("base", "2026Q1", D("0"), D("1400"), D("600"), D("800")),
        ("base", "2026Q2", D("800"), D("0"), D("400"), D("400")),
        ("derived", "2026Q1", D("0"), D("300"), D("0"), D("300")),
        ("derived", "2026Q2", D("300"), D("0"), D("99.9999999999"), D("200.0000000001")),
    ]


def test_configured_mix_feeds_the_contract_marts(con):
    expected = {
        ("base", "derived", "dataset", "2026Q1", D("250")),
        ("base", "gen1", "model_generation", "2026Q1", D("250")),
        ("base", "gen2", "model_generation", "2026Q2", D("250")),
        ("base", "gen3", "model_generation", "2026Q2", D("125")),
        ("derived", "gen3", "model_generation", "2026Q2", D("116.6666666666")),
    }
    assert charges(con, "configured") == expected
    assert (
        set(
            con.execute(
                "select dataset_version, consumer, consumer_kind, period, amortization_usd "
                "from fct_dataset_amortization"
            ).fetchall()
        )
        == expected
    )
    assert con.execute("select * from fct_dataset_balance order by 1, 2").fetchall() == [
        ("base", "2026Q1", D("0"), D("1400"), D("500"), D("900")),
        ("base", "2026Q2", D("900"), D("0"), D("375"), D("525")),
        ("derived", "2026Q1", D("0"), D("350"), D("0"), D("350")),
        ("derived", "2026Q2", D("350"), D("0"), D("116.6666666666"), D("233.3333333334")),
    ]
    assert con.execute(
        "select dataset_version, amortization_policy, total_cost_usd, amortized_usd, balance_usd, "
        "replacement_cost_usd from dim_dataset order by 1"
    ).fetchall() == [
        ("base", "units_of_production", D("1400"), D("875"), D("525"), D("18.75")),
        (
            "derived",
            "straight_line",
            D("350"),
            D("116.6666666666"),
            D("233.3333333334"),
            D("9.375"),
        ),
    ]


def test_data_share_side_by_side(con):
    share = {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            "select policy, model_generation, data_cost_usd, training_cost_usd, data_share "
            "from fct_data_share_by_policy"
        ).fetchall()
    }
    assert share[("units_of_production", "gen1")] == (D("250"), D("750"), D("0.25"))
    assert share[("units_of_production", "gen3")] == (D("475"), D("500"), D("0.4871794872"))
    assert share[("expense_on_first_use", "gen1")] == (D("0"), D("750"), D("0"))
    assert share[("expense_on_first_use", "gen2")] == (D("0"), D("750"), D("0"))
    assert share[("expense_on_first_use", "gen3")] == (D("1500"), D("500"), D("0.75"))
    configured = con.execute(
        "select model_generation, data_cost_usd, training_cost_usd, data_share "
        "from fct_data_share order by 1"
    ).fetchall()
    assert configured == [
        ("gen1", D("250"), D("750"), D("0.25")),
        ("gen2", D("250"), D("750"), D("0.25")),
        ("gen3", D("241.6666666666"), D("500"), D("0.3258426966")),
    ]
    assert [(g, *share[("configured", g)]) for g, *_ in configured] == configured


def test_every_dataset_and_policy_reconciles(con):
    assert (
        con.execute(
            "select check_name, scope, difference from rpt_reconciliation where not passed"
        ).fetchall()
        == []
    )
    scopes = {
        r[0]
        for r in con.execute(
            "select scope from rpt_reconciliation where check_name = 'dataset_amortization_by_policy'"
        ).fetchall()
    }
    policies = ("configured", "units_of_production", "straight_line", "full_reuse")
    assert scopes == {
        f"{p} {d}" for p in (*policies, "expense_on_first_use") for d in ("base", "derived")
    }
