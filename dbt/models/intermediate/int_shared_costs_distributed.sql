-- One row per cluster x month x shared cost type x job that receives a share (row_kind job),
-- or one row per cluster x month x type no job can take (row_kind unallocated).
-- Non-GPU shared costs (billing rows with a cluster tag and a tag cost_type other than gpu:
-- storage, network, CPU nodes) are spread over the calendar months their charge period covers
-- by seconds (a zero-length period lands in its start month), summed per cluster x month x
-- type, then split over the jobs that ran on that cluster that month pro rata to the GPU cost
-- each job was allocated there (idle capacity receives none: it used no storage or network).
-- Splits are floored in units of 1e-10 USD and the remainder goes to the job with the largest
-- GPU cost (then by job_key), so each cluster-month's shared cost is distributed exactly. A
-- cluster-month with no allocated GPU cost keeps its shared cost visible as activity `overhead`
-- (row_kind unallocated; the taxonomy's line for shared costs that are not GPU time), not `idle`,
-- which stays exactly the unused GPU capacity of the pools (fct_idle_cost). Never dropped.
-- Incremental by month: a night recomputes the months from the one its refresh window starts
-- in (every charge that reaches into them, every allocation of them) and keeps the earlier
-- months, which no new input can change (macros/incremental.sql, in_refresh_months).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_refresh_months('month') }}"
    )
}}

with charges as (
    select * from {{ ref('int_billing_charges_converted') }}
    where
        cluster is not null and shared_cost_type is not null
        -- a charge with a piece in the window's months (a zero-length one: in its start month)
        and (
            {{ in_refresh_months('charge_period_end - interval 1 microsecond') }}
            or {{ in_refresh_months('charge_period_start') }}
        )
),

allocations as (
    select * from {{ ref('int_gpu_hours_allocated_to_pools') }}
    where row_kind = 'job' and {{ in_refresh_months('hour') }}
),

charge_months as (
    select
        charge_key,
        cluster,
        shared_cost_type,
        charge_period_start,
        charge_period_end,
        {{ to_units('effective_cost_usd') }} as cost_units,
        unnest(
            case
                when charge_period_end > charge_period_start
                    then range(date_trunc('month', charge_period_start), charge_period_end, interval 1 month)
                else [date_trunc('month', charge_period_start)]
            end
        ) as month
    from charges
),

weighted as (
    select
        *,
        case
            when charge_period_end > charge_period_start
                then date_diff(
                    'second',
                    greatest(charge_period_start, month),
                    least(charge_period_end, month + interval 1 month)
                )
            else 1
        end as weight
    from charge_months
),

floored as (
    select
        *,
        row_number() over (partition by charge_key order by month desc) as months_from_end,
        {{ prorate_units('cost_units', 'weight', 'sum(weight) over (partition by charge_key)') }} as cost_floor
    from weighted
),

charge_pieces as (
    select
        charge_key,
        cluster,
        shared_cost_type,
        month,
        case
            when months_from_end = 1
                then cost_units - (sum(cost_floor) over (partition by charge_key) - cost_floor)
            else cost_floor
        end as cost_units
    from floored
),

shared as (
    -- A charge's pieces are split over all its months (above); only the window's are written.
    select
        cluster,
        cast(month as timestamp) as month,
        shared_cost_type,
        count(distinct charge_key) as charge_count,
        sum(cost_units) as shared_units
    from charge_pieces
    where {{ in_refresh_months('month') }}
    group by cluster, month, shared_cost_type
),

job_costs as (
    select
        cluster,
        cast(date_trunc('month', hour) as timestamp) as month,
        job_key,
        job_id,
        activity,
        model_generation,
        dataset_version,
        sum(cost_units) as gpu_cost_units
    from allocations
    -- Only the cluster-months that have a shared cost to split (none: nothing to sum).
    where
        exists (
            select 1
            from shared
            where shared.cluster = allocations.cluster and shared.month = date_trunc('month', allocations.hour)
        )
    -- A pod's labels may change within a month: each (job, attribution) is its own recipient.
    group by cluster, date_trunc('month', hour), job_key, job_id, activity, model_generation, dataset_version
),

basis as (
    select
        cluster,
        month,
        sum(gpu_cost_units) as basis_units
    from job_costs
    group by cluster, month
),

job_shares as (
    select
        shared.cluster,
        shared.month,
        shared.shared_cost_type,
        shared.charge_count,
        shared.shared_units,
        job_costs.job_key,
        job_costs.job_id,
        job_costs.activity,
        job_costs.model_generation,
        job_costs.dataset_version,
        job_costs.gpu_cost_units,
        basis.basis_units,
        {{ prorate_units('shared.shared_units', 'job_costs.gpu_cost_units', 'basis.basis_units') }} as cost_floor,
        row_number() over (
            partition by shared.cluster, shared.month, shared.shared_cost_type
            order by
                job_costs.gpu_cost_units desc, job_costs.job_key asc, job_costs.activity asc,
                job_costs.model_generation asc nulls first, job_costs.dataset_version asc nulls first
        ) as size_rank
    from shared
    inner join basis on shared.cluster = basis.cluster and shared.month = basis.month
    inner join job_costs on shared.cluster = job_costs.cluster and shared.month = job_costs.month
    where basis.basis_units > 0
),

job_rows as (
    select
        cluster,
        month,
        shared_cost_type,
        'job' as row_kind,
        job_key,
        job_id,
        activity,
        model_generation,
        dataset_version,
        gpu_cost_units as basis_gpu_cost_units,
        charge_count,
        cost_floor + case
            when size_rank = 1
                then shared_units - sum(cost_floor) over (partition by cluster, month, shared_cost_type)
            else 0
        end as cost_units
    from job_shares
),

unallocated_rows as (
    select
        shared.cluster,
        shared.month,
        shared.shared_cost_type,
        'unallocated' as row_kind,
        cast(null as varchar) as job_key,
        cast(null as varchar) as job_id,
        'overhead' as activity,
        cast(null as varchar) as model_generation,
        cast(null as varchar) as dataset_version,
        cast(0 as hugeint) as basis_gpu_cost_units,
        shared.charge_count,
        shared.shared_units as cost_units
    from shared
    left join basis on shared.cluster = basis.cluster and shared.month = basis.month
    where coalesce(basis.basis_units, 0) <= 0
),

unioned as (
    select * from job_rows
    union all
    select * from unallocated_rows
),

final as (
    select
        *,
        {{ from_units('cost_units') }} as cost_usd
    from unioned
)

select * from final
