-- One row per scenario x dataset x consumer x period x origin activity: the amortization
-- charge, kept by the kind of data work it pays for, so a model generation's data cost can be
-- broken down into human annotation, selection, generation... Charges are floored per lineage
-- path and per rate row exactly as int_dataset_cost_paths does, so a derived dataset's
-- inherited cost equals the charges it received.
with paths as (
    select * from {{ ref('int_dataset_cost_paths') }}
),

rates as (
    select * from {{ ref('int_dataset_consumption_rates') }}
),

charged as (
    select
        rates.scenario,
        rates.dataset_version,
        rates.consumer,
        rates.consumer_kind,
        rates.period,
        rates.policy,
        paths.activity,
        sum({{ prorate_units('paths.amount_units', 'rates.rate_part', 'rates.rate_whole') }}) as amortization_units
    from rates
    inner join paths on rates.scenario = paths.scenario and rates.dataset_version = paths.dataset_version
    group by all
),

final as (
    select
        *,
        {{ from_units('amortization_units') }} as amortization_usd
    from charged
)

select * from final
