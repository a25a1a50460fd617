with charges as (
    select * from {{ ref('int_dataset_amortization_by_activity') }}
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
