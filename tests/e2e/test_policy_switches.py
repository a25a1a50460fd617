"""Switching an accounting policy moves cost between activities and never changes the total.

One small organisation, built for real (ingest + dbt) once per policy setting:

Cluster c1, 4 GPUs. One bill: 2026-01-01 00:00-03:00, 120.00 for 12 GPU-hours
-> three pools of 40.00 / 4 GPU-hours (10.00 per GPU-hour). Plus 5.00 support (overhead).

Jobs (sacct comments):
  job 1  2 GPUs 00:00-02:00  activity=training.pretrain, gen1
  job 2  1 GPU  00:00-03:00  kind=rollout, gen1 (an RL rollout job)
  job 3  1 GPU  02:00-03:00  kind=ablation, dataset ds-a (a data ablation)

Pools: 00:00 and 01:00 use 3 of 4 GPU-hours (1 idle each); 02:00 uses 2 of 4 (2 idle).

Defaults (idle show, rollouts training, ablations data.selection):
  training.pretrain 40.00, training.rl 30.00, data.selection 10.00, idle 40.00, overhead 5.00
idle_policy pro_rata (each pool's cost over the GPU-hours its jobs used):
  00:00 and 01:00: 40 over 3 GPU-h: job 1 = 40 x 2/3 = 26.6666666666 + 1e-10 remainder
  (largest user) = 26.6666666667, job 2 = 13.3333333333; 02:00: 40 over 2: 20.00 each.
  training.pretrain 53.3333333334, training.rl 46.6666666666, data.selection 20.00, idle 0
rl_rollouts data.generation: the 30.00 of training.rl moves to data.generation.
ablations evaluation: the 10.00 of data.selection moves to evaluation.
Grand total 125.00 in every case.

FLOPs cross-check (run manifests, c1 is h100 = 989 TFLOP/s):
  pt-1 links to job 1 (4 GPU-hours allocated): 6 x 1e9 x 1e9 / (4 x 3600 x 989e12)
       = 6e18 / 1.42416e19 = 0.4213 -> inside 0.05..0.80
  pt-2 has no job: 1 a100 GPU for 1 h: 6 x 7e9 x 2e12 / (3600 x 312e12) = 74786.3 -> warning
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from llmledger import config, ingest, warehouse
from llmledger.paths import Home

D = Decimal

SACCT = """\
JobID|JobName|Partition|Account|User|WCKey|Comment|Cluster|State|Submit|Start|End|Elapsed|AllocTRES
1|pt|gpu|lab|ann||activity=training.pretrain;model_generation=gen1|c1|COMPLETED|2026-01-01T00:00:00|2026-01-01T00:00:00|2026-01-01T02:00:00|02:00:00|gres/gpu=2
2|roll|gpu|lab|ann||kind=rollout;model_generation=gen1|c1|COMPLETED|2026-01-01T00:00:00|2026-01-01T00:00:00|2026-01-01T03:00:00|03:00:00|gres/gpu=1
3|abl|gpu|lab|ann||kind=ablation;dataset_version=ds-a|c1|COMPLETED|2026-01-01T02:00:00|2026-01-01T02:00:00|2026-01-01T03:00:00|01:00:00|gres/gpu=1
"""

FOCUS = """\
BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ProviderName,InvoiceId,ResourceId,SkuId,ChargeCategory,ChargeClass,ChargeDescription,ConsumedUnit,ConsumedQuantity,BilledCost,EffectiveCost,BillingCurrency,Tags
lab,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-01T00:00:00Z,2026-01-01T03:00:00Z,Owned,INV-1,c1-nodes,gpu,Usage,,GPU hours,GPU-Hours,12,120.00,120.00,USD,"{""cluster"": ""c1""}"
lab,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,Owned,INV-1,support,support,Usage,,Support,,,5.00,5.00,USD,
"""

MANIFESTS = """\
{"run_id": "pt-1", "cluster": "c1", "job_id": "1", "gpus": 2, "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T02:00:00Z", "stage": "training.pretrain", "model_generation": "gen1", "parameters": 1000000000, "tokens": 1000000000}
{"run_id": "pt-2", "cluster": "c1", "gpus": 1, "gpu_type": "A100", "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "stage": "training.pretrain", "parameters": 7e9, "tokens": 2e12}
"""

TABLES = {
    "clusters": [{"cluster": "c1", "ownership": "owned", "gpu_type": "h100", "gpus": 4}],
    "model_generations": [{"model_generation": "gen1", "display_name": "Gen 1"}],
    "datasets": [
        {
            "dataset_version": "ds-a",
            "dataset_name": "A",
            "kind": "filtered",
            "tokens": 100,
            "expected_lifetime_tokens": 100,
        }
    ],
}

DEFAULTS = {
    "training.pretrain": D("40"),
    "training.rl": D("30"),
    "data.selection": D("10"),
    "idle": D("40"),
    "overhead": D("5"),
}


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory):
    home = Home.resolve(tmp_path_factory.mktemp("policy_home")).ensure()
    (home.landing / "pipeline" / "sacct.txt").write_text(SACCT)
    (home.landing / "billing" / "owned").mkdir(parents=True, exist_ok=True)
    (home.landing / "billing" / "owned" / "focus.csv").write_text(FOCUS)
    (home.landing / "pipeline" / "runs.jsonl").write_text(MANIFESTS)
    config.write_config(home, TABLES)
    ingest.ingest_paths(home, [home.landing])

    def run(**policies: str) -> dict[str, Any]:
        config.write_config(home, TABLES, policies)
        warehouse.dbt_build(home, echo=False)
        con = warehouse.connect_readonly(home)
        try:
            failed = con.execute("select count(*) from rpt_reconciliation where not passed")
            assert failed.fetchall() == [(0,)]
            activities = dict(
                con.execute(
                    "select activity, sum(cost_usd) from fct_quarterly_allocation group by 1"
                ).fetchall()
            )
            run.flops = con.execute(
                "select run_id, gpu_hours, round(implied_mfu, 4), passed, severity, problem"
                " from rpt_flops_check order by run_id"
            ).fetchall()
            return activities
        finally:
            con.close()

    run.flops = []
    return run


def _moved(before: dict[str, Decimal], after: dict[str, Decimal]) -> dict[str, Decimal]:
    """Per activity, how much cost changed (activities that did not change left out)."""
    keys = set(before) | set(after)
    return {
        k: after.get(k, D(0)) - before.get(k, D(0))
        for k in keys
        if after.get(k, D(0)) != before.get(k, D(0))
    }


def test_policy_switches_move_cost_and_keep_the_total(build):
    defaults = build()
    assert defaults == DEFAULTS
    (pt1, pt2) = build.flops
    assert pt1 == ("pt-1", D("4"), D("0.4213"), True, "warn", None)
    assert pt2[:5] == ("pt-2", D("1"), D("74786.3248"), False, "warn")
    assert pt2[5].startswith("run pt-2: implied MFU 74786.3")

    pro_rata = build(idle_policy="pro_rata")
    assert _moved(defaults, pro_rata) == {
        "idle": D("-40"),
        "training.pretrain": D("13.3333333334"),
        "training.rl": D("16.6666666666"),
        "data.selection": D("10"),
    }

    rollouts = build(rl_rollouts="data.generation")
    assert _moved(defaults, rollouts) == {"training.rl": D("-30"), "data.generation": D("30")}

    ablations = build(ablations="evaluation")
    assert _moved(defaults, ablations) == {"data.selection": D("-10"), "evaluation": D("10")}

    for result in (pro_rata, rollouts, ablations):
        assert sum(result.values()) == sum(defaults.values()) == D("125")
