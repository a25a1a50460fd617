-- One row per dataset x consumer x period x origin activity: the amortization charge, kept by
-- the kind of data work it pays for, so a model generation's data cost can be broken down
-- into human annotation, selection, generation...
with costs as (
    select * from {{ ref('int_dataset_costs_propagated') }}
),

rates as (
    select * from {{ ref('int_dataset_consumption_rates') }}
),

charged as (
    select
        rates.dataset_version,
        rates.consumer,
        rates.consumer_kind,
        rates.period,
        rates.policy,
        costs.activity,
        sum({{ prorate_units('costs.amount_units', 'rates.tokens_consumed', 'rates.rate_denominator_tokens') }}) as amortization_units
    from rates
    inner join costs on rates.dataset_version = costs.dataset_version
    group by all
),

final as (
    select
        *,
        {{ from_units('amortization_units') }} as amortization_usd
    from charged
)

select * from final
