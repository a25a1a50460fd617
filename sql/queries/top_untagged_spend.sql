-- Top untagged GPU spend: the jobs whose cost reached no activity, largest first.
-- Answers: which jobs should be tagged (Slurm comment or config/tag_mapping.csv) to raise
--   tag coverage, and how much of the quarter's GPU cost do they hold? GPU cost only: the
--   shared non-GPU costs that follow these jobs (storage, network, CPU nodes) are in the
--   untagged line of fct_quarterly_allocation, which is therefore larger.
-- Parameters (llmledger sql --param NAME=VALUE):
--   quarter  the quarter, e.g. 2026Q3 (default: the latest quarter in fct_quarterly_allocation)
--   top_n    how many jobs (default: 20)
-- Marts: fct_cost_allocation, fct_quarterly_allocation.
with params as (
    select
        coalesce(
            getvariable('quarter'), (select max(quarter) from fct_quarterly_allocation)
        ) as quarter,
        coalesce(cast(getvariable('top_n') as integer), 20) as top_n
),

untagged as (
    select
        allocation.cluster,
        allocation.job_id,
        min(allocation.hour) as first_hour,
        max(allocation.hour) as last_hour,
        sum(allocation.gpu_hours) as gpu_hours,
        sum(allocation.allocated_cost_usd) as cost_usd
    from fct_cost_allocation as allocation
    where
        allocation.activity = 'untagged'
        and cast(extract(year from allocation.hour) as varchar) || 'Q'
        || cast(extract(quarter from allocation.hour) as varchar) = (select params.quarter from params)
    group by allocation.cluster, allocation.job_id
),

ranked as (
    select
        *,
        row_number() over (order by cost_usd desc, cluster asc, job_id asc) as rank,
        sum(cost_usd) over () as quarter_untagged_usd
    from untagged
)

select
    (select params.quarter from params) as quarter,
    rank,
    cluster,
    job_id,
    first_hour,
    last_hour,
    round(gpu_hours, 2) as gpu_hours,
    round(cost_usd, 2) as cost_usd,
    cast(round(cost_usd / quarter_untagged_usd, 4) as decimal(18, 4)) as share_of_untagged
from ranked
where rank <= (select params.top_n from params)
order by rank
