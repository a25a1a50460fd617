-- One row per cost pool: cluster x hour. Capacity is the GPU-hours the bills say were paid
-- for; an hour whose bills carry no GPU-hours falls back to the GPU count in config/clusters.csv
-- (0 if the cluster is not listed: the whole pool is then idle, never silently dropped).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_refresh_window('hour') }}"
    )
}}

with spread as (
    select * from {{ ref('int_billing_costs_spread_to_hours') }}
    where {{ in_refresh_window('hour') }}
),

clusters as (
    select * from {{ ref('stg_config__clusters') }}
),

pooled as (
    select
        cluster,
        hour,
        sum(cost_units) as pool_cost_units,
        sum(gpu_hour_units) as billed_gpu_hour_units,
        count(distinct charge_key) as charge_count
    from spread
    group by cluster, hour
),

final as (
    select
        pooled.cluster,
        pooled.hour,
        pooled.pool_cost_units,
        case
            when pooled.billed_gpu_hour_units > 0 then pooled.billed_gpu_hour_units
            else {{ to_units('coalesce(clusters.gpus, 0)') }}
        end as capacity_units,
        pooled.billed_gpu_hour_units = 0 as capacity_from_config,
        pooled.charge_count,
        clusters.gpus as configured_gpus,
        {{ from_units('pooled.pool_cost_units') }} as pool_cost_usd,
        {{ from_units('case when pooled.billed_gpu_hour_units > 0 then pooled.billed_gpu_hour_units else ' ~ to_units('coalesce(clusters.gpus, 0)') ~ ' end') }} as capacity_gpu_hours
    from pooled
    left join clusters on pooled.cluster = clusters.cluster
)

select * from final
