"""Slurm jobs of the demo lab: placed on the clusters hour by hour, written as ``sacct`` output.

A cluster is a calendar of GPUs per hour. Each job books every hour it touches for all its
GPUs (stricter than GPU-seconds), so no hour ever holds more GPUs than the cluster pays for:
the warehouse then never has to scale jobs down, and idle capacity is what the plan left free.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from llmledger.demo import organisation as org

HOUR = timedelta(hours=1)
SACCT_HEADER = (
    "JobID|JobName|Partition|Account|User|WCKey|Comment|Cluster|State|Submit|Start|End|Elapsed"
    "|AllocTRES"
)


@dataclass
class Job:
    """One job allocation (an array task is a job of its own, as sacct shows it)."""

    cluster: str
    name: str
    partition: str
    account: str
    user: str
    gpus: int
    start: datetime
    end: datetime
    state: str
    wckey: str = ""
    comment: str = ""
    submit: datetime | None = None
    srun_step: bool = False
    array_group: int | None = None
    job_id: str = ""

    @property
    def gpu_seconds(self) -> int:
        return self.gpus * int((self.end - self.start).total_seconds())


class Calendar:
    """GPUs free per hour on one cluster over the demo period."""

    def __init__(self, capacity: list[int]) -> None:
        self.capacity = capacity
        self.used = [0] * len(capacity)

    def place(
        self,
        gpus: int,
        earliest: datetime,
        duration: timedelta,
        latest: datetime,
        jitter: Callable[[], timedelta],
    ) -> datetime | None:
        """Book the first start >= ``earliest`` (and <= ``latest``) with room for ``gpus``."""
        start = earliest
        while start <= latest:
            # Jobs end before the demo does: sacct files exist only for the demo's months.
            if start < org.T0 or start + duration >= org.T_END:
                return None
            first, last = _hour(start), _hour(start + duration - timedelta(seconds=1))
            blocked = [h for h in range(first, last + 1) if self.used[h] + gpus > self.capacity[h]]
            if not blocked:
                for h in range(first, last + 1):
                    self.used[h] += gpus
                return start
            start = org.T0 + (blocked[-1] + 1) * HOUR + jitter()
        return None


def _hour(moment: datetime) -> int:
    return int((moment - org.T0).total_seconds() // 3600)


def hourly_capacity(cloud_gpus_by_day: dict[date, int]) -> dict[str, list[int]]:
    """GPUs available per hour: the owned cluster always, the cloud as billed per day."""
    hours = int((org.T_END - org.T0).total_seconds() // 3600)
    cloud = [cloud_gpus_by_day[org.START + timedelta(days=h // 24)] for h in range(hours)]
    return {org.OWNED: [org.CLUSTER_GPUS[org.OWNED]] * hours, org.CLOUD: cloud}


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day < last:
        yield day
        day += timedelta(days=1)


def _at(day: date, hour: float = 0.0) -> datetime:
    # Whole seconds: sacct prints no fractions, and the summary must match what is printed.
    return datetime.combine(day, datetime.min.time()) + timedelta(seconds=int(hour * 3600))


class Planner:
    """Places the lab's workload campaign by campaign, most important first."""

    def __init__(self, rng: random.Random, capacity: dict[str, list[int]]) -> None:
        self.rng = rng
        self.calendars = {c: Calendar(cap) for c, cap in capacity.items()}
        self.jobs: list[Job] = []
        self._groups = 0

    def _jitter(self) -> timedelta:
        return timedelta(seconds=self.rng.randint(20, 900))

    def _seconds(self, low_hours: float, high_hours: float) -> timedelta:
        return timedelta(seconds=self.rng.randint(int(low_hours * 3600), int(high_hours * 3600)))

    def _book(
        self, cluster: str, gpus: int, earliest: datetime, duration: timedelta, latest: datetime
    ) -> datetime | None:
        return self.calendars[cluster].place(gpus, earliest, duration, latest, self._jitter)

    def chain(
        self,
        cluster: str,
        gpus: int,
        first: date,
        last: date,
        *,
        name: str,
        account: str,
        users: tuple[str, ...],
        wckey: str = "",
        comment: str = "",
        limit_hours: int = 24,
    ) -> None:
        """A long run as back-to-back time-limited jobs (requeued after TIMEOUT or node failure)."""
        t, stop = _at(first, self.rng.uniform(8, 11)), _at(last)
        run = 0
        while t < stop:
            limit = timedelta(hours=limit_hours)
            roll = self.rng.random()
            if t + limit >= stop:
                duration, state = max(stop - t, timedelta(minutes=30)), "COMPLETED"
            elif roll < 0.06:
                duration, state = self._seconds(1, limit_hours - 1), "NODE_FAIL"
            elif roll < 0.09:
                duration, state = self._seconds(0.1, 3), "FAILED"
            else:
                # Slurm stops a job a few seconds after its limit, never exactly on it.
                duration, state = limit + timedelta(seconds=self.rng.randint(5, 90)), "TIMEOUT"
            start = self._book(cluster, gpus, t, duration, t + timedelta(days=7))
            if start is None:
                return
            run += 1
            self.jobs.append(
                Job(
                    cluster,
                    f"{name}-r{run:03d}",
                    org.GPU_TYPE[cluster],
                    account,
                    self.rng.choice(users),
                    gpus,
                    start,
                    start + duration,
                    state,
                    wckey=wckey,
                    comment=comment,
                    submit=min(t, start) - timedelta(seconds=self.rng.randint(5, 240)),
                    srun_step=True,
                )
            )
            # A failed chunk is looked at by a person before it is resubmitted.
            pause = self._seconds(0.3, 1.5) if state != "TIMEOUT" else self._seconds(0.01, 0.05)
            t = start + duration + pause

    def slots(
        self,
        cluster: str,
        first: date,
        last: date,
        *,
        concurrency: int,
        gpus: int,
        hours: tuple[float, float],
        name: str,
        account: str,
        users: tuple[str, ...],
        comment: str = "",
        array_size: int = 48,
    ) -> None:
        """A data campaign: ``concurrency`` workers run array tasks back to back."""
        tasks: list[Job] = []
        for _ in range(concurrency):
            t, stop = _at(first, self.rng.uniform(0, 12)), _at(last)
            while t < stop:
                roll = self.rng.random()
                if roll < 0.04:
                    duration, state = self._seconds(0.05, 1), "FAILED"
                elif roll < 0.05:
                    duration, state = self._seconds(0.1, 2), "OUT_OF_MEMORY"
                else:
                    duration, state = self._seconds(*hours), "COMPLETED"
                start = self._book(cluster, gpus, t, duration, stop)
                if start is None:
                    break
                tasks.append(
                    Job(
                        cluster,
                        name,
                        org.GPU_TYPE[cluster],
                        account,
                        self.rng.choice(users),
                        gpus,
                        start,
                        start + duration,
                        state,
                        comment=comment,
                    )
                )
                t = start + duration + timedelta(seconds=self.rng.randint(5, 120))
        # Arrays are formed in start order, as a pipeline submits the next array when needed.
        tasks.sort(key=lambda job: job.start)
        for offset in range(0, len(tasks), array_size):
            group = tasks[offset : offset + array_size]
            self._groups += 1
            submit = group[0].start - timedelta(seconds=self.rng.randint(30, 1800))
            for task in group:
                task.submit, task.array_group = submit, self._groups
            self.jobs.extend(group)

    def runs(
        self,
        cluster: str,
        first: date,
        last: date,
        *,
        per_day: float,
        gpus: tuple[int, ...],
        hours: tuple[float, float],
        names: Callable[[], str],
        account: str,
        users: tuple[str, ...],
        comment: Callable[[], str] | str = "",
        partition: str | None = None,
        states: tuple[tuple[str, float], ...] = (),
        srun_step: bool = False,
    ) -> None:
        """Independent jobs submitted at random times of day, ``per_day`` on average."""
        for day in _days(first, last):
            count = int(per_day) + (1 if self.rng.random() < per_day % 1 else 0)
            for _ in range(count):
                want = _at(day, self.rng.uniform(0, 24))
                duration = self._seconds(*hours)
                size = self.rng.choice(gpus)
                start = self._book(cluster, size, want, duration, want + timedelta(hours=12))
                if start is None:
                    continue
                state = "COMPLETED"
                roll = self.rng.random()
                for candidate, share in states:
                    if roll < share:
                        state = candidate
                        break
                    roll -= share
                if state.startswith("CANCELLED"):
                    state = f"CANCELLED by {org.UIDS[self.rng.choice(users)]}"
                self.jobs.append(
                    Job(
                        cluster,
                        names(),
                        partition or org.GPU_TYPE[cluster],
                        account,
                        self.rng.choice(users),
                        size,
                        start,
                        start + duration,
                        state,
                        comment=comment() if callable(comment) else comment,
                        submit=want - timedelta(seconds=self.rng.randint(2, 600)),
                        srun_step=srun_step,
                    )
                )


