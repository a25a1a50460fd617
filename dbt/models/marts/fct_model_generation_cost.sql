-- One row per model generation x activity. Training, evaluation and other non-data activities
-- are the allocated cost of the generation's own jobs (basis `incurred`). Data cost is the
-- amortization of the datasets it trained on (basis `amortized`, by the kind of data work it
-- pays for) plus data work tagged to the generation without a dataset (basis `incurred`).
-- Data work tagged to a dataset is NOT counted here directly: it reaches generations only
-- through amortization, so nothing is counted twice.
with ledger as (
    select * from {{ ref('int_spend_ledger') }}
),

amortization as (
    select * from {{ ref('int_dataset_amortization_by_activity') }}
    where consumer_kind = 'model_generation' and scenario = 'configured'
),

activities as (
    select * from {{ ref('activities') }}
),

incurred as (
    select
        model_generation,
        activity,
        sum(cost_usd) as incurred_cost_usd
    from ledger
    where
        model_generation is not null
        and not (activity_group = 'data' and dataset_version is not null)
    group by model_generation, activity
),

amortized as (
    select
        consumer as model_generation,
        activity,
        {{ from_units('sum(amortization_units)') }} as amortized_cost_usd
    from amortization
    group by consumer, activity
),

combined as (
    select
        coalesce(incurred.model_generation, amortized.model_generation) as model_generation,
        coalesce(incurred.activity, amortized.activity) as activity,
        coalesce(incurred.incurred_cost_usd, 0) as incurred_cost_usd,
        coalesce(amortized.amortized_cost_usd, 0) as amortized_cost_usd
    from incurred
    full outer join amortized
        on incurred.model_generation = amortized.model_generation and incurred.activity = amortized.activity
),

final as (
    select
        combined.model_generation,
        combined.activity,
        activities.activity_group,
        cast(combined.incurred_cost_usd as decimal(38, 10)) as incurred_cost_usd,
        cast(combined.amortized_cost_usd as decimal(38, 10)) as amortized_cost_usd,
        cast(combined.incurred_cost_usd + combined.amortized_cost_usd as decimal(38, 10)) as cost_usd
    from combined
    left join activities on combined.activity = activities.activity
)

select * from final
