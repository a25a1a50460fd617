"""Reference data a lab maintains by hand: ``<home>/config/``, validated on load.

Eight CSV tables plus ``policies.yaml`` (see ``docs/CONTRACTS.md`` "Config"). Every value is
typed on load (``Decimal`` money, ``int``, ``date``), every rule is checked, and all problems
are collected and raised together as one :class:`ConfigError` whose lines name the file, the
line (1-based, header = line 1) or key, the column, the value and what was expected.

Optional columns that default to a policy (``target_share``, ``amortization_policy``) or to a
fixed value (vendor project ``activity``) are resolved on load, so the typed rows and the
staged Parquet that dbt reads never leave the default to be applied twice.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from llmledger.paths import Home
from llmledger.taxonomy import TAGGABLE_ACTIVITIES

POLICIES_FILE = "policies.yaml"
README_FILE = "README.md"

AMORTIZATION_POLICIES = (
    "units_of_production",
    "straight_line",
    "full_reuse",
    "expense_on_first_use",
)
DATASET_KINDS = (
    "crawl",
    "filtered",
    "rephrased",
    "synthetic",
    "human_sft",
    "human_preference",
    "other",
)
SLURM_TAG_FIELDS = ("account", "wckey", "job_name", "comment", "partition", "user_name")
CLUSTER_MATCHES = ("tag", "resource_id")
PATTERN_SYNTAXES = ("regex", "glob")
# Kubernetes workloads (OpenCost allocations): `k8s_label` / `k8s_annotation` patterns are
# `key=glob` (`*`, `?`, `[...]` on the value, whole value); `k8s_namespace` is a regex like the
# Slurm fields. Slurm rules never tag pods and Kubernetes rules never tag Slurm jobs.
K8S_KEY_VALUE_FIELDS = ("k8s_label", "k8s_annotation")
K8S_TAG_FIELDS = (*K8S_KEY_VALUE_FIELDS, "k8s_namespace")
TAG_FIELDS = (*SLURM_TAG_FIELDS, *K8S_TAG_FIELDS)
DEFAULT_VENDOR_ACTIVITY = "data.human"

DEFAULT_POLICIES: dict[str, Any] = {
    "reporting_currency": "USD",
    "target_share": Decimal("0.80"),
    "idle_policy": "show",
    "rl_rollouts": "training",
    "ablations": "data.selection",
    "cluster_tag_key": "cluster",
    "default_amortization_policy": "units_of_production",
    "slurm_timezone": "UTC",
    "mfu_band_low": Decimal("0.05"),
    "mfu_band_high": Decimal("0.80"),
    "default_useful_life_months": 24,
    "replacement_words_per_token": Decimal("0.75"),
    "replacement_words_per_hour": Decimal("600"),
    "replacement_hourly_wage_usd": Decimal("15.00"),
}
# Policies staged as DECIMAL(38, 10) / BIGINT rather than text.
DECIMAL_POLICIES = (
    "target_share",
    "mfu_band_low",
    "mfu_band_high",
    "replacement_words_per_token",
    "replacement_words_per_hour",
    "replacement_hourly_wage_usd",
)
INT_POLICIES = ("default_useful_life_months",)
# Decimal policies that are shares (0..1); the other decimal policies need only be > 0.
SHARE_POLICIES = ("target_share", "mfu_band_low", "mfu_band_high")
POLICY_CHOICES: dict[str, tuple[str, ...]] = {
    "idle_policy": ("show", "pro_rata"),
    "rl_rollouts": ("training", "data.generation"),
    "ablations": ("data.selection", "evaluation"),
    "default_amortization_policy": AMORTIZATION_POLICIES,
}
_POLICY_HELP = {
    "reporting_currency": "Currency of every report; others convert via fx_rates.csv.",
    "target_share": "Share of a generation's cost meant for data (0..1); "
    "model_generations.csv may override it.",
    "idle_policy": "Paid capacity no job used: its own `idle` line, or shared pro rata.",
    "rl_rollouts": "Where RL rollout compute counts.",
    "ablations": "Where ablation runs for data decisions count.",
    "cluster_tag_key": "Billing tag that names a row's cluster (its cost pool).",
    "default_amortization_policy": "For datasets.csv rows with an empty amortization_policy.",
    "slurm_timezone": "IANA time zone of sacct timestamps (converted to UTC on ingest).",
    "mfu_band_low": "FLOPs cross-check: implied model-FLOPs utilisation below this is a warning.",
    "mfu_band_high": "FLOPs cross-check: implied model-FLOPs utilisation above this is a warning.",
    "default_useful_life_months": "Useful life, in months, of a straight_line dataset whose "
    "datasets.csv row leaves useful_life_months empty.",
    "replacement_words_per_token": "Replacement cost (Kandpal & Raffel): words per token "
    "(0.75 is the usual English BPE rule of thumb).",
    "replacement_words_per_hour": "Replacement cost: words a person writes per hour "
    "(600 = 10 words a minute of finished text; an assumption, set your own).",
    "replacement_hourly_wage_usd": "Replacement cost: hourly wage in USD paid to write it "
    "(15.00, a deliberately modest wage; an assumption, set your own).",
}

_CURRENCY = re.compile(r"[A-Z]{3}")
_INT = re.compile(r"[+-]?\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_DECIMAL_PLACES = 10  # staged as DECIMAL(38, 10): more places would be silently lost


# ----------------------------------------------------------------------------- typed rows


@dataclass(frozen=True)
class Policies:
    """Accounting policies from ``policies.yaml`` (missing keys take :data:`DEFAULT_POLICIES`)."""

    reporting_currency: str
    target_share: Decimal
    idle_policy: str
    rl_rollouts: str
    ablations: str
    cluster_tag_key: str
    default_amortization_policy: str
    slurm_timezone: str
    mfu_band_low: Decimal = DEFAULT_POLICIES["mfu_band_low"]
    mfu_band_high: Decimal = DEFAULT_POLICIES["mfu_band_high"]
    default_useful_life_months: int = DEFAULT_POLICIES["default_useful_life_months"]
    replacement_words_per_token: Decimal = DEFAULT_POLICIES["replacement_words_per_token"]
    replacement_words_per_hour: Decimal = DEFAULT_POLICIES["replacement_words_per_hour"]
    replacement_hourly_wage_usd: Decimal = DEFAULT_POLICIES["replacement_hourly_wage_usd"]


@dataclass(frozen=True)
class ModelGeneration:
    """A model generation; ``target_share`` is already resolved from the policy if empty."""

    model_generation: str
    display_name: str
    efficiency_multiplier: Decimal | None
    target_share: Decimal
    parameters: int | None


@dataclass(frozen=True)
class Dataset:
    """A dataset version; ``amortization_policy`` is already resolved from the policy if empty."""

    dataset_version: str
    dataset_name: str
    kind: str
    tokens: int
    expected_lifetime_tokens: int
    amortization_policy: str
    description: str | None
    useful_life_months: int | None = None
    # A licence bought for this dataset version: part of its own cost (data.acquisition),
    # converted to USD at the fx_rates.csv rate of licence_date; currency empty -> USD.
    licence_cost: Decimal | None = None
    licence_currency: str | None = None
    licence_date: date | None = None


@dataclass(frozen=True)
class DatasetConsumption:
    """A consumer (model generation or derived dataset) using tokens of a dataset."""

    dataset_version: str
    consumer: str
    consumer_kind: str
    tokens_consumed: int
    consumed_on: date
    # Derived datasets only: the share of the parent used. With tokens_consumed empty it gives
    # tokens_consumed = floor(share x the parent's tokens), resolved by load_config.
    share: Decimal | None = None


@dataclass(frozen=True)
class TagRule:
    """Maps a Slurm job field (regex, full match) to an activity; lower priority wins."""

    priority: int
    field: str
    pattern: str
    activity: str
    model_generation: str | None
    dataset_version: str | None


@dataclass(frozen=True)
class VendorProject:
    """Maps an annotation vendor's project code to the dataset it produces."""

    vendor: str
    project_code: str
    dataset_version: str
    activity: str


