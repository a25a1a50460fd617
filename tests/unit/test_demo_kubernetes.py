"""The demo's Kubernetes pods: valid OpenCost JSON, inside free capacity, counted in the summary."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest

from llmledger import demo
from llmledger.demo import billing, kubernetes
from llmledger.demo import organisation as org
from llmledger.demo.jobs import hourly_capacity, plan
from llmledger.ingest import opencost
from llmledger.paths import Home


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("demo_k8s"))
    return home, demo.generate(home)


def test_opencost_files_parse_and_add_up_to_the_summary(generated):
    home, summary = generated
    files = sorted((home.landing / "pipeline" / "k8s").glob("*.json"))
    assert [f.name for f in files] == [
        "opencost_owned-h100_2026-07.json",
        "opencost_owned-h100_2026-08.json",
        "opencost_owned-h100_2026-09.json",
    ]
    loaded, gpu_hours, skipped = 0, Decimal(0), Counter()
    for path in files:
        parsed = opencost.parse(path.read_text())
        assert parsed.rejected == []
        loaded += len(parsed.records)
        gpu_hours += sum(r.values["gpu_hours"] for r in parsed.records)
        skipped.update(parsed.skip_reasons)
        assert {r.values["cluster"] for r in parsed.records} == {org.OWNED}
    assert loaded == summary.pod_count > 100
    assert gpu_hours == summary.pod_gpu_hours_by_cluster[org.OWNED]
    days = 31 + 31 + 30  # one __idle__ and one CPU-only system pod per daily window
    assert skipped == {"opencost_idle": days, "no_gpu_hours": days}


def test_pods_only_use_capacity_slurm_left_free():
    rng = random.Random(demo.DEFAULT_SEED)
    jobs = plan(rng, hourly_capacity(billing.cloud_gpus_by_day()))
    pods = kubernetes.plan_pods(jobs, demo.DEFAULT_SEED)
    busy: Counter[int] = Counter()
    for job in jobs:
        if job.cluster == org.OWNED:
            for hour in range(
                kubernetes._hour(job.start), kubernetes._hour(job.end - timedelta(seconds=1)) + 1
            ):
                busy[hour] += job.gpus
    for pod in pods:
        for hour in range(
            kubernetes._hour(pod.start), kubernetes._hour(pod.end - timedelta(seconds=1)) + 1
        ):
            busy[hour] += pod.gpus
    assert max(busy.values()) <= org.CLUSTER_GPUS[org.OWNED]
    assert {p.namespace for p in pods} == {"eval", "notebooks"}
    assert all(p.start.date() == (p.end - timedelta(seconds=1)).date() for p in pods)
    # Seeded apart from the Slurm plan: same seed, same pods.
    assert kubernetes.plan_pods(jobs, demo.DEFAULT_SEED) == pods
