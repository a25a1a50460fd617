-- One row per pooled billing charge x hour it covers. A charge (and the GPU-hours it pays for)
-- is spread over its hours in proportion to the seconds of each hour it covers; the floor
-- remainder goes to its last hour, so each charge's hours sum exactly to the charge.
-- A zero-length charge period lands whole in its starting hour.
-- Non-GPU shared costs of a cluster (tag cost_type other than gpu) are not pooled: see
-- int_shared_costs_distributed.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_refresh_window('hour') }}"
    )
}}

-- Not materialised: two branches read it, and a materialised copy would hold every charge.
with charges as not materialized (
    select * from {{ ref('int_billing_charges_converted') }}
    where
        cluster is not null and shared_cost_type is null
        -- A charge that overlaps the window is spread whole, then only its hours in the
        -- window are kept: the floor remainder lands where a full build puts it.
        and (
            {{ in_refresh_window('charge_period_end') }}
            or {{ in_refresh_window('charge_period_start') }}
        )
),

-- Most charges are hourly rows: a charge inside one hour (or of zero length) lands whole in
-- that hour, which is what the spread below gives it, without its window functions.
single_hour as (
    select
        charge_key,
        cluster,
        date_trunc('hour', charge_period_start) as hour,
        {{ to_units('effective_cost_usd') }} as cost_units,
        {{ to_units('paid_gpu_hours') }} as gpu_hour_units
    from charges
    where charge_period_end <= date_trunc('hour', charge_period_start) + interval 1 hour
),

hours as (
    select
        charge_key,
        cluster,
        charge_period_start,
        charge_period_end,
        {{ to_units('effective_cost_usd') }} as cost_units,
        {{ to_units('paid_gpu_hours') }} as gpu_hour_units,
        unnest(range(date_trunc('hour', charge_period_start), charge_period_end, interval 1 hour)) as hour
    from charges
    where charge_period_end > date_trunc('hour', charge_period_start) + interval 1 hour
),

weighted as (
    select
        *,
        date_diff(
            'second',
            greatest(charge_period_start, hour),
            least(charge_period_end, hour + interval 1 hour)
        ) as weight
    from hours
),

floored as (
    select
        *,
        row_number() over (partition by charge_key order by hour desc) as hours_from_end,
        {{ prorate_units('cost_units', 'weight', 'sum(weight) over (partition by charge_key)') }} as cost_floor,
        {{ prorate_units('gpu_hour_units', 'weight', 'sum(weight) over (partition by charge_key)') }} as gpu_hour_floor
    from weighted
),

spread as (
    select
        charge_key,
        cluster,
        hour,
        case
            when hours_from_end = 1
                then cost_units - (sum(cost_floor) over (partition by charge_key) - cost_floor)
            else cost_floor
        end as cost_units,
        case
            when hours_from_end = 1
                then gpu_hour_units - (sum(gpu_hour_floor) over (partition by charge_key) - gpu_hour_floor)
            else gpu_hour_floor
        end as gpu_hour_units
    from floored
),

final as (
    select * from single_hour
    union all
    select * from spread
),

windowed as (
    select * from final
    where {{ in_refresh_window('hour') }}
)

select * from windowed
