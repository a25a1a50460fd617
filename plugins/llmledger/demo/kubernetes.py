"""Kubernetes pods of the demo lab, written as OpenCost allocation API responses.

In 2026Q3 the lab runs part of its evaluation on a Kubernetes partition of the owned H100
cluster, beside Slurm: evaluation-harness pods (labelled ``app=lm-eval-harness``, tagged by the
``k8s_label`` rule ``app=lm-eval-*``; the generation comes from their ``model_generation``
label) and researchers' notebooks (no tags: they land in ``untagged``). OpenCost is queried with
``step=1d``, one file per month under ``landing/pipeline/k8s/``, with ``includeIdle=true`` (an
``__idle__`` entry per day, skipped at ingest) and a CPU-only system pod (0 GPU-hours, skipped).

Pods only use GPUs the Slurm plan left free in every hour they touch, so the owned cluster is
never oversubscribed. Durations are whole quarter hours, so every ``gpuHours`` is exact in JSON.
The pods draw from their own generator (seeded from the demo seed): the Slurm jobs, bills and
invoices of a given seed are the same with or without them.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from llmledger.demo import organisation as org
from llmledger.demo.jobs import Job

CLUSTER = org.OWNED
FIRST_DAY = date(2026, 7, 1)
LIST_PRICE = Decimal("2.95")  # OpenCost's list price per H100 GPU-hour (not used to attribute)
NOTEBOOK_USERS = ("rmurphy", "kyamamoto", "mchen")


@dataclass(frozen=True)
class Pod:
    """One pod's run inside one day (OpenCost window)."""

    namespace: str
    name: str
    gpus: int
    start: datetime
    end: datetime
    labels: dict[str, str]

    @property
    def gpu_hours(self) -> Decimal:
        return Decimal(self.gpus) * Decimal(int((self.end - self.start).total_seconds())) / 3600


def _hour(moment: datetime) -> int:
    return int((moment - org.T0).total_seconds() // 3600)


def _busy(jobs: Iterable[Job]) -> dict[int, int]:
    """GPUs the Slurm plan booked per hour of the owned cluster (every hour a job touches)."""
    busy: dict[int, int] = defaultdict(int)
    for job in jobs:
        if job.cluster != CLUSTER:
            continue
        for hour in range(_hour(job.start), _hour(job.end - timedelta(seconds=1)) + 1):
            busy[hour] += job.gpus
    return busy


def plan_pods(jobs: Iterable[Job], seed: int) -> list[Pod]:
    """The quarter's pods, placed only where the owned cluster has free GPUs."""
    rng = random.Random(seed + 8_000_003)
    busy = _busy(jobs)
    pods: list[Pod] = []
    day = FIRST_DAY
    while day < org.END:
        midnight = datetime.combine(day, datetime.min.time())
        wanted = []
        for k in range(rng.randint(1, 3)):
            generation = "gen3" if day >= date(2026, 8, 1) else "gen2"
            start = midnight + timedelta(minutes=15 * rng.randint(0, 60))
            length = timedelta(minutes=15 * rng.randint(4, 24))
            wanted.append(
                (
                    "eval",
                    f"lm-eval-{generation}-{day:%Y%m%d}-{k}",
                    8,
                    start,
                    length,
                    {"app": "lm-eval-harness", "model_generation": generation, "team": "eval"},
                )
            )
        if day.weekday() < 5:
            user = NOTEBOOK_USERS[rng.randrange(len(NOTEBOOK_USERS))]
            start = midnight + timedelta(hours=9, minutes=15 * rng.randint(0, 8))
            wanted.append(
                (
                    "notebooks",
                    f"jupyter-{user}",
                    1,
                    start,
                    timedelta(minutes=15 * rng.randint(8, 28)),
                    {"app": "jupyterhub", "user": user},
                )
            )
        for namespace, name, gpus, start, length, labels in wanted:
            end = min(start + length, midnight + timedelta(days=1))
            hours = range(_hour(start), _hour(end - timedelta(seconds=1)) + 1)
            if all(busy[h] + gpus <= org.CLUSTER_GPUS[CLUSTER] for h in hours):
                for h in hours:
                    busy[h] += gpus
                pods.append(Pod(namespace, name, gpus, start, end, labels))
        day += timedelta(days=1)
    return pods


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: Decimal) -> float:
    # Quarter hours x whole GPUs, and cents: exact in binary, printed without noise.
    return float(value)


