"""Dataset registry: the share of a parent a derived dataset uses, and licence costs.

Validation only (no dbt): tests/e2e/test_dataset_licences.py follows the money through the
warehouse.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from llmledger import config
from llmledger.paths import Home

HEADERS = {name: ",".join(table.column_names) for name, table in config.TABLES.items()}

# datasets: dataset_version,dataset_name,kind,tokens,expected_lifetime_tokens,
#           amortization_policy,description,useful_life_months,licence_cost,licence_currency,
#           licence_date
# consumption: dataset_version,consumer,consumer_kind,tokens_consumed,consumed_on,share
REGISTRY = {
    "model_generations": ["gen1,Gen 1,,,"],
    "datasets": [
        "crawl-v1,Crawl,crawl,1000,1000,units_of_production,,,1000.00,EUR,2026-03-15",
        "filtered-v1,Filtered,filtered,400,400,units_of_production,,,60.00,,2026-04-10",
    ],
    "dataset_consumption": [
        "crawl-v1,filtered-v1,dataset,,2026-04-01,0.25",
        "filtered-v1,gen1,model_generation,100,2026-05-01,",
    ],
    "fx_rates": ["EUR,2026-01-01,1.10", "EUR,2026-03-01,1.20"],
}


def write_registry(home: Home, tables: dict[str, list[str]]) -> None:
    home.config.mkdir(parents=True, exist_ok=True)
    for name, header in HEADERS.items():
        lines = [header, *tables.get(name, [])]
        (home.config / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (home.config / "policies.yaml").write_text(config.policies_yaml(), encoding="utf-8")


def with_line(table: str, index: int, line: str) -> dict[str, list[str]]:
    tables = {name: list(lines) for name, lines in REGISTRY.items()}
    tables[table][index] = line
    return tables


def issues(home: Home) -> list[config.ConfigIssue]:
    with pytest.raises(config.ConfigError) as caught:
        config.load_config(home)
    return caught.value.issues


def test_share_gives_tokens_and_licence_defaults_to_usd(tmp_path):
    home = Home(tmp_path)
    write_registry(home, REGISTRY)
    loaded = config.load_config(home)
    edge = next(r for r in loaded.dataset_consumption if r.consumer == "filtered-v1")
    # floor(0.25 x 1000 crawl tokens) = 250
    assert (edge.tokens_consumed, edge.share) == (250, Decimal("0.25"))
    crawl, filtered = sorted(loaded.datasets, key=lambda d: d.dataset_version)
    assert (crawl.licence_cost, crawl.licence_currency) == (Decimal("1000.00"), "EUR")
    assert (filtered.licence_cost, filtered.licence_currency) == (Decimal("60.00"), "USD")


@pytest.mark.parametrize(
    ("table", "index", "line", "file", "column", "value", "expected"),
    [
        (
            "dataset_consumption",
            0,
            "crawl-v1,filtered-v1,dataset,,2026-04-01,1.5",
            "dataset_consumption.csv",
            "share",
            "1.5",
            "<= 1",
        ),
        (
            "dataset_consumption",
            0,
            "crawl-v1,filtered-v1,dataset,,2026-04-01,0",
            "dataset_consumption.csv",
            "share",
            "0",
            "> 0",
        ),
        (
            "dataset_consumption",
            1,
            "filtered-v1,gen1,model_generation,100,2026-05-01,0.5",
            "dataset_consumption.csv",
            "share",
            "0.5",
            "derived datasets",
        ),
        (
            "dataset_consumption",
            0,
            "crawl-v1,filtered-v1,dataset,250,2026-04-01,0.25",
            "dataset_consumption.csv",
            "share",
            "0.25",
            "give one of them",
        ),
        (
            "dataset_consumption",
            0,
            "crawl-v1,filtered-v1,dataset,,2026-04-01,",
            "dataset_consumption.csv",
            "tokens_consumed",
            None,
            "share in (0, 1]",
        ),
        (
            "dataset_consumption",
            0,
            "crawl-v1,filtered-v1,dataset,,2026-04-01,0.0001",
            "dataset_consumption.csv",
            "share",
            "0.0001",
            "at least one token",
        ),
        (
            "datasets",
            1,
            "filtered-v1,Filtered,filtered,400,400,units_of_production,,,-60.00,,2026-04-10",
            "datasets.csv",
            "licence_cost",
            "-60.00",
            ">= 0",
        ),
        (
            "datasets",
            1,
            "filtered-v1,Filtered,filtered,400,400,units_of_production,,,60.00,,",
            "datasets.csv",
            "licence_date",
            None,
            "licence_cost is 60.00",
        ),
        (
            "datasets",
            0,
            "crawl-v1,Crawl,crawl,1000,1000,units_of_production,,,1000.00,EUR,2025-12-31",
            "datasets.csv",
            "licence_currency",
            "EUR",
            "on or before 2025-12-31",
        ),
        (
            "datasets",
            1,
            "filtered-v1,Filtered,filtered,400,400,units_of_production,,,,GBP,",
            "datasets.csv",
            "licence_currency",
            "GBP",
            "empty when licence_cost is empty",
        ),
    ],
)
def test_bad_share_or_licence_names_file_row_column_value(
    tmp_path, table, index, line, file, column, value, expected
):
    home = Home(tmp_path)
    write_registry(home, with_line(table, index, line))
    (issue,) = issues(home)
    assert (issue.file, issue.line, issue.column, issue.value) == (file, index + 2, column, value)
    assert expected in issue.expected
