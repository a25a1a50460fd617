-- One row per dataset x consumer (a model generation that trained on it, or a dataset derived
-- from it) with the share of the dataset's cost that consumer is charged.
-- units_of_production: tokens_consumed / expected_lifetime_tokens. When consumers together
-- have already used more tokens than the expected lifetime, the denominator becomes the
-- tokens actually consumed, so a dataset is never charged out for more than it cost.
-- Datasets on any other policy are not amortized here yet: their cost stays on the balance.
with consumption as (
    select * from {{ ref('stg_config__dataset_consumption') }}
),

datasets as (
    select * from {{ ref('stg_config__datasets') }}
),

policies as (
    select * from {{ ref('stg_config__policies') }}
),

with_policy as (
    select
        consumption.dataset_version,
        consumption.consumer,
        consumption.consumer_kind,
        consumption.tokens_consumed,
        consumption.consumed_on,
        coalesce(datasets.amortization_policy, policies.default_amortization_policy) as policy,
        datasets.expected_lifetime_tokens
    from consumption
    inner join datasets on consumption.dataset_version = datasets.dataset_version
    cross join policies
),

final as (
    select
        *,
        greatest(
            expected_lifetime_tokens,
            sum(tokens_consumed) over (partition by dataset_version)
        ) as rate_denominator_tokens,
        {{ quarter_label('consumed_on') }} as period
    from with_policy
    where policy = 'units_of_production'
)

select * from final
