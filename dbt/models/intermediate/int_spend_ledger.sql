-- One row per attributed piece of spend, as incurred: GPU cost allocated to jobs, idle
-- capacity, direct billing costs and annotation invoice lines. Every dollar of effective
-- billing cost and of annotation cost appears here exactly once (checked in rpt_reconciliation).
with allocations as (
    select * from {{ ref('int_gpu_hours_allocated_to_pools') }}
),

direct_costs as (
    select * from {{ ref('int_direct_costs_attributed') }}
),

annotation as (
    -- invoice-level fees, minimums, discounts and taxes follow the work lines they were
    -- spread over, so they reach the dataset the work produced
    select * from {{ ref('int_annotation_costs_spread') }}
),

unioned as (
    select
        case row_kind when 'idle' then 'idle_capacity' else 'gpu_allocation' end as cost_source,
        coalesce(job_key, cluster || '/idle') as source_key,
        hour as incurred_at,
        activity,
        model_generation,
        dataset_version,
        cost_usd
    from allocations

    union all

    select
        'billing_direct' as cost_source,
        charge_key as source_key,
        incurred_at,
        activity,
        model_generation,
        dataset_version,
        cost_usd
    from direct_costs

    union all

    select
        'annotation' as cost_source,
        invoice_line_key as source_key,
        cast(service_period_start as timestamp) as incurred_at,
        activity,
        cast(null as varchar) as model_generation,
        dataset_version,
        cost_usd
    from annotation
),

final as (
    select
        *,
        {{ quarter_label('incurred_at') }} as quarter,
        case
            when activity like 'data.%' then 'data'
            when activity like 'training.%' then 'training'
            else activity
        end as activity_group
    from unioned
)

select * from final