@dataclass(frozen=True)
class FxRate:
    """USD value of one unit of ``currency`` on ``rate_date``."""

    currency: str
    rate_date: date
    usd_per_unit: Decimal


@dataclass(frozen=True)
class Cluster:
    """A GPU cluster (a cost pool family)."""

    cluster: str
    ownership: str
    gpu_type: str
    gpus: int


@dataclass(frozen=True)
class OwnedAsset:
    """One row of the owned-hardware register (depreciated straight-line, plus energy)."""

    asset_id: str
    cluster: str
    in_service_date: date
    cost_usd: Decimal
    useful_life_months: int
    salvage_usd: Decimal
    gpus: int
    gpu_type: str
    power_kw: Decimal
    pue: Decimal
    usd_per_kwh: Decimal


@dataclass(frozen=True)
class ClusterRule:
    """Assigns billing rows to a cluster by a tag value or their resource id (lower priority
    wins); see docs/CONTRACTS.md "Cluster mapping" for the precedence."""

    priority: int
    match: str
    tag_key: str | None
    pattern: str
    syntax: str
    cluster: str


@dataclass(frozen=True)
class GpuType:
    """Peak dense BF16 throughput of a GPU model, for the FLOPs cross-check."""

    gpu_type: str
    peak_tflops: Decimal
    description: str | None


@dataclass(frozen=True)
class Config:
    """The whole validated configuration: policies plus one list of typed rows per table."""

    policies: Policies
    model_generations: list[ModelGeneration]
    datasets: list[Dataset]
    dataset_consumption: list[DatasetConsumption]
    tag_mapping: list[TagRule]
    vendor_projects: list[VendorProject]
    fx_rates: list[FxRate]
    clusters: list[Cluster]
    owned_hardware: list[OwnedAsset]
    gpu_types: list[GpuType] = field(default_factory=list)
    # Per-vendor invoice mappings, config/vendors/<vendor>.yaml (llmledger.vendor_mappings).
    vendor_mappings: dict[str, Any] = field(default_factory=dict)
    cluster_mapping: list[ClusterRule] = field(default_factory=list)

    def table(self, name: str) -> list[Any]:
        """Rows of the table ``name`` (a key of :data:`TABLES`)."""
        if name not in TABLES:
            raise KeyError(f"unknown config table {name!r}; expected one of {', '.join(TABLES)}")
        return getattr(self, name)


# ----------------------------------------------------------------------------- table specs


@dataclass(frozen=True)
class Column:
    """How one CSV column is parsed and checked."""

    name: str
    kind: str = "str"  # str | int | decimal | date | regex
    required: bool = True
    choices: tuple[str, ...] | None = None
    minimum: Decimal | None = None
    min_exclusive: bool = False
    maximum: Decimal | None = None
    help: str = ""

    def expected(self) -> str:
        """What a valid value looks like, in words (used in errors and the README)."""
        if self.choices:
            text = "one of " + ", ".join(self.choices)
        else:
            text = {
                "str": "a non-empty text" if self.required else "a text",
                "int": "an integer",
                "decimal": f"a decimal number (at most {_MAX_DECIMAL_PLACES} decimal places)",
                "date": "a date YYYY-MM-DD",
                "regex": "a valid regular expression",
            }[self.kind]
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.min_exclusive else '>='} {self.minimum}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum}")
        if bounds:
            text += " " + " and ".join(bounds)
        return text


