-- One row per job x pool hour, plus one `idle` row per pool hour that has unused capacity or no
-- capacity at all. Each job gets pool_cost x job_gpu_hours / capacity; what no job used is idle.
-- If jobs claim more GPU-hours than the pool paid for, their GPU-hours are scaled down to the
-- capacity and the pool is flagged `oversubscribed`. Splits are floored in 1e-10 units and the
-- remainder goes to the pool's largest consumer (the idle row if no job ran), so
-- allocated + idle = pool cost holds exactly for every pool.
-- Policy `idle_policy`: `show` (default) keeps unused capacity's cost on the idle row;
-- `pro_rata` shares it over the pool's jobs by GPU-hours used (each job gets
-- pool_cost x job_gpu_hours / GPU-hours used by all jobs), so the idle row keeps its GPU-hours
-- but no cost. A pool no job used keeps its whole cost as idle under both policies.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_refresh_window('hour') }}"
    )
}}

with pools as (
    select * from {{ ref('int_cost_pools') }}
    where {{ in_refresh_window('hour') }}
),

job_hours as (
    select * from {{ ref('int_job_gpu_hours_by_hour') }}
    where {{ in_refresh_window('hour') }}
),

policies as (
    select idle_policy from {{ ref('stg_config__policies') }}
),

claims as (
    select
        job_hours.*,
        pools.pool_cost_units,
        pools.capacity_units,
        sum(job_hours.gpu_hour_units) over (partition by job_hours.cluster, job_hours.hour) as claimed_units
    from job_hours
    inner join pools
        on job_hours.cluster = pools.cluster and job_hours.hour = pools.hour
    where pools.capacity_units > 0
),

scaled as (
    select
        *,
        claimed_units > capacity_units as oversubscribed,
        case
            when claimed_units > capacity_units
                then {{ prorate_units('gpu_hour_units', 'capacity_units', 'claimed_units') }}
            else gpu_hour_units
        end as used_units
    from claims
),

shared as (
    select
        scaled.*,
        case
            when policies.idle_policy = 'pro_rata'
                then sum(scaled.used_units) over (partition by scaled.cluster, scaled.hour)
            else scaled.capacity_units
        end as cost_base_units
    from scaled
    cross join policies
),

job_rows as (
    select
        cluster,
        hour,
        'job' as row_kind,
        job_key,
        job_id,
        activity,
        model_generation,
        dataset_version,
        gpu_hour_units as claimed_gpu_hour_units,
        used_units,
        oversubscribed,
        case
            when cost_base_units > 0 then {{ prorate_units('pool_cost_units', 'used_units', 'cost_base_units') }}
            else 0
        end as cost_floor
    from shared
),

pool_usage as (
    select
        pools.cluster,
        pools.hour,
        pools.pool_cost_units,
        pools.capacity_units,
        count(job_rows.job_key) as job_count,
        coalesce(sum(job_rows.used_units), 0) as used_units,
        coalesce(sum(job_rows.cost_floor), 0) as job_cost_floor,
        coalesce(bool_or(job_rows.oversubscribed), false) as oversubscribed
    from pools
    left join job_rows on pools.cluster = job_rows.cluster and pools.hour = job_rows.hour
    group by pools.cluster, pools.hour, pools.pool_cost_units, pools.capacity_units
),

idle as (
    select
        pool_usage.*,
        case
            when pool_usage.oversubscribed then 0 else pool_usage.capacity_units - pool_usage.used_units
        end as idle_gpu_hour_units,
        case
            when pool_usage.capacity_units = 0 then pool_usage.pool_cost_units
            when pool_usage.oversubscribed then 0
            when policies.idle_policy = 'pro_rata' and pool_usage.used_units > 0 then 0
            else {{ prorate_units('pool_usage.pool_cost_units', 'pool_usage.capacity_units - pool_usage.used_units', 'pool_usage.capacity_units') }}
        end as idle_cost_floor
    from pool_usage
    cross join policies
),

residue as (
    select
        cluster,
        hour,
        pool_cost_units - idle_cost_floor - job_cost_floor as residue_units
    from idle
),

ranked_jobs as (
    select
        job_rows.*,
        row_number() over (
            partition by job_rows.cluster, job_rows.hour order by job_rows.used_units desc, job_rows.job_key asc
        ) as size_rank
    from job_rows
),

allocated_jobs as (
    select
        ranked_jobs.cluster,
        ranked_jobs.hour,
        ranked_jobs.row_kind,
        ranked_jobs.job_key,
        ranked_jobs.job_id,
        ranked_jobs.activity,
        ranked_jobs.model_generation,
        ranked_jobs.dataset_version,
        ranked_jobs.claimed_gpu_hour_units,
        ranked_jobs.used_units as gpu_hour_units,
        ranked_jobs.oversubscribed,
        ranked_jobs.cost_floor + case when ranked_jobs.size_rank = 1 then residue.residue_units else 0 end as cost_units
    from ranked_jobs
    inner join residue on ranked_jobs.cluster = residue.cluster and ranked_jobs.hour = residue.hour
),

idle_rows as (
    select
        idle.cluster,
        idle.hour,
        'idle' as row_kind,
        cast(null as varchar) as job_key,
        cast(null as varchar) as job_id,
        'idle' as activity,
        cast(null as varchar) as model_generation,
        cast(null as varchar) as dataset_version,
        cast(0 as hugeint) as claimed_gpu_hour_units,
        idle.idle_gpu_hour_units as gpu_hour_units,
        idle.oversubscribed,
        -- The remainder goes to the largest job; only a pool with no job row keeps it here.
        idle.idle_cost_floor + case when idle.job_count = 0 then residue.residue_units else 0 end as cost_units
    from idle
    inner join residue on idle.cluster = residue.cluster and idle.hour = residue.hour
    where idle.idle_gpu_hour_units > 0 or idle.job_count = 0
),

unioned as (
    select * from allocated_jobs
    union all
    select * from idle_rows
),

final as (
    select
        *,
        {{ from_units('gpu_hour_units') }} as gpu_hours,
        {{ from_units('cost_units') }} as cost_usd
    from unioned
)

select * from final
