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
    where row_kind = 'job' and {{ in_refresh_window('hour') }}
),

final as (
    select
        job_key,
        job_id,
        cluster,
        hour,
        gpu_hours,
        {{ from_units('claimed_gpu_hour_units') }} as claimed_gpu_hours,
        cost_usd as allocated_cost_usd,
        activity,
        model_generation,
        dataset_version,
        oversubscribed
    from allocations
)

select * from final