@dataclass(frozen=True)
class Table:
    """One config CSV: its columns (in file order), primary key and row type."""

    name: str
    row_type: type
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    help: str
    # An optional file may be absent (homes made before it existed): it then has no rows.
    optional: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


_ZERO = Decimal(0)
_ONE = Decimal(1)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "model_generations",
            ModelGeneration,
            (
                Column("model_generation", help="id used everywhere else, e.g. gen2"),
                Column("display_name"),
                Column(
                    "efficiency_multiplier",
                    "decimal",
                    False,
                    minimum=_ONE,
                    help="measured token-efficiency multiplier m; break-even share = 1 - 1/m",
                ),
                Column(
                    "target_share",
                    "decimal",
                    False,
                    minimum=_ZERO,
                    maximum=_ONE,
                    help="empty -> policies.target_share",
                ),
                Column(
                    "parameters",
                    "int",
                    False,
                    minimum=_ONE,
                    help="parameter count, for the 6*N*D FLOPs check",
                ),
            ),
            ("model_generation",),
            "One row per model generation.",
        ),
        Table(
            "datasets",
            Dataset,
            (
                Column("dataset_version", help="id, e.g. web-filtered-v1"),
                Column("dataset_name"),
                Column("kind", choices=DATASET_KINDS),
                Column("tokens", "int", minimum=_ZERO),
                Column(
                    "expected_lifetime_tokens",
                    "int",
                    minimum=_ZERO,
                    min_exclusive=True,
                    help="tokens all consumers are expected to use over its life",
                ),
                Column(
                    "amortization_policy",
                    choices=AMORTIZATION_POLICIES,
                    required=False,
                    help="empty -> policies.default_amortization_policy",
                ),
                Column("description", required=False),
                Column(
                    "useful_life_months",
                    "int",
                    False,
                    minimum=_ZERO,
                    min_exclusive=True,
                    help="straight_line: months its cost is spread over, from its first use; "
                    "empty -> policies.default_useful_life_months",
                ),
                Column(
                    "licence_cost",
                    "decimal",
                    False,
                    minimum=_ZERO,
                    help="licence paid for this version, in licence_currency; part of its own "
                    "cost (data.acquisition), amortized like the rest",
                ),
                Column(
                    "licence_currency",
                    required=False,
                    help="ISO 4217 code; empty -> USD; needs an fx_rates.csv rate on or before "
                    "licence_date",
                ),
                Column(
                    "licence_date",
                    "date",
                    False,
                    help="when the licence cost was incurred (required with licence_cost)",
                ),
            ),
            ("dataset_version",),
            "One row per dataset version (an asset whose cost is amortized over its consumers).",
        ),
        Table(
            "dataset_consumption",
            DatasetConsumption,
            (
                Column("dataset_version", help="the dataset consumed (must be in datasets.csv)"),
                Column("consumer", help="a model generation or a dataset derived from it"),
                Column("consumer_kind", choices=("model_generation", "dataset")),
                Column(
                    "tokens_consumed",
                    "int",
                    False,
                    minimum=_ZERO,
                    min_exclusive=True,
                    help="empty only for a derived dataset with a share",
                ),
                Column("consumed_on", "date"),
                Column(
                    "share",
                    "decimal",
                    False,
                    minimum=_ZERO,
                    min_exclusive=True,
                    maximum=_ONE,
                    help="derived datasets: share of the parent used; tokens_consumed empty -> "
                    "floor(share x the parent's tokens)",
                ),
            ),
            ("dataset_version", "consumer"),
            "Who used which dataset: training runs and derived datasets (the lineage, "
            "which must have no cycles).",
        ),
        Table(
            "tag_mapping",
            TagRule,
            (
                Column("priority", "int", help="lower wins; unique"),
                Column("field", choices=TAG_FIELDS),
                Column(
                    "pattern",
                    help="Python regex, must match the whole value; for k8s_label and "
                    "k8s_annotation: key=glob (e.g. team=data-*)",
                ),
                Column("activity", choices=TAGGABLE_ACTIVITIES),
                Column("model_generation", required=False, help="must be in model_generations.csv"),
                Column("dataset_version", required=False, help="must be in datasets.csv"),
            ),
            ("priority",),
            "Rules that tag Slurm jobs without (complete) tags in their comment. A job's "
            "comment keys override; else the first matching rule by priority; else untagged.",
        ),
        Table(
            "vendor_projects",
            VendorProject,
            (
                Column("vendor", help="as the invoices folder is named"),
                Column("project_code"),
                Column("dataset_version", help="must be in datasets.csv"),
                Column(
                    "activity",
                    choices=TAGGABLE_ACTIVITIES,
                    required=False,
                    help=f"empty -> {DEFAULT_VENDOR_ACTIVITY}",
                ),
            ),
            ("vendor", "project_code"),
            "Maps annotation-vendor project codes to the dataset they produce.",
        ),
        Table(
            "fx_rates",
            FxRate,
            (
                Column("currency", help="ISO 4217 code; USD needs no row"),
                Column("rate_date", "date"),
                Column("usd_per_unit", "decimal", minimum=_ZERO, min_exclusive=True),
            ),
            ("currency", "rate_date"),
            "Dated exchange rates to USD (the latest rate on or before a cost's date applies).",
        ),
        Table(
            "clusters",
            Cluster,
            (
                Column("cluster", help="as billing tags and sacct's Cluster field name it"),
                Column("ownership", choices=("owned", "cloud")),
                Column("gpu_type"),
                Column("gpus", "int", minimum=_ZERO, min_exclusive=True),
            ),
            ("cluster",),
            "GPU clusters.",
        ),
        Table(
            "owned_hardware",
            OwnedAsset,
            (
                Column("asset_id"),
                Column("cluster", help="an owned cluster in clusters.csv"),
                Column("in_service_date", "date"),
                Column("cost_usd", "decimal", minimum=_ZERO),
                Column("useful_life_months", "int", minimum=_ZERO, min_exclusive=True),
                Column("salvage_usd", "decimal", minimum=_ZERO, help="at most cost_usd"),
                Column("gpus", "int", minimum=_ZERO, min_exclusive=True),
                Column("gpu_type"),
                Column("power_kw", "decimal", minimum=_ZERO),
                Column("pue", "decimal", minimum=_ONE),
                Column("usd_per_kwh", "decimal", minimum=_ZERO),
            ),
            ("asset_id",),
            "Owned-hardware register: straight-line depreciation per hour plus energy "
            "(kW x PUE x $/kWh) become FOCUS-shaped billing rows.",
        ),
        Table(
            "gpu_types",
            GpuType,
            (
                Column(
                    "gpu_type", help="lower case, as clusters.csv, sacct gres and manifests name it"
                ),
                Column(
                    "peak_tflops",
                    "decimal",
                    minimum=_ZERO,
                    min_exclusive=True,
                    help="dense BF16 TFLOP/s per GPU (no sparsity)",
                ),
                Column("description", required=False),
            ),
            ("gpu_type",),
            "Peak throughput per GPU model for the FLOPs cross-check (implied utilisation = "
            "6 x parameters x tokens / (GPU-hours x 3600 x peak)). A fresh config gets the "
            "published figures for A100, H100 SXM, H200 and B200.",
        ),
        Table(
            "cluster_mapping",
            ClusterRule,
            (
                Column("priority", "int", help="lower wins; unique"),
                Column("match", choices=CLUSTER_MATCHES, help="what the pattern is matched to"),
                Column(
                    "tag_key",
                    required=False,
                    help="the billing tag whose value is matched (match = tag only)",
                ),
                Column(
                    "pattern",
                    help="must match the whole value: a regular expression (RE2, as DuckDB "
                    "runs it) or, with syntax glob, a glob (* any characters, ? one, [..])",
                ),
                Column("syntax", choices=PATTERN_SYNTAXES, required=False, help="empty -> regex"),
                Column("cluster", help="a cluster from clusters.csv"),
            ),
            ("priority",),
            "Which billing rows belong to which cluster (cost pool). Precedence: the first "
            "rule by priority that matches; else the row's cluster tag "
            "(policies.cluster_tag_key); else the owned-hardware register (resource id = "
            "asset_id); else no cluster (GPU-hour rows without one are reported by "
            "rpt_reconciliation.unmapped_gpu_charges). Optional file.",
            optional=True,
        ),
    )
}

