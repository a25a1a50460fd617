"""The FinOps Foundation's FOCUS samples (`shared/fixtures/focus/`) and their totals.

Shared by the ingest unit tests and the warehouse test of the same files. Expected totals were
read off the CSVs by hand (column by column), not taken from the parser.
"""

from __future__ import annotations

from pathlib import Path

# shared/ sits beside the repository (here and in CI), or beside the folder of git worktrees.
SAMPLES = next(
    (
        parent / "shared" / "fixtures" / "focus"
        for parent in Path(__file__).resolve().parents[1:]
        if (parent / "shared" / "fixtures" / "focus").is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "focus",
)

# file name -> (rows read, rows loaded, sum BilledCost, sum EffectiveCost of loaded rows,
# quarantined lines). File names are unique across the sample folders.
# fmt: off
SAMPLE_TOTALS = {
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv": (3, 3, "2.75", "2.75", []),  # noqa: E501
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv": (3, 3, "2.00", "2.00", []),  # noqa: E501
    "one_hundred_percent_utilization_without_commitment_discount_flexibility.csv": (2, 2, "1.50", "1.50", []),  # noqa: E501
    "zero_percent_utilization_without_commitment_discount_flexibility.csv": (3, 3, "3.50", "3.50", []),  # noqa: E501
    "commitment_discount_purchase_scenario_1.csv": (1, 1, "8760.00", "0", []),
    # The published sample ends its last charge period at hour 30 (2023-02-01T30:00:00Z), which
    # is not a time: that row is quarantined as bad_timestamp, by design.
    "commitment_discount_purchase_scenario_2.csv": (3, 2, "2.00", "0", [4]),
    "commitment_discount_purchase_scenario_3.csv": (4, 3, "4381.00", "0", [5]),
    "commitment_discount_usage_scenario_1.csv": (1, 1, "0", "1.00", []),
    "commitment_discount_usage_scenario_2.csv": (1, 1, "0", "1.00", []),
    "commitment_discount_usage_scenario_3.csv": (2, 2, "0", "1.00", []),
    "commitment_discount_usage_scenario_4.csv": (2, 2, "0.50", "1.50", []),
    "simple_saas_agreements_a1.csv": (1, 1, "10000", "10000", []),
    "simple_saas_agreements_a2.csv": (1, 1, "50000", "50000", []),
    "simple_saas_agreements_a3.csv": (1, 1, "1000", "1000", []),
    "simple_saas_agreements_b.csv": (1, 1, "50000", "50000", []),
    "simple_saas_agreements_c.csv": (3, 3, "35800", "35800", []),
    "saas_spend_agreements_a1.csv": (4, 4, "1200", "1200", []),
    "saas_spend_agreements_a2.csv": (13, 13, "1200", "1200", []),
    "saas_spend_agreements_b1.csv": (5, 5, "1200", "1200", []),
    "saas_spend_agreements_b2.csv": (14, 14, "1200", "1200", []),
    "virtual_currency_pricing_model_a1.csv": (1, 1, "200000", "0", []),
    "virtual_currency_pricing_model_a2.csv": (3, 3, "0", "1230", []),
    "virtual_currency_pricing_model_b1.csv": (1, 1, "100000", "0", []),
    "virtual_currency_pricing_model_b2.csv": (3, 3, "0", "615", []),
    "virtual_currency_pricing_model_b3.csv": (3, 3, "0", "495", []),
    "virtual_currency_pricing_model_c.csv": (2, 2, "53000", "0", []),
}
# fmt: on
SAMPLE_PATHS = {path.name: path for path in SAMPLES.rglob("*.csv")}
