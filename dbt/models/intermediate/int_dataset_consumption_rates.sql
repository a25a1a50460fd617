-- One row per scenario x dataset x consumer x charge month: the share rate_part / rate_whole
-- of the dataset's cost (own + inherited) that the consumer is charged in that month. A
-- consumer is a model generation that trained on the dataset, a dataset derived from it, or
-- (straight_line only) 'unabsorbed amortization' for elapsed months nobody used it.
-- Scenario `configured`: each dataset on its own policy; scenario <policy>: every dataset on it.
--   units_of_production: tokens / greatest(expected_lifetime_tokens, tokens all consumers
--     used), in the month of consumption (never more than the cost is charged out).
--   full_reuse: tokens / tokens all consumers known today used, in the month of consumption
--     (analytic: a new consumer restates earlier charges).
--   expense_on_first_use: everything to the first consumer (earliest consumed_on; ties by
--     consumer kind then id), in its month.
--   straight_line: 1 / useful_life_months per month, months counted from the month of first
--     use up to the as-of month; a month's charge goes to that month's consumers by tokens, or
--     to 'unabsorbed amortization' when nobody consumed it that month.
-- A view: small and cheap to compute, so its readers compute it; as a table it was one more
-- node, with dbt's overhead, on every night's chain (the night skips views).
{{ config(materialized='view') }}

with consumption as (
    select * from {{ ref('stg_config__dataset_consumption') }}
),

datasets as (
    select * from {{ ref('stg_config__datasets') }}
),

policies as (
    select * from {{ ref('stg_config__policies') }}
),

as_of as (
    select * from {{ ref('int_dataset_amortization_as_of') }}
),

scenarios as (
    {{ amortization_scenarios_relation() }}
),

with_policy as (
    select
        scenarios.scenario,
        consumption.dataset_version,
        consumption.consumer,
        consumption.consumer_kind,
        consumption.tokens_consumed,
        consumption.consumed_on,
        cast(date_trunc('month', consumption.consumed_on) as date) as consumed_month,
        case
            when scenarios.scenario = 'configured'
                then coalesce(datasets.amortization_policy, policies.default_amortization_policy)
            else scenarios.scenario
        end as policy,
        datasets.expected_lifetime_tokens,
        coalesce(datasets.useful_life_months, policies.default_useful_life_months) as useful_life_months
    from consumption
    inner join datasets on consumption.dataset_version = datasets.dataset_version
    cross join policies
    cross join scenarios
),

with_totals as (
    select
        *,
        sum(tokens_consumed) over (partition by scenario, dataset_version) as total_tokens,
        min(consumed_month) over (partition by scenario, dataset_version) as first_use_month,
        row_number() over (
            partition by scenario, dataset_version order by consumed_on, consumer_kind, consumer
        ) as use_rank
    from with_policy
),

per_use as (
    -- The policies that charge each use: the share is rate_part / rate_whole of the cost.
    -- units_of_production: tokens / max(expected lifetime, tokens used so far by everyone);
    -- full_reuse: tokens / tokens used by everyone; expense_on_first_use: all to the first use.
    select
        scenario,
        dataset_version,
        policy,
        consumer,
        consumer_kind,
        tokens_consumed,
        consumed_on,
        consumed_month as charge_month,
        cast(case when policy = 'expense_on_first_use' then 1 else tokens_consumed end as hugeint) as rate_part,
        cast(
            case policy
                when 'units_of_production' then greatest(expected_lifetime_tokens, total_tokens)
                when 'full_reuse' then total_tokens
                else 1
            end as hugeint
        ) as rate_whole
    from with_totals
    where
        policy in ('units_of_production', 'full_reuse')
        or (policy = 'expense_on_first_use' and use_rank = 1)
),

straight_line_datasets as (
    select distinct
        scenario,
        dataset_version,
        policy,
        useful_life_months,
        first_use_month
    from with_totals
    where policy = 'straight_line'
),

straight_line_months as (
    select
        sl.scenario,
        sl.dataset_version,
        sl.policy,
        sl.useful_life_months,
        cast(sl.first_use_month + to_months(cast(month_index.i as integer)) as date) as charge_month
    from straight_line_datasets as sl
    cross join as_of
    cross join lateral (select unnest(range(sl.useful_life_months)) as i) as month_index
    where sl.first_use_month + to_months(cast(month_index.i as integer)) <= as_of.as_of_month
),

straight_line_month_users as (
    select
        months.scenario,
        months.dataset_version,
        months.policy,
        months.useful_life_months,
        months.charge_month,
        uses.consumer,
        uses.consumer_kind,
        uses.tokens_consumed,
        uses.consumed_on,
        sum(uses.tokens_consumed) over (
            partition by months.scenario, months.dataset_version, months.charge_month
        ) as month_tokens
    from straight_line_months as months
    left join with_totals as uses
        on
            months.scenario = uses.scenario
            and months.dataset_version = uses.dataset_version
            and months.charge_month = uses.consumed_month
),

straight_line as (
    select
        scenario,
        dataset_version,
        policy,
        coalesce(consumer, {{ unabsorbed_consumer() }}) as consumer,
        coalesce(consumer_kind, 'unabsorbed') as consumer_kind,
        tokens_consumed,
        consumed_on,
        charge_month,
        cast(coalesce(tokens_consumed, 1) as hugeint) as rate_part,
        cast(useful_life_months as hugeint) * cast(coalesce(month_tokens, 1) as hugeint) as rate_whole
    from straight_line_month_users
),

unioned as (
    select * from per_use
    union all
    select * from straight_line
),

final as (
    select
        *,
        {{ quarter_label('charge_month') }} as period
    from unioned
)

select * from final