def _tags(activity: str, generation: str | None = None, dataset: str | None = None) -> str:
    parts = [f"activity={activity}"]
    if generation:
        parts.append(f"model_generation={generation}")
    if dataset:
        parts.append(f"dataset_version={dataset}")
    return ";".join(parts)


def plan(rng: random.Random, capacity: dict[str, list[int]]) -> list[Job]:
    """Every job of the demo lab, with job ids assigned as Slurm would (by submit time)."""
    p = Planner(rng, capacity)
    own, cloud, u = org.OWNED, org.CLOUD, org.USERS
    d = date

    # Pretraining first: it has the cluster reserved. Tagged by tag_mapping rules (wckey).
    for gen, gpus, first, last in (
        ("gen1", 192, d(2025, 2, 10), d(2025, 3, 12)),
        ("gen2", 192, d(2025, 7, 15), d(2025, 9, 22)),
        ("gen3", 224, d(2026, 3, 1), d(2026, 7, 16)),
    ):
        p.chain(
            own,
            gpus,
            first,
            last,
            name=f"{gen}-pretrain",
            account="pretrain",
            users=u["pretrain"],
            wckey=f"{gen}-pt",
        )
    for gen, gpus, first, last in (
        ("gen2", 128, d(2025, 11, 15), d(2025, 11, 29)),
        ("gen3", 192, d(2026, 7, 16), d(2026, 8, 5)),
    ):
        p.chain(
            own,
            gpus,
            first,
            last,
            name=f"{gen}-midtrain",
            account="pretrain",
            users=u["pretrain"],
            comment=_tags("training.midtrain", gen),
        )

    # Post-training on the cloud cluster.
    for gen, stage, gpus, first, last, limit in (
        ("gen1", "sft", 32, d(2025, 3, 15), d(2025, 4, 5), 12),
        ("gen1", "preference", 32, d(2025, 4, 5), d(2025, 4, 26), 24),
        ("gen2", "sft", 64, d(2025, 12, 1), d(2025, 12, 16), 12),
        ("gen2", "preference", 64, d(2025, 12, 16), d(2026, 1, 12), 24),
        ("gen2", "rl", 96, d(2026, 1, 20), d(2026, 2, 6), 24),
        ("gen3", "sft", 64, d(2026, 8, 5), d(2026, 8, 20), 12),
        ("gen3", "preference", 64, d(2026, 8, 20), d(2026, 9, 5), 24),
        ("gen3", "rl", 112, d(2026, 9, 5), d(2026, 9, 26), 24),
    ):
        p.chain(
            cloud,
            gpus,
            first,
            last,
            name=f"{gen}-{stage}",
            account="posttrain",
            users=u["posttrain"],
            comment=_tags(f"training.{stage}", gen),
            limit_hours=limit,
        )

    # Data work.
    p.slots(
        own,
        d(2025, 1, 2),
        d(2025, 2, 8),
        concurrency=22,
        gpus=8,
        hours=(14, 22),
        name="quality-score",
        account="data",
        users=u["data"],
        comment=_tags("data.selection", dataset="web-filtered-v1"),
    )
    p.runs(
        own,
        d(2025, 1, 5),
        d(2025, 2, 9),
        per_day=1.0,
        gpus=(16,),
        hours=(3, 9),
        names=lambda: f"dedup-web-minhash-{rng.randint(0, 63):02d}",
        account="data",
        users=u["data"],
        srun_step=True,
    )
    p.slots(
        own,
        d(2025, 4, 1),
        d(2025, 7, 1),
        concurrency=12,
        gpus=8,
        hours=(36, 47.5),
        name="rephrase-web",
        account="data",
        users=u["data"],
        comment=_tags("data.transformation", dataset="web-rephrased-v1"),
    )
    p.slots(
        cloud,
        d(2025, 8, 1),
        d(2025, 12, 1),
        concurrency=9,
        gpus=8,
        hours=(30, 47.5),
        name="synth-math-gen",
        account="data",
        users=u["data"],
        comment=_tags("data.generation", dataset="synth-math-v1"),
    )
    p.slots(
        cloud,
        d(2026, 2, 10),
        d(2026, 4, 20),
        concurrency=6,
        gpus=8,
        hours=(30, 47.5),
        name="synth-math-gen",
        account="data",
        users=u["data"],
        comment=_tags("data.generation", dataset="synth-math-v1"),
    )
    for first, last, workers in (
        (d(2025, 10, 1), d(2026, 3, 1), 8),
        (d(2026, 8, 5), d(2026, 9, 28), 10),
    ):
        p.slots(
            own,
            first,
            last,
            concurrency=workers,
            gpus=16,
            hours=(36, 47.5),
            name="synth-code-gen",
            account="data",
            users=u["data"],
            comment=_tags("data.generation", dataset="synth-code-v1"),
        )
    p.slots(
        cloud,
        d(2026, 4, 20),
        d(2026, 8, 1),
        concurrency=7,
        gpus=8,
        hours=(36, 47.5),
        name="synth-code-gen",
        account="data",
        users=u["data"],
        comment=_tags("data.generation", dataset="synth-code-v1"),
    )
    p.slots(
        cloud,
        d(2025, 1, 6),
        d(2025, 2, 21),
        concurrency=6,
        gpus=8,
        hours=(10, 20),
        name="llm-annotate-quality",
        account="data",
        users=u["data"],
        comment=_tags("data.selection", dataset="web-filtered-v1"),
    )
    p.slots(
        cloud,
        d(2025, 5, 1),
        d(2025, 8, 1),
        concurrency=6,
        gpus=8,
        hours=(36, 47.5),
        name="rephrase-web",
        account="data",
        users=u["data"],
        comment=_tags("data.transformation", dataset="web-rephrased-v1"),
    )
    p.runs(
        own,
        d(2025, 10, 1),
        d(2026, 3, 1),
        per_day=1.6,
        gpus=(16, 32),
        hours=(6, 30),
        names=lambda: f"ablation-filter-{rng.choice(['edu', 'ppl', 'lang', 'toxic'])}",
        account="data",
        users=u["data"],
        srun_step=True,
        comment=_tags("data.selection", dataset="web-filtered-v1"),
    )
    p.runs(
        own,
        d(2025, 10, 6),
        d(2025, 11, 10),
        per_day=0.5,
        gpus=(8, 16),
        hours=(4, 16),
        names=lambda: f"scaling-law-{rng.choice(['150m', '400m', '1b'])}",
        account="pretrain",
        users=u["pretrain"],
        srun_step=True,
    )

    # Evaluation of the generation being trained, named for the tag_mapping rules.
    for cluster, gen, first, last in (
        (own, "gen1", d(2025, 2, 12), d(2025, 4, 10)),
        (cloud, "gen2", d(2025, 7, 20), d(2026, 2, 15)),
        (cloud, "gen3", d(2026, 3, 5), d(2026, 10, 1)),
        (own, "gen3", d(2026, 3, 5), d(2026, 8, 10)),
    ):
        p.runs(
            cluster,
            first,
            last,
            per_day=1.5,
            gpus=(8,),
            hours=(0.5, 3),
            names=lambda g=gen: f"eval-{g}-{rng.choice(['mmlu', 'gsm8k', 'humaneval', 'ifeval'])}",
            account="eval",
            users=u["eval"],
            states=(("FAILED", 0.03),),
        )
    p.runs(
        cloud,
        d(2025, 1, 2),
        d(2026, 10, 1),
        per_day=0.4,
        gpus=(8,),
        hours=(1, 4),
        names=lambda: "eval-baseline-open-weights",
        account="eval",
        users=u["eval"],
    )

    # Untagged: notebooks and infrastructure checks.
    for cluster in (own, cloud):
        p.runs(
            cluster,
            d(2025, 1, 2),
            d(2026, 10, 1),
            per_day=0.8,
            gpus=(1, 2, 4, 8),
            hours=(1, 10),
            names=lambda: "jupyter",
            account="research",
            users=u["data"] + u["posttrain"],
            partition="interactive",
            states=(("CANCELLED", 0.5), ("TIMEOUT", 0.2)),
        )
        p.runs(
            cluster,
            d(2025, 1, 6),
            d(2026, 10, 1),
            per_day=0.15,
            gpus=(16, 32),
            hours=(0.2, 0.8),
            names=lambda: "debug-nccl",
            account="infra",
            users=u["infra"],
            partition="debug",
            states=(("FAILED", 0.25),),
            srun_step=True,
        )

    _assign_ids(p.jobs)
    return p.jobs


