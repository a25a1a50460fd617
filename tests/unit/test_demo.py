"""The demo organisation: deterministic, valid, and covering everything the warehouse handles.

The files are read back here with plain ``csv`` and string splitting (not with the generator's
code), so these tests check what a lab's files would look like, not the generator's own view.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import config, demo
from llmledger.paths import Home

SACCT_HEADER = (
    "JobID|JobName|Partition|Account|User|WCKey|Comment|Cluster|State|Submit|Start|End|Elapsed"
    "|AllocTRES"
)
D = Decimal


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("demo"))
    return home, demo.generate(home)


@pytest.fixture(scope="module")
def cfg(generated):
    return config.load_config(generated[0])


@pytest.fixture(scope="module")
def focus(generated) -> dict[str, list[dict[str, str]]]:
    home, _ = generated
    out = {}
    for path in sorted((home.landing / "billing").rglob("*.csv*")):
        if path.parent.name == "hyperbolt":
            continue  # the neocloud's own CSV, not FOCUS: fixture `neocloud`
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", newline="", encoding="utf-8") as handle:
            out[path.relative_to(home.landing).as_posix()] = list(csv.DictReader(handle))
    return out


@pytest.fixture(scope="module")
def neocloud(generated) -> dict[str, list[dict[str, str]]]:
    home, _ = generated
    out = {}
    for path in sorted((home.landing / "billing" / "hyperbolt").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            out[path.relative_to(home.landing).as_posix()] = list(csv.DictReader(handle))
    return out


@pytest.fixture(scope="module")
def sacct(generated) -> dict[str, list[dict[str, str]]]:
    home, _ = generated
    out = {}
    # Files only: pipeline/k8s/ holds the OpenCost exports (tests/unit/test_demo_kubernetes.py).
    for path in sorted(p for p in (home.landing / "pipeline").iterdir() if p.is_file()):
        header, *lines = path.read_text(encoding="utf-8").splitlines()
        assert header == SACCT_HEADER
        names = header.split("|")
        out[path.name] = [dict(zip(names, line.split("|"), strict=True)) for line in lines]
    return out


def jobs_of(sacct) -> list[dict[str, str]]:
    return [row for rows in sacct.values() for row in rows if "." not in row["JobID"]]


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def gpus(tres: str) -> int:
    return int(re.search(r"gres/gpu:\w+=(\d+)", tres).group(1))


def test_two_generations_are_byte_identical(generated, tmp_path):
    home, _ = generated
    other = Home(tmp_path / "other")
    demo.generate(other)
    files = sorted(p.relative_to(home.root) for p in home.root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(other.root) for p in other.root.rglob("*") if p.is_file())
    for relative in files:
        assert (home.root / relative).read_bytes() == (other.root / relative).read_bytes(), relative


def test_regenerating_in_place_changes_nothing(tmp_path):
    home = Home(tmp_path)
    first = demo.generate(home)
    stamps = {p: p.stat().st_mtime_ns for p in home.landing.rglob("*") if p.is_file()}
    second = demo.generate(home)
    assert {p: p.stat().st_mtime_ns for p in home.landing.rglob("*") if p.is_file()} == stamps
    assert first == second


def test_size_and_files_written(generated):
    home, summary = generated
    listed = [p for paths in summary.files.values() for p in paths]
    on_disk = {p.relative_to(home.root).as_posix() for p in home.landing.rglob("*") if p.is_file()}
    assert sorted(listed) == sorted(on_disk)
    assert all(
        p.startswith(f"landing/{folder}/") for folder, ps in summary.files.items() for p in ps
    )
    assert sum((home.root / p).stat().st_size for p in listed) < 15_000_000


def test_config_is_valid_and_complete(cfg):
    generations = {g.model_generation: g for g in cfg.model_generations}
    assert set(generations) == {"gen1", "gen2", "gen3"}
    assert [generations[g].efficiency_multiplier for g in ("gen1", "gen2", "gen3")] == [
        D("2.0"),
        D("3.5"),
        D("5.0"),
    ]
    assert all(g.parameters for g in generations.values())
    assert cfg.policies.target_share == D("0.80")
    kinds = {d.kind for d in cfg.datasets}
    assert kinds >= {"crawl", "filtered", "rephrased", "synthetic", "human_sft", "human_preference"}
    lineage = {
        (c.dataset_version, c.consumer)
        for c in cfg.dataset_consumption
        if c.consumer_kind == "dataset"
    }
    assert {("web-crawl-v1", "web-filtered-v1"), ("web-filtered-v1", "web-rephrased-v1")} <= lineage
    trained_by = defaultdict(set)
    for c in cfg.dataset_consumption:
        if c.consumer_kind == "model_generation":
            trained_by[c.dataset_version].add(c.consumer)
    assert trained_by["web-filtered-v1"] == {"gen1", "gen2", "gen3"}
    assert trained_by["sft-human-v1"] >= {"gen2", "gen3"}
    assert {c.cluster: (c.ownership, c.gpus) for c in cfg.clusters} == {
        "owned-h100": ("owned", 256),
        "cloud-h200": ("cloud", 128),
    }
    assert sum(a.gpus for a in cfg.owned_hardware) == 256


def test_covers_seven_quarters(focus, sacct):
    starts = [ts(r["ChargePeriodStart"].rstrip("Z")) for rows in focus.values() for r in rows]
    quarters = {(d.year, (d.month - 1) // 3) for d in starts}
    assert len(quarters) == 7 and min(starts) == datetime(2025, 1, 1)
    assert max(ts(j["End"]) for j in jobs_of(sacct)) < datetime(2026, 10, 1)


def test_cloud_commitment_is_amortized_exactly(focus):
    cloud = [r for name, rows in focus.items() if name.startswith("billing/cloud/") for r in rows]
    purchases = [r for r in cloud if r["ChargeCategory"] == "Purchase"]
    assert len(purchases) == 2
    for purchase in purchases:
        assert D(purchase["BilledCost"]) > 0 and D(purchase["EffectiveCost"]) == 0
        assert json.loads(purchase["Tags"]) == {}
        amortized = [
            r
            for r in cloud
            if r["CommitmentDiscountId"] == purchase["CommitmentDiscountId"]
            and r["CommitmentDiscountStatus"] in ("Used", "Unused")
        ]
        assert sum(D(r["EffectiveCost"]) for r in amortized) == D(purchase["BilledCost"])
        assert all(D(r["BilledCost"]) == 0 for r in amortized)
    status = Counter(r["CommitmentDiscountStatus"] for r in cloud)
    assert status["Used"] > 300 and status["Unused"] > 100
    for row in cloud:
        if row["CommitmentDiscountStatus"]:
            assert row["ConsumedUnit"] == "GPU-Hours" and D(row["EffectiveCost"]) > 0
            assert json.loads(row["Tags"]) == {"cluster": "cloud-h200"}


def test_burst_nodes_come_from_the_neocloud_as_its_own_csv(neocloud, generated):
    """Days in a burst window rent 128 - commitment GPUs as 8-GPU nodes: 192 GPU-hours x 3.90
    = 748.80 a node-day, on one invoice per month (the demo's second billing format)."""
    home, summary = generated
    rows = [r for rows in neocloud.values() for r in rows]
    # Bursts: 2025-09-01..21 (21 days x 4 nodes over the 96-GPU commitment), 2026-01-20..02-05
    # (17 days x 2 nodes over 112), 2026-09-05..25 (21 days x 2 nodes).
    assert len(rows) == 21 * 4 + 17 * 2 + 21 * 2
    assert {(r["gpu_hours"], r["rate_usd"], r["amount_usd"]) for r in rows} == {
        ("192", "3.90", "748.80")
    }
    assert set(neocloud) == {
        f"billing/hyperbolt/hyperbolt_{m}.csv" for m in ("2025-09", "2026-01", "2026-02", "2026-09")
    }
    assert summary.billed_cost_by_invoice["HB-202509"] == D("748.80") * 84
    assert (home.config / "billing_mappings" / "hyperbolt.yaml").exists()


def test_cloud_direct_and_overhead_rows(focus):
    cloud = [r for name, rows in focus.items() if name.startswith("billing/cloud/") for r in rows]
    tags = [json.loads(r["Tags"]) for r in cloud]
    assert {"dataset_version": "web-crawl-v1", "activity": "data.acquisition"} in tags
    for name, rows in focus.items():
        if name.startswith("billing/cloud/"):
            untagged = [r for r in rows if r["ChargeCategory"] == "Usage" and r["Tags"] == "{}"]
            assert len(untagged) == 1 and untagged[0]["ServiceName"] == "Support"
            shared = [r for r in rows if "cost_type" in json.loads(r["Tags"])]
            assert [(json.loads(r["Tags"]), r["BilledCost"]) for r in shared] == [
                ({"cluster": "cloud-h200", "cost_type": "storage"}, "6500.00")
            ]


def test_one_invoice_per_billing_file_and_totals_match(focus, neocloud, generated):
    _, summary = generated
    billed, effective = defaultdict(D), defaultdict(D)
    for name, rows in focus.items():
        assert len({r["InvoiceId"] for r in rows}) == 1, name
        for r in rows:
            billed[r["InvoiceId"]] += D(r["BilledCost"])
            effective[r["InvoiceId"]] += D(r["EffectiveCost"])
    for name, rows in neocloud.items():
        assert len({r["invoice_number"] for r in rows}) == 1, name
        for r in rows:
            billed[r["invoice_number"]] += D(r["amount_usd"])
            effective[r["invoice_number"]] += D(r["amount_usd"])
    assert len(billed) == 42 + 4  # owned + cloud per month, neocloud in its 4 burst months
    assert dict(billed) == summary.billed_cost_by_invoice
    assert dict(effective) == summary.effective_cost_by_invoice
    owned = [r for name, rows in focus.items() if "owned-h100" in name for r in rows]
    assert {r["ProviderName"] for r in owned} == {"Owned"}
    assert {r["ConsumedUnit"] for r in owned} == {"GPU-Hours", "kWh"}


def test_annotation_invoices(generated, cfg):
    """Two vendor formats (built-in CSV, mapped JSON); every line maps to a known project."""
    from llmledger.ingest.invoices import parse
    from llmledger.vendor_mappings import mapping_for

    home, summary = generated
    projects = {(p.vendor, p.project_code) for p in cfg.vendor_projects}
    totals, unit_types, credits, fees, formats = defaultdict(D), set(), 0, 0, set()
    for path in sorted((home.landing / "invoices").rglob("*.*")):
        vendor = path.parent.name
        mapping = mapping_for(home.config, vendor)
        formats.add((vendor, mapping.format))
        parsed = parse(path.read_text(encoding="utf-8"), mapping, vendor)
        assert parsed.rejected == []
        for record in parsed.records:
            line = record.values
            assert (vendor, line["project_code"]) in projects
            totals[(vendor, line["invoice_id"])] += line["amount"]
            unit_types.add(line["unit_type"])
            credits += (line["credit"] or 0) > 0
            fees += (line["platform_fee"] or 0) > 0
    assert formats == {("labelforge", "csv"), ("prefpair", "json")}
    assert unit_types >= {"item", "comparison", "hour"}
    assert credits >= 2 and fees >= 10
    assert dict(totals) == summary.annotation_amount_by_invoice


def test_sacct_shape(sacct, generated):
    _, summary = generated
    jobs = jobs_of(sacct)
    steps = [r for rows in sacct.values() for r in rows if "." in r["JobID"]]
    assert {r["JobID"].split(".")[1] for r in steps} == {"batch", "extern", "0"}
    assert any(re.fullmatch(r"\d+_\d+", j["JobID"]) for j in jobs)
    assert len(jobs) == summary.job_count == sum(summary.jobs_by_cluster.values())
    assert len({(j["Cluster"], j["JobID"]) for j in jobs}) == len(jobs)
    for name, rows in sacct.items():
        month = re.search(r"(\d{4}-\d{2})\.txt$", name).group(1)
        assert all(r["End"].startswith(month) for r in rows if "." not in r["JobID"]), name
    assert any(ts(j["Start"]).date() != ts(j["End"]).date() for j in jobs)
    assert any(ts(j["Start"]).month != ts(j["End"]).month for j in jobs)
    hours = defaultdict(D)
    for j in jobs:
        assert ts(j["Submit"]) <= ts(j["Start"]) < ts(j["End"])
        seconds = (ts(j["End"]) - ts(j["Start"])).total_seconds()
        hours[j["Cluster"]] += D(gpus(j["AllocTRES"])) * D(int(seconds)) / 3600
    for cluster, total in hours.items():
        pods = summary.pod_gpu_hours_by_cluster.get(cluster, D(0))
        assert abs(total + pods - summary.gpu_hours_by_cluster[cluster]) < D("0.001")


def _tagging(job: dict[str, str], rules: list[config.TagRule]) -> str:
    if "activity=" in job["Comment"]:
        return "comment"
    field = {
        "account": "Account",
        "wckey": "WCKey",
        "job_name": "JobName",
        "comment": "Comment",
        "partition": "Partition",
        "user_name": "User",
    }
    for rule in sorted(rules, key=lambda r: r.priority):
        if rule.field not in field:  # k8s_* rules tag Kubernetes pods, never Slurm jobs
            continue
        if re.fullmatch(rule.pattern, job[field[rule.field]]):
            return rule.activity
    return "untagged"


def test_jobs_cover_the_taxonomy(sacct, cfg):
    jobs = jobs_of(sacct)
    comment_activities = Counter(
        re.search(r"activity=([\w.]+)", j["Comment"]).group(1) for j in jobs if j["Comment"]
    )
    assert set(comment_activities) >= {
        "data.selection",
        "data.transformation",
        "data.generation",
        "training.midtrain",
        "training.sft",
        "training.preference",
        "training.rl",
    }
    assert all("model_generation=" in j["Comment"] for j in jobs if "training." in j["Comment"])
    tagging = Counter(_tagging(j, cfg.tag_mapping) for j in jobs)
    assert tagging["training.pretrain"] > 100  # only by the wckey / account rules
    assert tagging["evaluation"] > 100  # only by the job-name rules
    assert tagging["data.selection"] > 10  # dedup jobs, by the job-name rule
    assert tagging["untagged"] > 100
    untagged_names = {j["JobName"] for j in jobs if _tagging(j, cfg.tag_mapping) == "untagged"}
    assert untagged_names == {"jupyter", "debug-nccl"}
    assert {
        m.group(1) for j in jobs if (m := re.search(r"model_generation=(\w+)", j["Comment"]))
    } == {"gen1", "gen2", "gen3"}


def test_no_hour_over_capacity_and_some_idle(sacct, focus, neocloud, cfg):
    size = {c.cluster: c.gpus for c in cfg.clusters}
    # GPU-hours the cloud bills per day (commitment plus on-demand), spread over its hours.
    paid_per_day = defaultdict(D)
    for name, rows in focus.items():
        for r in rows:
            if name.startswith("billing/cloud/") and r["ConsumedUnit"] == "GPU-Hours":
                paid_per_day[r["ChargePeriodStart"][:10]] += D(r["ConsumedQuantity"])
    for rows in neocloud.values():
        for r in rows:
            paid_per_day[r["usage_date"]] += D(r["gpu_hours"])
    busy: dict[str, Counter] = defaultdict(Counter)
    for j in jobs_of(sacct):
        hour = ts(j["Start"]).replace(minute=0, second=0)
        while hour < ts(j["End"]):
            busy[j["Cluster"]][hour] += gpus(j["AllocTRES"])
            hour += timedelta(hours=1)
    for cluster, per_hour in busy.items():
        assert max(per_hour.values()) <= size[cluster], cluster
    for hour, used in busy["cloud-h200"].items():
        assert used <= paid_per_day[hour.date().isoformat()] / 24, hour
    total_hours = 638 * 24
    for cluster in size:
        idle_hours = total_hours - sum(
            1 for used in busy[cluster].values() if used >= size[cluster]
        )
        assert idle_hours > 1000, cluster


def test_summary_is_printable(generated):
    _, summary = generated
    text = str(summary)
    assert f"{summary.job_count} jobs" in text and "billed" in text
    assert summary.total_billed_cost == summary.total_effective_cost
    assert set(summary.capacity_gpu_hours_by_cluster) == {"owned-h100", "cloud-h200"}


def test_demo_home_stages(generated, tmp_path):
    home, _ = generated
    staged = Home(tmp_path)
    shutil.copytree(home.config, staged.config)  # config/vendors/ is a folder
    assert config.stage(staged).vendor_mappings["prefpair"].format == "json"
    assert (Path(staged.staged_config) / "datasets.parquet").exists()
