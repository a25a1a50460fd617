-- One row per attributed piece of spend, as incurred: GPU cost allocated to jobs, idle
-- capacity, direct billing costs, annotation invoice lines, dataset licences and non-GPU
-- shared costs of a cluster distributed to its jobs per month (incurred_at = the month's start).
-- Every dollar of effective billing cost, annotation cost and licence cost appears here exactly
-- once (checked in rpt_reconciliation).
-- Incremental: the GPU allocation rows (most of the ledger, one per job x pool hour; their
-- cost_source values are those of the `allocations` branch below) are rewritten from the
-- refresh window's hour on, as int_gpu_hours_allocated_to_pools is; the shared cost rows (one
-- per job x cluster-month x type) from the window's month on, as int_shared_costs_distributed
-- is; every other row comes from a model rebuilt whole each night, so it is rewritten whole.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_refresh_window_and_rebuilt('incurred_at', 'cost_source', ['gpu_allocation', 'idle_capacity'], ['shared_cost', 'shared_unallocated']) }}"
    )
}}

with allocations as (
    select * from {{ ref('int_gpu_hours_allocated_to_pools') }}
    where {{ in_refresh_window('hour') }}
),

direct_costs as (
    select * from {{ ref('int_direct_costs_attributed') }}
),

annotation as (
    -- invoice-level fees, minimums, discounts and taxes follow the work lines they were
    -- spread over, so they reach the dataset the work produced
    select * from {{ ref('int_annotation_costs_spread') }}
),

licensed_datasets as (
    select * from {{ ref('stg_config__datasets') }}
    where licence_cost is not null
),

fx_rates as (
    select * from {{ ref('stg_config__fx_rates') }}
),

-- A dataset version's licence (datasets.csv) is data.acquisition spend of that dataset on its
-- licence date, converted at the rate of that date (or the latest before; config validation
-- guarantees one exists).
licences as (
    select
        licensed_datasets.dataset_version,
        cast(licensed_datasets.licence_date as timestamp) as incurred_at,
        cast(
            licensed_datasets.licence_cost
            * case
                when licensed_datasets.licence_currency = 'USD' then cast(1 as decimal(38, 10))
                else fx_rates.usd_per_unit
            end as decimal(38, 10)
        ) as cost_usd
    from licensed_datasets
    asof left join fx_rates
        on
            licensed_datasets.licence_currency = fx_rates.currency
            and licensed_datasets.licence_date >= fx_rates.rate_date
),

shared_costs as (
    select * from {{ ref('int_shared_costs_distributed') }}
    where {{ in_refresh_months('month') }}
),

unioned as (
    select
        -- The windowed cost sources of the pre-hook (config above).
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

    union all

    select
        'licence' as cost_source,
        'licence/' || dataset_version as source_key,
        incurred_at,
        'data.acquisition' as activity,
        cast(null as varchar) as model_generation,
        dataset_version,
        cost_usd
    from licences

    union all

    select
        case row_kind when 'job' then 'shared_cost' else 'shared_unallocated' end as cost_source,
        coalesce(job_key, cluster || '/shared-unallocated') || ' ' || shared_cost_type as source_key,
        month as incurred_at,
        activity,
        model_generation,
        dataset_version,
        cost_usd
    from shared_costs
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
