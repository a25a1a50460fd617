with allocations as (
    select * from {{ ref('int_gpu_hours_allocated_to_pools') }}
    where row_kind = 'idle'
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
