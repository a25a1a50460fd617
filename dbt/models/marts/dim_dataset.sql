-- One row per dataset version: config attributes plus what it cost, what it has charged out
-- to its consumers so far and the balance still carried. cost = own + inherited;
-- cost = amortized + balance (under each dataset's configured policy). Beside the actual cost,
-- the replacement cost: what paying people to write its tokens would cost.
with datasets as (
    select * from {{ ref('stg_config__datasets') }}
),

policies as (
    select * from {{ ref('stg_config__policies') }}
),

costs as (
    select * from {{ ref('int_dataset_costs_propagated') }}
    where scenario = 'configured'
),

charges as (
    select * from {{ ref('int_dataset_amortization_by_activity') }}
    where scenario = 'configured'
),

consumption as (
    select * from {{ ref('stg_config__dataset_consumption') }}
),

cost_totals as (
    select
        dataset_version,
        sum(case when origin = dataset_version then amount_units else 0 end) as own_units,
        sum(case when origin != dataset_version then amount_units else 0 end) as inherited_units
    from costs
    group by dataset_version
),

charge_totals as (
    select
        dataset_version,
        sum(amortization_units) as amortized_units
    from charges
    group by dataset_version
),

parents as (
    select
        consumer as dataset_version,
        string_agg(dataset_version, ', ' order by dataset_version) as parent_datasets
    from consumption
    where consumer_kind = 'dataset'
    group by consumer
),

all_datasets as (
    select dataset_version from datasets
    union
    select dataset_version from cost_totals
),

final as (
    select
        all_datasets.dataset_version,
        datasets.dataset_name,
        datasets.kind,
        datasets.tokens,
        datasets.expected_lifetime_tokens,
        coalesce(datasets.amortization_policy, policies.default_amortization_policy) as amortization_policy,
        parents.parent_datasets,
        datasets.dataset_version is null as missing_from_config,
        {{ from_units('coalesce(cost_totals.own_units, 0)') }} as own_cost_usd,
        {{ from_units('coalesce(cost_totals.inherited_units, 0)') }} as inherited_cost_usd,
        {{ from_units('coalesce(cost_totals.own_units, 0) + coalesce(cost_totals.inherited_units, 0)') }} as total_cost_usd,
        {{ from_units('coalesce(charge_totals.amortized_units, 0)') }} as amortized_usd,
        {{ from_units('coalesce(cost_totals.own_units, 0) + coalesce(cost_totals.inherited_units, 0) - coalesce(charge_totals.amortized_units, 0)') }} as balance_usd,
        datasets.useful_life_months,
        -- Kandpal & Raffel: what paying people to write it would cost,
        -- tokens x words_per_token / words_per_hour x hourly_wage (all in policies.yaml).
        -- In integer units: tokens x units(words_per_token x wage) x 1e10 / units(words_per_hour).
        {{ from_units(prorate_units(
            'cast(datasets.tokens as hugeint) * ' ~ to_units('policies.replacement_words_per_token * policies.replacement_hourly_wage_usd'),
            10000000000,
            to_units('policies.replacement_words_per_hour'))) }} as replacement_cost_usd
    from all_datasets
    cross join policies
    left join datasets on all_datasets.dataset_version = datasets.dataset_version
    left join cost_totals on all_datasets.dataset_version = cost_totals.dataset_version
    left join charge_totals on all_datasets.dataset_version = charge_totals.dataset_version
    left join parents on all_datasets.dataset_version = parents.dataset_version
)

select * from final
