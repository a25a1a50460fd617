"""The demo organisation: a mid-sized LLM lab, its clusters, people and reference data.

Everything here is fixed (no randomness): the random parts of the demo (jobs, quantities)
are drawn in the other modules from one seeded generator.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Seven quarters: 2025Q1 .. 2026Q3. END is exclusive.
START = date(2025, 1, 1)
END = date(2026, 10, 1)
T0 = datetime.combine(START, datetime.min.time())
T_END = datetime.combine(END, datetime.min.time())

OWNED = "owned-h100"
CLOUD = "cloud-h200"
CLUSTER_GPUS = {OWNED: 256, CLOUD: 128}
GPU_TYPE = {OWNED: "h100", CLOUD: "h200"}
# Per GPU: what one GPU's share of a node looks like in sacct's AllocTRES.
CPUS_PER_GPU = {OWNED: 12, CLOUD: 14}
MEM_GB_PER_GPU = {OWNED: 128, CLOUD: 256}
FIRST_JOB_ID = {OWNED: 1001, CLOUD: 700001}

OWNED_ACCOUNT = "owned-dc-fra1"
OWNED_INVOICE_PREFIX = "OWN-H100"

CLOUD_PROVIDER = "Nimbus Cloud"
CLOUD_ACCOUNT = "nimbus-4471-2208"
CLOUD_REGION = "us-central-2"
ON_DEMAND_RATE = Decimal("3.90")  # USD per H200 GPU-hour, list price
# Burst nodes come from a neocloud billing a plain CSV (the demo's second billing format).
NEOCLOUD_PROVIDER = "Hyperbolt GPU"
NEOCLOUD_ACCOUNT = "hb-lab-0193"
NEOCLOUD_GPUS_PER_NODE = 8
NEOCLOUD_NODE_PATTERN = "hb-h200-*"  # config/cluster_mapping.csv: these nodes are cloud-h200


class Commitment:
    """A prepaid GPU commitment: ``gpus`` reserved every hour of ``[start, end)``."""

    def __init__(self, commitment_id: str, start: date, end: date, gpus: int, rate: str) -> None:
        self.commitment_id = commitment_id
        self.start = start
        self.end = end
        self.gpus = gpus
        self.rate = Decimal(rate)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def amount(self) -> Decimal:
        return self.rate * self.gpus * 24 * self.days


COMMITMENTS = (
    Commitment("cd-h200-2025", date(2025, 1, 1), date(2026, 1, 1), 96, "2.65"),
    Commitment("cd-h200-2026", date(2026, 1, 1), date(2026, 10, 1), 112, "2.35"),
)

# Windows in which the cloud cluster is topped up to its full size with on-demand nodes,
# rented by the day: the synthetic-data peak and the two big RL runs.
BURST_WINDOWS = (
    (date(2025, 9, 1), date(2025, 9, 22)),
    (date(2026, 1, 20), date(2026, 2, 6)),
    (date(2026, 9, 5), date(2026, 9, 26)),
)

USERS = {
    "data": ("mchen", "apatel", "tokafor"),
    "pretrain": ("jkowalski", "srao"),
    "posttrain": ("lnguyen", "ebrandt", "dsilva"),
    "eval": ("rmurphy", "kyamamoto"),
    "infra": ("opsbot", "hwagner"),
}
UIDS = {user: 50100 + i for i, user in enumerate(sorted(u for us in USERS.values() for u in us))}

GENERATIONS = (
    # id, display name, efficiency multiplier, target share (empty -> policy), parameters
    ("gen1", "Ledger-1 7B", "2.0", None, 7_000_000_000),
    ("gen2", "Ledger-2 13B", "3.5", None, 13_000_000_000),
    ("gen3", "Ledger-3 24B", "5.0", "0.80", 24_000_000_000),
)

T = 10**12
B = 10**9
M = 10**6
DATASETS = (
    # version, name, kind, tokens, expected lifetime tokens, policy (empty -> default), text
    (
        "web-crawl-v1",
        "Web crawl 2024",
        "crawl",
        40 * T,
        40 * T,
        None,
        "Raw crawl of 2024; stored in object storage, consumed once by filtering",
    ),
    (
        "web-filtered-v1",
        "Filtered web",
        "filtered",
        12 * T,
        24 * T,
        None,
        "Quality-scored and deduplicated web text",
    ),
    (
        "web-rephrased-v1",
        "Rephrased web",
        "rephrased",
        3 * T,
        6 * T,
        None,
        "High-quality web documents rephrased by an LLM into Q&A and textbook style",
    ),
    (
        "synth-math-v1",
        "Synthetic math",
        "synthetic",
        300 * B,
        600 * B,
        None,
        "Verified synthetic math solutions",
    ),
    (
        "synth-code-v1",
        "Synthetic code",
        "synthetic",
        200 * B,
        800 * B,
        None,
        "Executed and unit-tested synthetic programs; generation continues for the next model",
    ),
    (
        "sft-human-v1",
        "Human SFT",
        "human_sft",
        150 * M,
        600 * M,
        None,
        "Instruction-response pairs written by annotators (labelforge)",
    ),
    (
        "pref-human-v1",
        "Human preferences",
        "human_preference",
        120 * M,
        360 * M,
        None,
        "Pairwise preference comparisons (prefpair)",
    ),
    (
        "redteam-v1",
        "Red-team prompts",
        "other",
        20 * M,
        60 * M,
        None,
        "Adversarial prompts and safe responses from hourly red-teaming",
    ),
)

CONSUMPTION = (
    # dataset, consumer, kind, tokens consumed, consumed on
    ("web-crawl-v1", "web-filtered-v1", "dataset", 40 * T, date(2025, 1, 20)),
    ("web-filtered-v1", "web-rephrased-v1", "dataset", 2 * T, date(2025, 4, 1)),
    ("web-filtered-v1", "gen1", "model_generation", 4 * T, date(2025, 2, 10)),
    ("web-filtered-v1", "gen2", "model_generation", 4 * T, date(2025, 7, 15)),
    ("web-filtered-v1", "gen3", "model_generation", 5 * T, date(2026, 3, 1)),
    ("web-rephrased-v1", "gen2", "model_generation", 1500 * B, date(2025, 7, 15)),
    ("web-rephrased-v1", "gen3", "model_generation", 2 * T, date(2026, 3, 1)),
    ("synth-math-v1", "gen2", "model_generation", 100 * B, date(2025, 11, 15)),
    ("synth-math-v1", "gen3", "model_generation", 300 * B, date(2026, 7, 16)),
    ("synth-code-v1", "gen3", "model_generation", 100 * B, date(2026, 7, 16)),
    ("sft-human-v1", "gen2", "model_generation", 150 * M, date(2025, 12, 1)),
    ("sft-human-v1", "gen3", "model_generation", 300 * M, date(2026, 8, 5)),
    ("pref-human-v1", "gen2", "model_generation", 60 * M, date(2025, 12, 16)),
    ("pref-human-v1", "gen3", "model_generation", 120 * M, date(2026, 8, 20)),
    ("redteam-v1", "gen2", "model_generation", 10 * M, date(2025, 12, 1)),
    ("redteam-v1", "gen3", "model_generation", 20 * M, date(2026, 8, 5)),
)

TAG_RULES = (
    # priority, field, pattern (full match), activity, model generation, dataset version
    (10, "job_name", r"eval-gen1-.*", "evaluation", "gen1", None),
    (11, "job_name", r"eval-gen2-.*", "evaluation", "gen2", None),
    (12, "job_name", r"eval-gen3-.*", "evaluation", "gen3", None),
    (19, "job_name", r"^eval-.*", "evaluation", None, None),
    # Kubernetes evaluation pods (OpenCost): key=glob on a label; the generation is a label.
    (15, "k8s_label", "app=lm-eval-*", "evaluation", None, None),
    (20, "wckey", r"gen1-pt", "training.pretrain", "gen1", None),
    (21, "wckey", r"gen2-pt", "training.pretrain", "gen2", None),
    (22, "wckey", r"gen3-pt", "training.pretrain", "gen3", None),
    (30, "job_name", r"dedup-web-.*", "data.selection", None, "web-filtered-v1"),
    (40, "account", r"pretrain", "training.pretrain", None, None),
)

VENDOR_PROJECTS = (
    # vendor, project code, dataset, activity (empty -> data.human)
    ("labelforge", "LF-SFT-GENERAL", "sft-human-v1", None),
    ("labelforge", "LF-SFT-CODE", "sft-human-v1", None),
    ("labelforge", "LF-REDTEAM", "redteam-v1", "data.human"),
    ("prefpair", "PP-PREF-CHAT", "pref-human-v1", None),
    ("prefpair", "PP-PREF-CODE", "pref-human-v1", None),
)

OWNED_PODS = (
    # asset, in service, cost, salvage, GPUs, kW (8 nodes at 10.2 kW + fabric)
    ("h100-pod-a", date(2024, 7, 1), "2900000.00", "290000.00", 64, "87.6"),
    ("h100-pod-b", date(2024, 7, 1), "2900000.00", "290000.00", 64, "87.6"),
    ("h100-pod-c", date(2024, 10, 1), "2850000.00", "285000.00", 64, "87.6"),
    ("h100-pod-d", date(2024, 10, 1), "2850000.00", "285000.00", 64, "87.6"),
)
USEFUL_LIFE_MONTHS = 48
PUE = "1.30"
USD_PER_KWH = "0.085"

EUR_RATES = ("1.0412", "1.0465", "1.0821", "1.1347", "1.1502", "1.1688", "1.1731")


def config_tables() -> dict[str, list[dict[str, Any]]]:
    """The demo organisation's complete ``config/`` as rows per table."""
    quarters = [date(2025 + q // 4, 3 * (q % 4) + 1, 1) for q in range(len(EUR_RATES))]
    return {
        "model_generations": [
            {
                "model_generation": g,
                "display_name": name,
                "efficiency_multiplier": mult,
                "target_share": share,
                "parameters": params,
            }
            for g, name, mult, share, params in GENERATIONS
        ],
        "datasets": [
            {
                "dataset_version": v,
                "dataset_name": name,
                "kind": kind,
                "tokens": tokens,
                "expected_lifetime_tokens": life,
                "amortization_policy": policy,
                "description": text,
            }
            for v, name, kind, tokens, life, policy, text in DATASETS
        ],
        "dataset_consumption": [
            {
                "dataset_version": d,
                "consumer": c,
                "consumer_kind": kind,
                "tokens_consumed": tokens,
                "consumed_on": on.isoformat(),
            }
            for d, c, kind, tokens, on in CONSUMPTION
        ],
        "tag_mapping": [
            {
                "priority": p,
                "field": f,
                "pattern": pattern,
                "activity": a,
                "model_generation": g,
                "dataset_version": d,
            }
            for p, f, pattern, a, g, d in TAG_RULES
        ],
        "vendor_projects": [
            {"vendor": v, "project_code": code, "dataset_version": d, "activity": a}
            for v, code, d, a in VENDOR_PROJECTS
        ],
        "fx_rates": [
            {"currency": "EUR", "rate_date": q.isoformat(), "usd_per_unit": rate}
            for q, rate in zip(quarters, EUR_RATES, strict=True)
        ],
        "clusters": [
            {"cluster": OWNED, "ownership": "owned", "gpu_type": "H100", "gpus": 256},
            {"cluster": CLOUD, "ownership": "cloud", "gpu_type": "H200", "gpus": 128},
        ],
        "cluster_mapping": [
            {
                "priority": 10,
                "match": "resource_id",
                "pattern": NEOCLOUD_NODE_PATTERN,
                "syntax": "glob",
                "cluster": CLOUD,
            }
        ],
        "owned_hardware": [
            {
                "asset_id": asset,
                "cluster": OWNED,
                "in_service_date": since.isoformat(),
                "cost_usd": cost,
                "useful_life_months": USEFUL_LIFE_MONTHS,
                "salvage_usd": salvage,
                "gpus": gpus,
                "gpu_type": "H100",
                "power_kw": kw,
                "pue": PUE,
                "usd_per_kwh": USD_PER_KWH,
            }
            for asset, since, cost, salvage, gpus, kw in OWNED_PODS
        ],
    }
