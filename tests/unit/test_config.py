"""config/: typed loading, every kind of error named precisely, staging to Parquet."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llmledger import config
from llmledger.paths import Home

# Optional columns added later may be left out of a header; these tests write rows without them
# (licence costs and parent shares are tested in tests/unit/test_dataset_registry.py).
LATER_OPTIONAL = {"licence_cost", "licence_currency", "licence_date", "share"}
HEADERS = {
    name: ",".join(c for c in table.column_names if c not in LATER_OPTIONAL)
    for name, table in config.TABLES.items()
}

# A small valid config; tests break one line of it at a time.
VALID = {
    "model_generations": ["gen1,Gen 1,2.0,,7000000000", "gen2,Gen 2,5,0.75,"],
    "datasets": [
        "crawl-v1,Crawl,crawl,1000,1000,,raw,",
        "filtered-v1,Filtered,filtered,400,800,straight_line,,",
    ],
    "dataset_consumption": [
        "crawl-v1,filtered-v1,dataset,1000,2026-01-05",
        "filtered-v1,gen1,model_generation,300,2026-02-01",
        "filtered-v1,gen2,model_generation,300,2026-05-01",
    ],
    "tag_mapping": [
        "10,account,pretrain,training.pretrain,,",
        "20,job_name,eval-.*,evaluation,gen2,",
        "30,job_name,dedup-.*,data.selection,,filtered-v1",
    ],
    "vendor_projects": ["acme,P1,filtered-v1,", "acme,P2,filtered-v1,data.selection"],
    "fx_rates": ["EUR,2026-01-01,1.0850"],
    "clusters": ["c-own,owned,H100,16", "c-cloud,cloud,H200,8"],
    "owned_hardware": ["pod-1,c-own,2025-07-01,400000.00,48,40000.00,16,H100,22.5,1.3,0.085"],
}


def write(home: Home, tables: dict[str, list[str]], policies: str | None = None) -> None:
    home.config.mkdir(parents=True, exist_ok=True)
    for name, header in HEADERS.items():
        lines = [header, *tables.get(name, [])]
        (home.config / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (home.config / "policies.yaml").write_text(
        config.policies_yaml() if policies is None else policies, encoding="utf-8"
    )


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path)


def errors_of(home: Home) -> list[config.ConfigIssue]:
    with pytest.raises(config.ConfigError) as caught:
        config.load_config(home)
    return caught.value.issues


def test_empty_config_is_valid_with_default_policies(home):
    config.write_empty(home)
    loaded = config.load_config(home)
    assert loaded.policies.target_share == Decimal("0.80")
    assert loaded.policies.idle_policy == "show"
    assert all(
        loaded.table(name) == [] for name in config.TABLES if name not in config.DEFAULT_ROWS
    )
    # The GPU table starts with the published dense BF16 peaks (TFLOP/s).
    peaks = {row.gpu_type: row.peak_tflops for row in loaded.gpu_types}
    assert peaks == {"a100": 312, "h100": 989, "h200": 989, "b200": 2250}
    assert loaded.policies.mfu_band_low == Decimal("0.05")
    assert loaded.policies.mfu_band_high == Decimal("0.80")
    assert (home.config / "README.md").read_text().count("## ") == len(config.TABLES) + 1


def test_round_trip_types_and_defaults(home):
    write(home, VALID, policies="target_share: 0.70\ndefault_amortization_policy: full_reuse\n")
    loaded = config.load_config(home)
    assert loaded.policies.target_share == Decimal("0.70")
    gen1, gen2 = loaded.model_generations
    assert gen1 == config.ModelGeneration(
        "gen1", "Gen 1", Decimal("2.0"), Decimal("0.70"), 7_000_000_000
    )
    assert gen2.target_share == Decimal("0.75") and gen2.parameters is None
    assert [d.amortization_policy for d in loaded.datasets] == ["full_reuse", "straight_line"]
    assert loaded.datasets[1].description is None
    assert loaded.dataset_consumption[0].consumed_on == date(2026, 1, 5)
    assert [p.activity for p in loaded.vendor_projects] == ["data.human", "data.selection"]
    asset = loaded.owned_hardware[0]
    assert (asset.cost_usd, asset.useful_life_months, asset.pue) == (
        Decimal("400000.00"),
        48,
        Decimal("1.3"),
    )

    # write_config renders the typed rows back to the same config.
    again = Home(home.root / "again")
    rows = {name: [vars(r) for r in loaded.table(name)] for name in config.TABLES}
    config.write_config(again, rows, policies={"target_share": "0.70"})
    assert config.load_config(again).datasets == loaded.datasets


def test_stage_writes_typed_parquet(home):
    write(home, VALID)
    config.stage(home)
    assets = pq.read_table(home.staged_config / "owned_hardware.parquet")
    assert assets.schema.field("cost_usd").type == pa.decimal128(38, 10)
    assert assets.schema.field("in_service_date").type == pa.date32()
    assert assets.schema.field("gpus").type == pa.int64()
    assert assets.column("salvage_usd").to_pylist() == [Decimal("40000")]
    policies = pq.read_table(home.staged_config / "policies.parquet")
    assert policies.num_rows == 1 and policies.column("idle_policy").to_pylist() == ["show"]
    assert not list(home.staged_config.glob("*.tmp"))


STAGED_ARROW_TYPES = {
    "varchar": pa.string(),
    "bigint": pa.int64(),
    "decimal(38, 10)": pa.decimal128(38, 10),
    "date": pa.date32(),
}


def test_stage_empty_tables_keep_their_columns(home):
    config.write_empty(home)
    config.stage(home)
    for name, table in [*config.TABLES.items(), ("policies", None)]:
        staged = pq.read_table(home.staged_config / f"{name}.parquet")
        if table is not None:
            assert staged.num_rows == len(config.DEFAULT_ROWS.get(name, []))
            assert tuple(staged.column_names) == table.column_names
        assert staged.schema == pa.schema(
            [(column, STAGED_ARROW_TYPES[kind]) for column, kind in config.staged_columns(name)]
        )


def test_stage_keeps_text_that_looks_like_sql(home):
    """Values travel as parameters, never inside the SQL: quotes and semicolons stay text."""
    config.write_empty(home)
    (home.config / "model_generations.csv").write_text(
        "model_generation,display_name,efficiency_multiplier,target_share,parameters\n"
        "gen01,\"it's; drop table x; --\",5,,1000\n",
        encoding="utf-8",
    )
    config.stage(home)
    staged = pq.read_table(home.staged_config / "model_generations.parquet").to_pylist()
    assert staged == [
        {
            "model_generation": "gen01",
            "display_name": "it's; drop table x; --",
            "efficiency_multiplier": Decimal("5"),
            "target_share": Decimal("0.8"),  # empty: policies.target_share
            "parameters": 1000,
        }
    ]


def test_stage_into_a_home_whose_path_has_a_quote(tmp_path):
    """The staged files' paths go into DuckDB's COPY as literals: a quote is doubled."""
    quoted = Home(tmp_path / "it's home").ensure()
    config.write_empty(quoted)
    config.stage(quoted)
    assert pq.read_table(quoted.staged_config / "policies.parquet").num_rows == 1
    assert (quoted.root / "staged" / "periods" / "closed_periods.parquet").exists()


def test_write_empty_never_overwrites(home):
    write(home, VALID, policies="idle_policy: pro_rata\n")
    (home.config / "fx_rates.csv").unlink()
    before = {p.name: p.read_bytes() for p in home.config.iterdir()}
    config.write_empty(home)
    after = {p.name: p.read_bytes() for p in home.config.iterdir()}
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) == {"README.md", "fx_rates.csv"}
    assert after["fx_rates.csv"].decode() == HEADERS["fx_rates"] + "\n"


def _replace(table: str, index: int, line: str) -> dict[str, list[str]]:
    tables = {name: list(lines) for name, lines in VALID.items()}
    tables[table][index] = line
    return tables


# (what is broken, table, row index, bad line, file line, column, value, words in "expected")
# fmt: off
BROKEN = [
    ("int", "datasets", 0, "crawl-v1,Crawl,crawl,lots,1000,,,", 2, "tokens", "lots", "integer"),
    ("bound", "datasets", 1, "filtered-v1,F,filtered,400,0,,,", 3, "expected_lifetime_tokens",
     "0", "> 0"),
    ("decimal", "owned_hardware", 0,
     "pod-1,c-own,2025-07-01,4e5x,48,0,16,H100,22.5,1.3,0.085", 2, "cost_usd", "4e5x", "decimal"),
    ("date", "dataset_consumption", 0, "crawl-v1,filtered-v1,dataset,1000,05/01/2026", 2,
     "consumed_on", "05/01/2026", "YYYY-MM-DD"),
    ("enum", "clusters", 1, "c-cloud,rented,H200,8", 3, "ownership", "rented", "owned, cloud"),
    ("required", "clusters", 1, "c-cloud,cloud,,8", 3, "gpu_type", "", "non-empty"),
    ("primary key", "vendor_projects", 1, "acme,P1,crawl-v1,", 3, "vendor,project_code",
     "acme,P1", "unique key (already on line 2)"),
    ("consumer", "dataset_consumption", 1, "filtered-v1,gen9,model_generation,300,2026-02-01",
     3, "consumer", "gen9", "model_generations.csv"),
    ("dataset consumer", "dataset_consumption", 1, "filtered-v1,gen1,dataset,300,2026-02-01",
     3, "consumer", "gen1", "datasets.csv"),
    ("tag generation", "tag_mapping", 1, "20,job_name,eval-.*,evaluation,gen7,", 3,
     "model_generation", "gen7", "model_generations.csv"),
    ("tag dataset", "tag_mapping", 2, "30,job_name,dedup-.*,data.selection,,nope-v1", 4,
     "dataset_version", "nope-v1", "datasets.csv"),
    ("regex", "tag_mapping", 1, "20,job_name,eval-(.*,evaluation,,", 3, "pattern", "eval-(.*",
     "regular expression"),
    ("activity", "tag_mapping", 0, "10,account,pretrain,idle,,", 2, "activity", "idle",
     "training.pretrain"),
    ("k8s label without key", "tag_mapping", 1, "20,k8s_label,data-*,evaluation,,", 3,
     "pattern", "data-*", "key=glob"),
    ("k8s namespace regex", "tag_mapping", 1, "20,k8s_namespace,eval-(.*,evaluation,,", 3,
     "pattern", "eval-(.*", "regular expression"),
    ("vendor dataset", "vendor_projects", 0, "acme,P1,gone-v1,", 2, "dataset_version", "gone-v1",
     "datasets.csv"),
    ("hardware cluster", "owned_hardware", 0,
     "pod-1,c-x,2025-07-01,400000,48,0,16,H100,22.5,1.3,0.085", 2, "cluster", "c-x",
     "clusters.csv"),
    ("hardware on cloud", "owned_hardware", 0,
     "pod-1,c-cloud,2025-07-01,400000,48,0,16,H100,22.5,1.3,0.085", 2, "cluster", "c-cloud",
     "'owned'"),
    ("salvage", "owned_hardware", 0,
     "pod-1,c-own,2025-07-01,400000,48,500000,16,H100,22.5,1.3,0.085", 2, "salvage_usd",
     "500000", "at most cost_usd"),
]
# fmt: on


@pytest.mark.parametrize(
    ("table", "index", "line", "row", "column", "value", "expected"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_error_names_file_row_column_value(home, table, index, line, row, column, value, expected):
    write(home, _replace(table, index, line))
    issues = errors_of(home)
    assert len(issues) == 1, issues
    issue = issues[0]
    assert (issue.file, issue.line, issue.column, issue.value) == (
        f"{table}.csv",
        row,
        column,
        value,
    )
    assert expected in issue.expected
    text = str(issue)
    assert f"config/{table}.csv line {row}" in text and column in text and repr(value) in text


@pytest.mark.parametrize(
    ("policies", "line", "key", "value", "expected"),
    [
        ("idle_policy: hide\n", 1, "idle_policy", "hide", "show, pro_rata"),
        ("# comment\ntarget_share: 1.5\n", 2, "target_share", "1.5", "<= 1"),
        ("target_shares: 0.8\n", 1, "target_shares", None, "one of the keys"),
        ("slurm_timezone: Mars/Olympus\n", 1, "slurm_timezone", "Mars/Olympus", "IANA"),
    ],
    ids=["enum", "range", "unknown key", "timezone"],
)
def test_policy_errors_name_key_and_line(home, policies, line, key, value, expected):
    write(home, VALID, policies=policies)
    (issue,) = errors_of(home)
    assert (issue.file, issue.line, issue.column, issue.value) == (
        "policies.yaml",
        line,
        key,
        value,
    )
    assert expected in issue.expected
    assert f"config/policies.yaml line {line}, key {key}" in str(issue)


def test_header_problems_are_reported(home):
    write(home, VALID)
    path = home.config / "clusters.csv"
    path.write_text("cluster,ownership,gpus,colour\nc-own,owned,16,red\n", encoding="utf-8")
    issues = errors_of(home)
    assert {(i.file, i.line, i.column) for i in issues} >= {
        ("clusters.csv", 1, "colour"),
        ("clusters.csv", 1, "gpu_type"),
    }


def test_all_errors_are_collected_and_raised_once(home):
    tables = _replace("datasets", 0, "crawl-v1,Crawl,crawl,-1,1000,,,")
    tables["clusters"][1] = "c-cloud,cloud,H200,zero"
    write(home, tables, policies="ablations: always\n")
    issues = errors_of(home)
    assert {(i.file, i.column) for i in issues} == {
        ("datasets.csv", "tokens"),
        ("clusters.csv", "gpus"),
        ("policies.yaml", "ablations"),
    }


def test_lineage_cycle_is_detected(home):
    tables = {name: list(lines) for name, lines in VALID.items()}
    tables["datasets"].append("rephrased-v1,Rephrased,rephrased,10,10,,,")
    tables["dataset_consumption"] += [
        "filtered-v1,rephrased-v1,dataset,10,2026-03-01",
        "rephrased-v1,crawl-v1,dataset,10,2026-03-02",
    ]
    write(home, tables)
    (issue,) = errors_of(home)
    assert (issue.file, issue.line, issue.column) == ("dataset_consumption.csv", 6, "consumer")
    assert "crawl-v1 -> filtered-v1 -> rephrased-v1 -> crawl-v1" in issue.expected


def test_self_consumption_is_a_cycle(home):
    tables = {name: list(lines) for name, lines in VALID.items()}
    tables["dataset_consumption"].append("filtered-v1,filtered-v1,dataset,10,2026-03-01")
    write(home, tables)
    (issue,) = errors_of(home)
    assert "filtered-v1 -> filtered-v1" in issue.expected


def test_missing_file_is_an_error(home):
    write(home, VALID)
    (home.config / "fx_rates.csv").unlink()
    (issue,) = errors_of(home)
    assert issue.file == "fx_rates.csv" and "exist" in issue.expected


def test_k8s_rules_take_key_glob_patterns_that_are_not_regexes(home):
    """`team=**` is no valid regex but a fine glob; a k8s_label rule keeps it verbatim."""
    tables = dict(VALID)
    tables["tag_mapping"] = [
        *VALID["tag_mapping"],
        "40,k8s_label,team=**,data.selection,,",
        "50,k8s_annotation,llmledger.io/dataset=web-filtered-*,data.selection,,filtered-v1",
        "60,k8s_namespace,train-.*,training.pretrain,gen1,",
    ]
    write(home, tables)
    rules = {r.priority: r for r in config.load_config(home).tag_mapping}
    assert (rules[40].field, rules[40].pattern) == ("k8s_label", "team=**")
    assert rules[50].pattern == "llmledger.io/dataset=web-filtered-*"
    assert rules[60].field == "k8s_namespace"