def _allocation(pod: Pod, window: tuple[datetime, datetime]) -> dict[str, object]:
    minutes = Decimal(int((pod.end - pod.start).total_seconds())) / 60
    gpu_cost = (pod.gpu_hours * LIST_PRICE).quantize(Decimal("0.01"))
    return {
        "name": f"{pod.namespace}/{pod.name}",
        "properties": {
            "cluster": CLUSTER,
            "node": f"h100-k8s-{1 + hash_name(pod.name) % 4:02d}",
            "namespace": pod.namespace,
            "controller": pod.name.rsplit("-", 1)[0],
            "controllerKind": "job" if pod.namespace == "eval" else "statefulset",
            "pod": pod.name,
            "labels": pod.labels,
            "annotations": {},
        },
        "window": {"start": _ts(window[0]), "end": _ts(window[1])},
        "start": _ts(pod.start),
        "end": _ts(pod.end),
        "minutes": _number(minutes),
        "cpuCoreHours": _number(pod.gpu_hours * org.CPUS_PER_GPU[CLUSTER]),
        "gpuCount": pod.gpus,
        "gpuHours": _number(pod.gpu_hours),
        "gpuCost": _number(gpu_cost),
        "totalCost": _number(gpu_cost),
    }


def hash_name(name: str) -> int:
    """A stable small number from a name (Python's hash() is salted per process)."""
    return sum(name.encode("utf-8"))


def _system(window: tuple[datetime, datetime]) -> dict[str, object]:
    return {
        "name": "kube-system/coredns-7db6d8ff4d",
        "properties": {
            "cluster": CLUSTER,
            "namespace": "kube-system",
            "controller": "coredns",
            "controllerKind": "deployment",
            "pod": "coredns-7db6d8ff4d",
            "labels": {"k8s_app": "kube-dns"},
        },
        "window": {"start": _ts(window[0]), "end": _ts(window[1])},
        "start": _ts(window[0]),
        "end": _ts(window[1]),
        "minutes": 1440.0,
        "cpuCoreHours": 2.4,
        "gpuHours": 0.0,
        "gpuCost": 0.0,
        "totalCost": 0.19,
    }


def _idle(window: tuple[datetime, datetime], used: Decimal) -> dict[str, object]:
    # OpenCost's own idle for the Kubernetes partition (32 GPUs); the warehouse skips it.
    gpu_hours = Decimal(32 * 24) - used
    return {
        "name": "__idle__",
        "properties": {"cluster": CLUSTER},
        "window": {"start": _ts(window[0]), "end": _ts(window[1])},
        "start": _ts(window[0]),
        "end": _ts(window[1]),
        "minutes": 1440.0,
        "gpuHours": _number(max(gpu_hours, Decimal(0))),
        "gpuCost": _number((max(gpu_hours, Decimal(0)) * LIST_PRICE).quantize(Decimal("0.01"))),
    }


@dataclass(frozen=True)
class OpenCostFile:
    """One month of daily allocation sets, as ``GET /allocation/compute`` returns them."""

    name: str
    month: date
    pods: tuple[Pod, ...]

    def text(self) -> str:
        sets = []
        day = self.month
        while day.month == self.month.month:
            start = datetime.combine(day, datetime.min.time())
            window = (start, start + timedelta(days=1))
            todays = [p for p in self.pods if p.start.date() == day]
            allocations: dict[str, object] = {}
            for pod in todays:
                allocations[f"{pod.namespace}/{pod.name}"] = _allocation(pod, window)
            allocations["kube-system/coredns-7db6d8ff4d"] = _system(window)
            allocations["__idle__"] = _idle(window, sum((p.gpu_hours for p in todays), Decimal(0)))
            sets.append(allocations)
            day += timedelta(days=1)
        return json.dumps({"code": 200, "data": sets}, indent=1) + "\n"


def opencost_files(pods: list[Pod]) -> list[OpenCostFile]:
    """One file per month that has pods, named like the lab's export job names them."""
    months: dict[date, list[Pod]] = defaultdict(list)
    for pod in pods:
        months[pod.start.date().replace(day=1)].append(pod)
    return [
        OpenCostFile(f"opencost_{CLUSTER}_{month:%Y-%m}.json", month, tuple(found))
        for month, found in sorted(months.items())
    ]
