"""The demo organisation: a realistic LLM lab's files, exactly as the lab would receive them.

:func:`generate` writes ``landing/`` (FOCUS billing, a neocloud's invoice CSV, vendor
invoices, sacct exports) and a complete ``config/`` for seven quarters (2025Q1..2026Q3),
three model generations, an owned H100 cluster and a cloud H200 cluster with a prepaid
commitment topped up with neocloud nodes. It is deterministic: one seeded ``random.Random``,
no clock, so two runs give byte-identical files. Totals are
accumulated while writing (not read back), so an end-to-end test can hold the warehouse to them.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from llmledger import config as config_mod
from llmledger.demo import billing, invoices, kubernetes
from llmledger.demo import organisation as org
from llmledger.demo.jobs import hourly_capacity, plan, sacct_files
from llmledger.paths import Home

DEFAULT_SEED = 20260101


@dataclass
class DemoSummary:
    """What :func:`generate` wrote, with totals counted while writing.

    Paths are relative to the home (as ``_source_file`` records them); keys of ``files`` are
    the landing folders ``billing``, ``invoices`` and ``pipeline``.
    """

    home: Home
    files: dict[str, list[str]] = field(default_factory=dict)
    billed_cost_by_invoice: dict[str, Decimal] = field(default_factory=dict)
    effective_cost_by_invoice: dict[str, Decimal] = field(default_factory=dict)
    annotation_amount_by_invoice: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    job_count: int = 0
    jobs_by_cluster: dict[str, int] = field(default_factory=dict)
    gpu_hours_by_cluster: dict[str, Decimal] = field(default_factory=dict)
    capacity_gpu_hours_by_cluster: dict[str, Decimal] = field(default_factory=dict)
    # Kubernetes pods (OpenCost JSON), included in gpu_hours_by_cluster as well.
    pod_count: int = 0
    pod_gpu_hours_by_cluster: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total_billed_cost(self) -> Decimal:
        return sum(self.billed_cost_by_invoice.values(), Decimal(0))

    @property
    def total_effective_cost(self) -> Decimal:
        return sum(self.effective_cost_by_invoice.values(), Decimal(0))

    @property
    def total_annotation_amount(self) -> Decimal:
        return sum(self.annotation_amount_by_invoice.values(), Decimal(0))

    def __str__(self) -> str:
        files = ", ".join(f"{folder} {len(paths)}" for folder, paths in self.files.items())
        return (
            f"{sum(len(p) for p in self.files.values())} files ({files}), {self.job_count} jobs, "
            f"billed {self.total_billed_cost:,.2f} USD, annotation "
            f"{self.total_annotation_amount:,.2f} USD"
        )


def generate(home: Home | str | os.PathLike[str], seed: int = DEFAULT_SEED) -> DemoSummary:
    """Write the demo organisation's landing files and config into ``home``.

    Config files are overwritten (the demo ships its own); landing files are written only
    where their content differs, so a second run with the same seed changes nothing.
    """
    home = home if isinstance(home, Home) else Home.resolve(home)
    rng = random.Random(seed)
    summary = DemoSummary(home, {folder: [] for folder in ("billing", "invoices", "pipeline")})

    config_mod.write_config(home, org.config_tables())
    assets = config_mod.load_config(home).owned_hardware

    capacity_by_day = billing.cloud_gpus_by_day()
    jobs = plan(rng, hourly_capacity(capacity_by_day))
    gpu_seconds: dict[str, int] = defaultdict(int)
    for job in jobs:
        gpu_seconds[job.cluster] += job.gpu_seconds
        summary.jobs_by_cluster[job.cluster] = summary.jobs_by_cluster.get(job.cluster, 0) + 1
    summary.job_count = len(jobs)
    summary.gpu_hours_by_cluster = {
        c: (Decimal(s) / 3600).quantize(Decimal("1e-10")) for c, s in sorted(gpu_seconds.items())
    }
    for sacct in sacct_files(jobs):
        _write(summary, "pipeline", Path("pipeline") / sacct.name, sacct.text())

    pods = kubernetes.plan_pods(jobs, seed)
    summary.pod_count = len(pods)
    pod_hours: dict[str, Decimal] = defaultdict(Decimal)
    for pod in pods:
        pod_hours[kubernetes.CLUSTER] += pod.gpu_hours
    summary.pod_gpu_hours_by_cluster = dict(pod_hours)
    for cluster, hours in pod_hours.items():
        summary.gpu_hours_by_cluster[cluster] += hours
    for export in kubernetes.opencost_files(pods):
        _write(summary, "pipeline", Path("pipeline") / "k8s" / export.name, export.text())

    cloud = billing.cloud_rows(rng, [j for j in jobs if j.cluster == org.CLOUD])
    capacity: dict[str, Decimal] = defaultdict(Decimal)
    for month in billing.months():
        for folder, name, rows in (
            # Hourly owned rows (~6,000 a month) are shipped gzipped, as a busy export would be.
            ("owned-h100", f"owned-h100_{month:%Y-%m}.csv.gz", billing.owned_rows(assets, month)),
            ("cloud", f"nimbus_focus_{month:%Y-%m}.csv", cloud[month]),
        ):
            for row in rows:
                invoice = row["InvoiceId"]
                summary.billed_cost_by_invoice[invoice] = (
                    summary.billed_cost_by_invoice.get(invoice, Decimal(0)) + row["BilledCost"]
                )
                summary.effective_cost_by_invoice[invoice] = (
                    summary.effective_cost_by_invoice.get(invoice, Decimal(0))
                    + row["EffectiveCost"]
                )
                if row.get("ConsumedUnit") == "GPU-Hours":
                    capacity[json.loads(row["Tags"])["cluster"]] += row["ConsumedQuantity"]
            text = billing.focus_csv(rows)
            _write(summary, "billing", Path("billing") / folder / name, text)
    mapping_file = home.config / "billing_mappings" / "hyperbolt.yaml"
    _write_config_file(mapping_file, billing.NEOCLOUD_MAPPING)
    for month, rows in sorted(billing.neocloud_rows().items()):
        for row in rows:
            invoice = row["invoice_number"]
            for totals in (summary.billed_cost_by_invoice, summary.effective_cost_by_invoice):
                totals[invoice] = totals.get(invoice, Decimal(0)) + row["amount_usd"]
            capacity[org.CLOUD] += row["gpu_hours"]  # by the cluster_mapping rule
        relative = Path("billing") / "hyperbolt" / f"hyperbolt_{month:%Y-%m}.csv"
        _write(summary, "billing", relative, billing.neocloud_csv(rows))
    summary.capacity_gpu_hours_by_cluster = dict(sorted(capacity.items()))

    mapping = home.config / "vendors" / "prefpair.yaml"
    mapping.parent.mkdir(parents=True, exist_ok=True)
    if not mapping.exists() or mapping.read_text(encoding="utf-8") != invoices.PREFPAIR_MAPPING:
        mapping.write_text(invoices.PREFPAIR_MAPPING, encoding="utf-8")
    for invoice in invoices.labelforge(rng) + invoices.prefpair(rng):
        summary.annotation_amount_by_invoice[(invoice.vendor, invoice.invoice_id)] = invoice.total
        _write(
            summary, "invoices", Path("invoices") / invoice.vendor / invoice.file_name, invoice.text
        )
    return summary


def _write_config_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _write(summary: DemoSummary, folder: str, relative: Path, text: str) -> None:
    path = summary.home.landing / relative
    data = text.encode("utf-8")
    if relative.suffix == ".gz":
        # mtime 0 and no file name in the header: the same text gives the same bytes.
        data = gzip.compress(data, compresslevel=6, mtime=0)
    if not (path.exists() and path.read_bytes() == data):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    summary.files[folder].append(path.relative_to(summary.home.root).as_posix())


__all__ = ["DEFAULT_SEED", "DemoSummary", "generate"]
