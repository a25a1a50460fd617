"""The scaled lab generator: deterministic, valid config, files the ingest accepts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from llmledger import config, ingest
from llmledger.demo import scale
from llmledger.paths import Home


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_and_every_file_loads(tmp_path: Path):
    first = Home.resolve(tmp_path / "a")
    second = Home.resolve(tmp_path / "b")
    summary = scale.generate(first, "tiny", seed=7)
    scale.generate(second, "tiny", seed=7)
    assert _digest(first.landing) == _digest(second.landing)
    assert _digest(first.config) == _digest(second.config)
    config.load_config(first)  # valid

    tiny = scale.SCALES["tiny"]
    # 2 cloud clusters x 7 daily files + 1 owned monthly file, 7 sacct days, 4 vendors x 4
    # projects x 1 month of invoices.
    assert summary.files == 2 * 7 + 1 + 7 + 16
    results = ingest.ingest_paths(first, [first.landing])
    assert {r.status for r in results} == {"loaded"}
    assert sum(r.rows_quarantined for r in results) == 0
    by_kind: dict[str, int] = {}
    for r in results:
        by_kind[r.kind] = by_kind.get(r.kind, 0) + r.rows_loaded
    # One usage row per node and hour, plus one late SLA credit per cloud and day after the
    # first (nodes // 64 rounds up to one credit row), plus a shared cost row per day for the
    # owned cluster's storage and each cloud's storage and egress.
    assert by_kind["focus"] == tiny.total_nodes * 7 * 24 + 2 * 6 + 7 * (1 + 2 * 2)
    # Every sacct job line has two step lines (.batch, .extern), skipped by design.
    sacct = [r for r in results if r.kind == "slurm_job"]
    assert all(r.rows_skipped == 2 * r.rows_loaded for r in sacct)


def test_shared_costs_one_row_per_cluster_kind_and_day(tmp_path: Path):
    home = Home.resolve(tmp_path / "h")
    scale.generate(home, "tiny")
    landing = (home.landing / "billing").as_posix()
    with duckdb.connect() as con:
        rows = con.execute(
            f"""
            select
                json_extract_string(Tags, '$.cluster') as cluster,
                json_extract_string(Tags, '$.cost_type') as kind,
                count(*) as days,
                count(distinct ChargePeriodStart) as starts,
                min(cast(ConsumedQuantity as double)) as low,
                max(cast(ConsumedQuantity as double)) as high,
                bool_and(
                    cast(ChargePeriodEnd as timestamp) - cast(ChargePeriodStart as timestamp)
                    = interval 1 day
                ) as daily,
                bool_and(
                    cast(BilledCost as decimal(38, 10))
                    = cast(ConsumedQuantity as decimal(38, 10))
                    * case json_extract_string(Tags, '$.cost_type')
                        when 'storage' then 0.0008 else 0.05 end
                ) as priced
            from read_csv('{landing}/*/*.csv', all_varchar = true)
            where json_extract_string(Tags, '$.cost_type') is not null
            group by all
            order by all
            """
        ).fetchall()
    # tiny: 2 owned nodes, 1 node per cloud; storage 8,000 GB a node and day, egress 100 GB,
    # each +-20 %, so within [0.8, 1.2] x GB per node x nodes.
    assert [(c, k, d, s) for c, k, d, s, *_ in rows] == [
        ("cloud-a", "network", 7, 7),
        ("cloud-a", "storage", 7, 7),
        ("cloud-b", "network", 7, 7),
        ("cloud-b", "storage", 7, 7),
        ("lab-owned", "storage", 7, 7),
    ]
    bounds = {
        "cloud-a": {"network": (80, 120), "storage": (6_400, 9_600)},
        "cloud-b": {"network": (80, 120), "storage": (6_400, 9_600)},
        "lab-owned": {"storage": (12_800, 19_200)},
    }
    for cluster, kind, _days, _starts, low, high, daily, priced in rows:
        lo, hi = bounds[cluster][kind]
        assert lo <= low <= high <= hi, (cluster, kind, low, high)
        assert daily and priced, (cluster, kind)


def test_the_next_day_adds_only_new_files(tmp_path: Path):
    home = Home.resolve(tmp_path / "h")
    scale.generate(home, "tiny")
    before = _digest(home.landing)
    added = scale.generate_day(home, "tiny")
    after = _digest(home.landing)
    assert {k: v for k, v in after.items() if k in before} == before
    assert sorted(p.relative_to(home.landing).as_posix() for p in added) == [
        "billing/cloud-a/cloud-a_focus_2026-01-08.csv",
        "billing/cloud-b/cloud-b_focus_2026-01-08.csv",
        "billing/lab-owned/lab-owned_2026-01_from_08.csv",
        "pipeline/sacct_2026-01-08.txt",
    ]