def _assign_ids(jobs: list[Job]) -> None:
    for cluster, first_id in org.FIRST_JOB_ID.items():
        mine = [j for j in jobs if j.cluster == cluster]
        # Arrays take one id for the whole submission; each task is shown as <id>_<index>.
        submissions: dict[object, list[Job]] = {}
        for index, job in enumerate(mine):
            key = ("array", job.array_group) if job.array_group is not None else ("job", index)
            submissions.setdefault(key, []).append(job)
        ordered = sorted(submissions.values(), key=lambda group: (group[0].submit, group[0].start))
        next_id = first_id
        for group in ordered:
            if group[0].array_group is None:
                group[0].job_id = str(next_id)
                next_id += 1
            else:
                for index, task in enumerate(group):
                    task.job_id = f"{next_id}_{index}"
                next_id += len(group)


def _elapsed(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{clock}" if days else clock


def _tres(job: Job, gpus: int, *, billing: bool) -> str:
    nodes = max(1, gpus // 8)
    mem_gb = org.MEM_GB_PER_GPU[job.cluster] * gpus
    mem = f"{mem_gb // 1024}T" if mem_gb % 1024 == 0 else f"{mem_gb}G"
    parts = [f"billing={gpus}"] if billing else []
    parts += [
        f"cpu={org.CPUS_PER_GPU[job.cluster] * gpus}",
        f"gres/gpu:{org.GPU_TYPE[job.cluster]}={gpus}",
        f"mem={mem}",
        f"node={nodes}",
    ]
    return ",".join(parts)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def sacct_lines(job: Job) -> list[str]:
    """The job line and its step lines (``.batch``, ``.extern``, ``.0``) as sacct prints them."""
    times = [
        _ts(job.submit or job.start),
        _ts(job.start),
        _ts(job.end),
        _elapsed(job.end - job.start),
    ]
    lines = [
        "|".join(
            [
                job.job_id,
                job.name,
                job.partition,
                job.account,
                job.user,
                job.wckey,
                job.comment,
                job.cluster,
                job.state,
                *times,
                _tres(job, job.gpus, billing=True),
            ]
        )
    ]
    step_state = "CANCELLED" if job.state in ("TIMEOUT", "NODE_FAIL") else job.state.split(" ")[0]
    step_times = [_ts(job.start), _ts(job.start), _ts(job.end), _elapsed(job.end - job.start)]
    first_node = min(job.gpus, 8)
    lines.append(
        "|".join(
            [
                f"{job.job_id}.batch",
                "batch",
                "",
                job.account,
                "",
                "",
                "",
                job.cluster,
                step_state,
                *step_times,
                _tres(job, first_node, billing=False),
            ]
        )
    )
    lines.append(
        "|".join(
            [
                f"{job.job_id}.extern",
                "extern",
                "",
                job.account,
                "",
                "",
                "",
                job.cluster,
                "COMPLETED",
                *step_times,
                _tres(job, job.gpus, billing=True),
            ]
        )
    )
    if job.srun_step and job.end - job.start > timedelta(minutes=2):
        srun_start = job.start + timedelta(seconds=41)
        lines.append(
            "|".join(
                [
                    f"{job.job_id}.0",
                    "torchrun",
                    "",
                    job.account,
                    "",
                    "",
                    "",
                    job.cluster,
                    step_state,
                    _ts(srun_start),
                    _ts(srun_start),
                    _ts(job.end),
                    _elapsed(job.end - srun_start),
                    _tres(job, job.gpus, billing=False),
                ]
            )
        )
    return lines


@dataclass
class SacctFile:
    """One sacct export: the jobs of one cluster that ended in one month."""

    cluster: str
    month: date
    jobs: list[Job] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"sacct_{self.cluster}_{self.month:%Y-%m}.txt"

    def text(self) -> str:
        """File content: header, then each job followed by its steps, in job-id order."""
        lines = [SACCT_HEADER]
        for job in sorted(self.jobs, key=_id_order):
            lines.extend(sacct_lines(job))
        return "\n".join(lines) + "\n"


def _id_order(job: Job) -> tuple[int, int]:
    base, _, task = job.job_id.partition("_")
    return int(base), int(task or -1)


def sacct_files(jobs: list[Job]) -> list[SacctFile]:
    """Jobs grouped into one file per cluster and month of their End, as a nightly export."""
    files: dict[tuple[str, date], SacctFile] = {}
    for job in jobs:
        month = job.end.date().replace(day=1)
        key = (job.cluster, month)
        files.setdefault(key, SacctFile(job.cluster, month)).jobs.append(job)
    return [files[key] for key in sorted(files)]
