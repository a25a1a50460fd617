-- One row per dataset x consumer x period (quarter), under each dataset's configured policy.
-- Consumers are model generations, derived datasets and, for straight_line months nobody
-- used the dataset, 'unabsorbed amortization' (consumer_kind 'unabsorbed').
with charges as (
    select * from {{ ref('int_dataset_amortization_by_activity') }}
    where scenario = 'configured'
),

final as (
    select
        dataset_version,
        consumer,
        consumer_kind,
        period,
        policy,
        sum(amortization_usd) as amortization_usd
    from charges
    group by dataset_version, consumer, consumer_kind, period, policy
)

select * from final
