-- One row per policy view x dataset x consumer x period (quarter). Policy view `configured`
-- is fct_dataset_amortization; each other view puts every dataset on that one policy (derived
-- datasets inherit, and pass on, what their parents charge them under it).
with charges as (
    select * from {{ ref('int_dataset_amortization_by_activity') }}
),

final as (
    select
        scenario as policy,
        dataset_version,
        consumer,
        consumer_kind,
        period,
        policy as dataset_policy,
        sum(amortization_usd) as amortization_usd
    from charges
    group by scenario, dataset_version, consumer, consumer_kind, period, policy
)

select * from final
