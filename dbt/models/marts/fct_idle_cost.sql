{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_refresh_window('hour') }}"
    )
}}

with allocations as (
    select * from {{ ref('int_gpu_hours_allocated_to_pools') }}
    where row_kind = 'idle' and {{ in_refresh_window('hour') }}
),

final as (
    select
        cluster,
        hour,
        gpu_hours as idle_gpu_hours,
        cost_usd as idle_cost_usd
    from allocations
)

select * from final