# Rows a fresh config starts with (tables not listed start header-only).
DEFAULT_ROWS: dict[str, list[dict[str, Any]]] = {
    "gpu_types": [
        {"gpu_type": "a100", "peak_tflops": "312", "description": "NVIDIA A100 SXM, dense BF16"},
        {"gpu_type": "h100", "peak_tflops": "989", "description": "NVIDIA H100 SXM, dense BF16"},
        {"gpu_type": "h200", "peak_tflops": "989", "description": "NVIDIA H200, dense BF16"},
        {"gpu_type": "b200", "peak_tflops": "2250", "description": "NVIDIA B200, dense BF16"},
    ]
}


# ----------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one place of one config file."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.column is not None:
            is_yaml = self.file.endswith((".yaml", ".yml"))
            where += f", {'key' if is_yaml else 'column'} {self.column}"
        got = "" if self.value is None else f": value {self.value!r}"
        return f"config/{where}{got} — expected {self.expected}"


class ConfigError(ValueError):
    """The configuration is invalid; ``issues`` lists every problem found (not just the first)."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        head = f"{len(self.issues)} problem(s) in the configuration:"
        super().__init__("\n".join([head, *(f"  - {issue}" for issue in self.issues)]))


class _Issues(list[ConfigIssue]):
    def add(
        self, file: str, line: int | None, column: str | None, value: str | None, expected: str
    ) -> None:
        self.append(ConfigIssue(file, line, column, value, expected))


# ----------------------------------------------------------------------------- parsing


def _parse_value(col: Column, text: str) -> Any:
    """The typed value of ``text`` or raise ValueError; ``text`` is non-empty and stripped."""
    if col.choices is not None:
        if text not in col.choices:
            raise ValueError
        return text
    if col.kind == "str":
        return text
    if col.kind == "regex":
        try:
            re.compile(text)
        except re.error as exc:
            raise ValueError from exc
        return text
    if col.kind == "date":
        if not _DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    if col.kind == "int":
        if not _INT.fullmatch(text):
            raise ValueError
        number: Decimal | int = int(text)
    else:
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError from exc
        exponent = number.as_tuple().exponent
        if not number.is_finite() or (
            isinstance(exponent, int) and -exponent > _MAX_DECIMAL_PLACES
        ):
            raise ValueError
    if col.minimum is not None and (
        number < col.minimum or (col.min_exclusive and number == col.minimum)
    ):
        raise ValueError
    if col.maximum is not None and number > col.maximum:
        raise ValueError
    return number


@dataclass
class _Parsed:
    """Rows of one table as parsed, with the line each came from."""

    rows: list[Any]
    lines: list[int]
    # Raw primary-key values of every row, including rows with errors elsewhere, so a typo in
    # one column does not also produce "unknown reference" errors in other files.
    known_keys: set[tuple[str, ...]]


def _read_table(
    config_dir: Path, table: Table, defaults: Mapping[str, Any], issues: _Issues
) -> _Parsed:
    parsed = _Parsed([], [], set())
    path = config_dir / table.file_name
    if not path.is_file() and table.optional:
        return parsed
    if not path.is_file():
        issues.add(
            table.file_name,
            None,
            None,
            None,
            f"the file to exist (a CSV with header {','.join(table.column_names)})",
        )
        return parsed
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            issues.add(
                table.file_name, 1, None, None, f"a header row: {','.join(table.column_names)}"
            )
            return parsed
        except csv.Error as exc:
            issues.add(table.file_name, 1, None, None, f"valid CSV ({exc})")
            return parsed
        by_name = {c.name: c for c in table.columns}
        header_ok = True
        for name in header:
            if name not in by_name:
                issues.add(
                    table.file_name,
                    1,
                    name,
                    None,
                    f"only the columns {', '.join(table.column_names)}",
                )
                header_ok = False
        for col in table.columns:
            if col.required and col.name not in header:
                issues.add(table.file_name, 1, col.name, None, "this column in the header")
                header_ok = False
        if len(set(header)) != len(header):
            issues.add(table.file_name, 1, None, None, "each column name once")
            header_ok = False
        if not header_ok:
            return parsed

        first_seen: dict[tuple[str, ...], int] = {}
        line = 1
        while True:
            start = line + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                issues.add(table.file_name, start, None, None, f"valid CSV ({exc})")
                break
            line = reader.line_num
            if not any(field.strip() for field in record):
                continue
            if len(record) != len(header):
                issues.add(
                    table.file_name,
                    start,
                    None,
                    ",".join(record),
                    f"{len(header)} fields like the header, got {len(record)}",
                )
                continue
            raw = {name: field.strip() for name, field in zip(header, record, strict=True)}
            key = tuple(raw.get(name, "") for name in table.primary_key)
            if all(key):
                if key in first_seen:
                    issues.add(
                        table.file_name,
                        start,
                        ",".join(table.primary_key),
                        ",".join(key),
                        f"a unique key (already on line {first_seen[key]})",
                    )
                    continue
                first_seen[key] = start
                parsed.known_keys.add(key)
            values: dict[str, Any] = {}
            ok = True
            for col in table.columns:
                text = raw.get(col.name, "")
                if not text:
                    if col.required:
                        issues.add(table.file_name, start, col.name, text, col.expected())
                        ok = False
                    values[col.name] = defaults.get(col.name)
                    continue
                try:
                    values[col.name] = _parse_value(col, text)
                except ValueError:
                    issues.add(table.file_name, start, col.name, text, col.expected())
                    ok = False
            if ok:
                parsed.rows.append(table.row_type(**values))
                parsed.lines.append(start)
    return parsed


def _read_policies(config_dir: Path, issues: _Issues) -> Policies:
    values = dict(DEFAULT_POLICIES)
    path = config_dir / POLICIES_FILE
    if not path.is_file():
        issues.add(POLICIES_FILE, None, None, None, "the file to exist (YAML mapping of policies)")
        return Policies(**values)
    try:
        # BaseLoader keeps every scalar as text: `target_share: 0.80` must never become a float.
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        issues.add(
            POLICIES_FILE, mark.line + 1 if mark else None, None, None, f"valid YAML ({exc})"
        )
        return Policies(**values)
    if node is None:
        return Policies(**values)
    if not isinstance(node, yaml.MappingNode):
        issues.add(POLICIES_FILE, node.start_mark.line + 1, None, None, "a mapping of key: value")
        return Policies(**values)
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        if key not in DEFAULT_POLICIES:
            issues.add(
                POLICIES_FILE, line, key, None, "one of the keys " + ", ".join(DEFAULT_POLICIES)
            )
            continue
        if key in seen:
            issues.add(POLICIES_FILE, line, key, None, "each key once")
            continue
        seen.add(key)
        if not isinstance(value_node, yaml.ScalarNode):
            issues.add(POLICIES_FILE, line, key, None, "a single value")
            continue
        text = str(value_node.value).strip()
        problem = _policy_problem(key, text)
        if problem:
            issues.add(POLICIES_FILE, line, key, text, problem)
            continue
        values[key] = (
            Decimal(text) if key in DECIMAL_POLICIES else int(text) if key in INT_POLICIES else text
        )
    return Policies(**values)


def _policy_problem(key: str, text: str) -> str | None:
    """What is wrong with ``text`` as the value of policy ``key``, or None."""
    if key in POLICY_CHOICES:
        choices = POLICY_CHOICES[key]
        return None if text in choices else "one of " + ", ".join(choices)
    if key in SHARE_POLICIES:
        col = Column(key, "decimal", minimum=_ZERO, maximum=_ONE)
        try:
            _parse_value(col, text)
        except ValueError:
            return col.expected()
        return None
    if key in DECIMAL_POLICIES or key in INT_POLICIES:
        col = Column(
            key,
            "decimal" if key in DECIMAL_POLICIES else "int",
            minimum=_ZERO,
            min_exclusive=True,
        )
        try:
            _parse_value(col, text)
        except ValueError:
            return col.expected()
        return None
    if key == "reporting_currency":
        return None if _CURRENCY.fullmatch(text) else "a three-letter ISO 4217 code, e.g. USD"
    if key == "slurm_timezone":
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            return "an IANA time zone name, e.g. UTC or Europe/Paris"
        return None
    return None if text else "a non-empty value"


# ----------------------------------------------------------------------------- cross checks


def _check_tag_pattern(row: TagRule, line: int, issues: _Issues) -> None:
    """A regex for job fields and k8s_namespace; ``key=glob`` for labels and annotations."""
    if row.field in K8S_KEY_VALUE_FIELDS:
        key, equals, _ = row.pattern.partition("=")
        if not equals or not key.strip():
            issues.add(
                "tag_mapping.csv",
                line,
                "pattern",
                row.pattern,
                f"key=glob for {row.field}, e.g. team=data-*",
            )
        return
    try:
        re.compile(row.pattern)
    except re.error:
        issues.add("tag_mapping.csv", line, "pattern", row.pattern, "a valid regular expression")


def _check_references(parsed: Mapping[str, _Parsed], issues: _Issues) -> None:
    generations = {k[0] for k in parsed["model_generations"].known_keys}
    datasets = {k[0] for k in parsed["datasets"].known_keys}
    clusters = {row.cluster: row for row in parsed["clusters"].rows}
    cluster_keys = {k[0] for k in parsed["clusters"].known_keys}

    consumption = parsed["dataset_consumption"]
    for row, line in zip(consumption.rows, consumption.lines, strict=True):
        if row.dataset_version not in datasets:
            issues.add(
                "dataset_consumption.csv",
                line,
                "dataset_version",
                row.dataset_version,
                "a dataset_version from datasets.csv",
            )
        known = generations if row.consumer_kind == "model_generation" else datasets
        source = (
            "model_generations.csv" if row.consumer_kind == "model_generation" else "datasets.csv"
        )
        if row.consumer not in known:
            issues.add(
                "dataset_consumption.csv",
                line,
                "consumer",
                row.consumer,
                f"a {row.consumer_kind} from {source}",
            )

    rules = parsed["tag_mapping"]
    for row, line in zip(rules.rows, rules.lines, strict=True):
        _check_tag_pattern(row, line, issues)
        if row.model_generation is not None and row.model_generation not in generations:
            issues.add(
                "tag_mapping.csv",
                line,
                "model_generation",
                row.model_generation,
                "empty or a model_generation from model_generations.csv",
            )
        if row.dataset_version is not None and row.dataset_version not in datasets:
            issues.add(
                "tag_mapping.csv",
                line,
                "dataset_version",
                row.dataset_version,
                "empty or a dataset_version from datasets.csv",
            )

    projects = parsed["vendor_projects"]
    for row, line in zip(projects.rows, projects.lines, strict=True):
        if row.dataset_version not in datasets:
            issues.add(
                "vendor_projects.csv",
                line,
                "dataset_version",
                row.dataset_version,
                "a dataset_version from datasets.csv",
            )

    rates = parsed["fx_rates"]
    for row, line in zip(rates.rows, rates.lines, strict=True):
        if not _CURRENCY.fullmatch(row.currency):
            issues.add(
                "fx_rates.csv",
                line,
                "currency",
                row.currency,
                "a three-letter ISO 4217 code, e.g. EUR",
            )
        elif row.currency == "USD" and row.usd_per_unit != 1:
            issues.add(
                "fx_rates.csv",
                line,
                "usd_per_unit",
                str(row.usd_per_unit),
                "1 for USD (or no USD row at all)",
            )

    assets = parsed["owned_hardware"]
    for row, line in zip(assets.rows, assets.lines, strict=True):
        if row.cluster not in cluster_keys:
            issues.add(
                "owned_hardware.csv", line, "cluster", row.cluster, "a cluster from clusters.csv"
            )
        elif row.cluster in clusters and clusters[row.cluster].ownership != "owned":
            issues.add(
                "owned_hardware.csv",
                line,
                "cluster",
                row.cluster,
                "a cluster whose ownership is 'owned' in clusters.csv",
            )
        if row.salvage_usd > row.cost_usd:
            issues.add(
                "owned_hardware.csv",
                line,
                "salvage_usd",
                str(row.salvage_usd),
                f"at most cost_usd ({row.cost_usd})",
            )


def _check_lineage_cycles(consumption: _Parsed, issues: _Issues) -> None:
    """Report every cycle in "dataset is derived from dataset" edges once."""
    edges: dict[str, list[tuple[str, int]]] = {}
    for row, line in zip(consumption.rows, consumption.lines, strict=True):
        if row.consumer_kind == "dataset":
            edges.setdefault(row.dataset_version, []).append((row.consumer, line))
    state: dict[str, int] = {}  # 1 = on the current path, 2 = fully explored
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for child, line in edges.get(node, ()):
            if state.get(child) == 1:
                cycle = [*path[path.index(child) :], child]
                issues.add(
                    "dataset_consumption.csv",
                    line,
                    "consumer",
                    child,
                    "no cycle in dataset lineage, found " + " -> ".join(cycle),
                )
            elif child not in state:
                visit(child)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def _resolve_parent_shares(parsed: Mapping[str, _Parsed], issues: _Issues) -> None:
    """Each consumption row needs tokens_consumed, or (derived datasets) a share of the parent
    that gives it: tokens_consumed = floor(share x the parent's tokens)."""
    tokens = {row.dataset_version: row.tokens for row in parsed["datasets"].rows}
    consumption = parsed["dataset_consumption"]
    for i, (row, line) in enumerate(zip(consumption.rows, consumption.lines, strict=True)):
        if row.share is not None and row.consumer_kind != "dataset":
            issues.add(
                "dataset_consumption.csv",
                line,
                "share",
                str(row.share),
                "empty for a model_generation consumer (share is for derived datasets)",
            )
        elif row.share is not None and row.tokens_consumed is not None:
            issues.add(
                "dataset_consumption.csv",
                line,
                "share",
                str(row.share),
                "empty when tokens_consumed is given (give one of them)",
            )
        elif row.share is None and row.tokens_consumed is None:
            issues.add(
                "dataset_consumption.csv",
                line,
                "tokens_consumed",
                None,
                "an integer > 0 (or, for a derived dataset, a share in (0, 1])",
            )
        elif row.tokens_consumed is None and row.dataset_version in tokens:
            derived = int(row.share * tokens[row.dataset_version])  # floor: both are >= 0
            if derived <= 0:
                issues.add(
                    "dataset_consumption.csv",
                    line,
                    "share",
                    str(row.share),
                    f"a share of {row.dataset_version}'s {tokens[row.dataset_version]} tokens "
                    "that is at least one token",
                )
            else:
                consumption.rows[i] = dataclasses.replace(row, tokens_consumed=derived)


def _check_licences(parsed: Mapping[str, _Parsed], issues: _Issues) -> None:
    """A licence cost needs its date and a rate for its currency on or before that date."""
    rates: dict[str, list[date]] = {}
    for rate in parsed["fx_rates"].rows:
        rates.setdefault(rate.currency, []).append(rate.rate_date)
    datasets = parsed["datasets"]
    for i, (row, line) in enumerate(zip(datasets.rows, datasets.lines, strict=True)):
        if row.licence_cost is None:
            for name in ("licence_currency", "licence_date"):
                if getattr(row, name) is not None:
                    issues.add(
                        "datasets.csv",
                        line,
                        name,
                        str(getattr(row, name)),
                        "empty when licence_cost is empty",
                    )
            continue
        if row.licence_date is None:
            issues.add(
                "datasets.csv",
                line,
                "licence_date",
                None,
                f"a date YYYY-MM-DD (licence_cost is {row.licence_cost})",
            )
            continue
        currency = row.licence_currency or "USD"
        if currency != "USD" and not _CURRENCY.fullmatch(currency):
            issues.add(
                "datasets.csv",
                line,
                "licence_currency",
                currency,
                "a three-letter ISO 4217 code, e.g. EUR",
            )
        elif currency != "USD" and not any(d <= row.licence_date for d in rates.get(currency, [])):
            issues.add(
                "datasets.csv",
                line,
                "licence_currency",
                currency,
                f"a currency with a rate in fx_rates.csv on or before {row.licence_date}",
            )
        datasets.rows[i] = dataclasses.replace(row, licence_currency=currency)
def _check_cluster_mapping(parsed: Mapping[str, _Parsed], issues: _Issues) -> None:
    """Rules name a known cluster, a tag key exactly when they match a tag, and a pattern
    that DuckDB (which applies them) compiles: its RE2 lacks some Python regex features."""
    import duckdb

    clusters = {k[0] for k in parsed["clusters"].known_keys}
    rules = parsed["cluster_mapping"]
    con = duckdb.connect() if rules.rows else None
    try:
        for row, line in zip(rules.rows, rules.lines, strict=True):
            name = "cluster_mapping.csv"
            if row.cluster not in clusters:
                issues.add(name, line, "cluster", row.cluster, "a cluster from clusters.csv")
            if row.match == "tag" and row.tag_key is None:
                issues.add(name, line, "tag_key", "", "the tag key to match (match is tag)")
            if row.match != "tag" and row.tag_key is not None:
                issues.add(name, line, "tag_key", row.tag_key, "empty (match is not tag)")
            if row.syntax == "regex" and con is not None:
                try:
                    re.compile(row.pattern)
                    con.execute("select regexp_full_match('', ?)", [row.pattern]).fetchall()
                except (re.error, duckdb.Error) as exc:
                    message = str(exc).removeprefix("Invalid Input Error: ")
                    issues.add(
                        name,
                        line,
                        "pattern",
                        row.pattern,
                        f"a valid regular expression ({message})",
                    )
    finally:
        if con is not None:
            con.close()


# ----------------------------------------------------------------------------- public API


def load_config(home: Home | str | os.PathLike[str]) -> Config:
    """Read and validate ``<home>/config/``; raise :class:`ConfigError` listing every problem."""
    home = home if isinstance(home, Home) else Home.resolve(home)
    issues = _Issues()
    policies = _read_policies(home.config, issues)
    table_defaults = {
        "model_generations": {"target_share": policies.target_share},
        "datasets": {
            "amortization_policy": policies.default_amortization_policy,
            "useful_life_months": policies.default_useful_life_months,
        },
        "vendor_projects": {"activity": DEFAULT_VENDOR_ACTIVITY},
        "cluster_mapping": {"syntax": "regex"},
    }
    parsed = {
        name: _read_table(home.config, table, table_defaults.get(name, {}), issues)
        for name, table in TABLES.items()
    }
    _check_references(parsed, issues)
    _check_lineage_cycles(parsed["dataset_consumption"], issues)
    _resolve_parent_shares(parsed, issues)
    _check_licences(parsed, issues)
    _check_cluster_mapping(parsed, issues)
    mappings = _read_vendor_mappings(home.config, issues)
    if issues:
        raise ConfigError(issues)
    return Config(
        policies=policies,
        **{name: p.rows for name, p in parsed.items()},
        vendor_mappings=mappings,
    )


def _read_vendor_mappings(config_dir: Path, issues: _Issues) -> dict[str, Any]:
    """``config/vendors/*.yaml``, each validated; problems name the file and the key."""
    from llmledger.vendor_mappings import load_mappings

    mappings, found = load_mappings(config_dir)
    for issue in found:
        issues.add(issue.file, None, issue.key, issue.value, issue.expected)
    return mappings


# The type each kind of config value is staged as (DuckDB SQL; Parquet reads them back as
# DECIMAL(38,10), DATE, BIGINT and VARCHAR).
_STAGED_TYPES = {
    "str": "varchar",
    "regex": "varchar",
    "int": "bigint",
    "decimal": "decimal(38, 10)",
    "date": "date",
}


def staged_columns(table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a staged table (``policies`` or a key of :data:`TABLES`)."""
    if table == "policies":
        return [
            (
                f.name,
                _STAGED_TYPES[
                    "decimal"
                    if f.name in DECIMAL_POLICIES
                    else "int"
                    if f.name in INT_POLICIES
                    else "str"
                ],
            )
            for f in fields(Policies)
        ]
    spec = TABLES[table]
    return [(c.name, _STAGED_TYPES["str" if c.choices else c.kind]) for c in spec.columns]


def stage(home: Home | str | os.PathLike[str]) -> Config:
    """Load and validate the config, then write each table to ``staged/config/<name>.parquet``.

    Types are explicit (:func:`staged_columns`), so an empty table still has its columns for
    dbt. DuckDB writes the files (pyarrow would import pandas, a third of a second before every
    build). Each file is written to a temporary name and renamed into place.
    """
    import duckdb

    from llmledger.engine import sql_string

    home = home if isinstance(home, Home) else Home.resolve(home)
    config = load_config(home)
    home.staged_config.mkdir(parents=True, exist_ok=True)
    payloads = {"policies": [config.policies], **{name: config.table(name) for name in TABLES}}
    with duckdb.connect() as con:
        for name, rows in payloads.items():
            columns = staged_columns(name)
            # One list per column, unnested side by side: one statement, whatever the rows.
            select = ", ".join(f'unnest(?::{kind}[]) as "{column}"' for column, kind in columns)
            values = [[getattr(row, column) for row in rows] for column, _ in columns]
            _atomic_write(
                home.staged_config / f"{name}.parquet",
                lambda tmp, q=select, v=values: con.execute(
                    f"copy (select {q}) to {sql_string(tmp)} (format parquet)", v
                ),
            )
    # Closed quarters are staged beside the config: dbt reads both on every build.
    from llmledger import periods

    periods.stage(home)
    return config


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def policies_yaml(overrides: Mapping[str, Any] | None = None) -> str:
    """``policies.yaml`` text: every policy with a comment saying what it does."""
    values = {**DEFAULT_POLICIES, **(overrides or {})}
    unknown = set(values) - set(DEFAULT_POLICIES)
    if unknown:
        raise KeyError(f"unknown policies: {', '.join(sorted(unknown))}")
    lines = [
        "# LLM Ledger accounting policies. A missing key takes its default (the value written",
        "# here by `write_empty`); an unknown key is an error, because it is usually a typo.",
    ]
    for key, value in values.items():
        lines += ["", f"# {_POLICY_HELP[key]}"]
        if key in POLICY_CHOICES:
            lines.append(f"# One of: {' | '.join(POLICY_CHOICES[key])}")
        lines += [f"# Default: {DEFAULT_POLICIES[key]}", f"{key}: {value}"]
    return "\n".join(lines) + "\n"


def readme_text() -> str:
    """``config/README.md``: what each file holds, its columns and rules."""
    out = [
        "# config/ — reference data maintained by hand",
        "",
        "Validated on every load: an error names the file, the line (header = line 1), the "
        "column, the value and what was expected. CSV files are UTF-8 with a header row; the "
        "first columns listed form the primary key. Empty optional cells take the default shown.",
        "",
        f"## {POLICIES_FILE}",
        "",
        "Accounting policies (one `key: value` per line; unknown keys are an error).",
        "",
    ]
    out += [
        f"- `{key}` (default `{value}`): {_POLICY_HELP[key]}"
        for key, value in DEFAULT_POLICIES.items()
    ]
    for table in TABLES.values():
        out += [
            "",
            f"## {table.file_name}",
            "",
            table.help,
            f"Primary key: {', '.join(table.primary_key)}.",
            "",
        ]
        for col in table.columns:
            note = f"; {col.help}" if col.help else ""
            optional = "optional, " if not col.required else ""
            out.append(f"- `{col.name}`: {optional}{col.expected()}{note}")
    return "\n".join(out) + "\n"


def write_empty(home: Home | str | os.PathLike[str]) -> None:
    """Write header-only CSVs, a commented default ``policies.yaml`` and the README.

    Only files that do not exist yet are written: a lab's own config is never overwritten.
    """
    home = home if isinstance(home, Home) else Home.resolve(home)
    home.config.mkdir(parents=True, exist_ok=True)
    files = {
        table.file_name: _csv_text(table, DEFAULT_ROWS.get(name, []))
        for name, table in TABLES.items()
    }
    files[POLICIES_FILE] = policies_yaml()
    files[README_FILE] = readme_text()
    for name, text in files.items():
        path = home.config / name
        if not path.exists():
            _write_text(path, text)


def write_config(
    home: Home | str | os.PathLike[str],
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    policies: Mapping[str, Any] | None = None,
) -> None:
    """Overwrite the config with the given rows (a dict per row, keyed by column name).

    Tables not given are written header-only (or with their ``DEFAULT_ROWS``). Used by the demo,
    which ships a complete config; it does not validate (call :func:`load_config` afterwards).
    """
    home = home if isinstance(home, Home) else Home.resolve(home)
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise KeyError(f"unknown config tables: {', '.join(sorted(unknown))}")
    home.config.mkdir(parents=True, exist_ok=True)
    for name, table in TABLES.items():
        rows = tables.get(name, DEFAULT_ROWS.get(name, []))
        _write_text(home.config / table.file_name, _csv_text(table, rows))
    _write_text(home.config / POLICIES_FILE, policies_yaml(policies))
    _write_text(home.config / README_FILE, readme_text())


def _csv_text(table: Table, rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in rows:
        extra = set(row) - set(table.column_names)
        if extra:
            raise KeyError(f"{table.file_name}: unknown columns {', '.join(sorted(extra))}")
        writer.writerow(["" if row.get(c) is None else str(row.get(c)) for c in table.column_names])
    return buffer.getvalue()
