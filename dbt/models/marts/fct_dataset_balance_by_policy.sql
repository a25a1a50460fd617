-- One row per policy view x dataset x quarter, from the dataset's first quarter with spend or
-- charges to the as-of quarter, with no gaps: opening + additions - amortization = closing.
-- Additions are capitalised spend: its own data work incurred in the quarter plus the charges
-- its parent datasets passed to it in the quarter. Amortization is what it charged out in the
-- quarter (to generations, derived datasets and unabsorbed amortization). Charges are computed
-- on the cost known today, so a quarter whose consumption came before the spend can close
-- below zero until that spend lands; the balance to date is never negative.
with ledger as (
    select * from {{ ref('int_spend_ledger') }}
    where activity_group = 'data' and dataset_version is not null
),

charges as (
    select * from {{ ref('int_dataset_amortization_by_activity') }}
),

as_of as (
    select * from {{ ref('int_dataset_amortization_as_of') }}
),

scenarios as (
    {{ amortization_scenarios_relation() }}
),

own_additions as (
    select
        scenarios.scenario,
        ledger.dataset_version,
        ledger.quarter,
        {{ to_units('sum(ledger.cost_usd)') }} as units
    from ledger
    cross join scenarios
    group by scenarios.scenario, ledger.dataset_version, ledger.quarter
),

inherited_additions as (
    select
        scenario,
        consumer as dataset_version,
        period as quarter,
        sum(amortization_units) as units
    from charges
    where consumer_kind = 'dataset'
    group by scenario, consumer, period
),

additions as (
    select
        scenario,
        dataset_version,
        quarter,
        sum(units) as units
    from (
        select * from own_additions
        union all
        select * from inherited_additions
    ) as unioned
    group by scenario, dataset_version, quarter
),

amortization as (
    select
        scenario,
        dataset_version,
        period as quarter,
        sum(amortization_units) as units
    from charges
    group by scenario, dataset_version, period
),

movements as (
    select
        coalesce(additions.scenario, amortization.scenario) as scenario,
        coalesce(additions.dataset_version, amortization.dataset_version) as dataset_version,
        coalesce(additions.quarter, amortization.quarter) as quarter,
        coalesce(additions.units, 0) as addition_units,
        coalesce(amortization.units, 0) as amortization_units
    from additions
    full outer join amortization
        on
            additions.scenario = amortization.scenario
            and additions.dataset_version = amortization.dataset_version
            and additions.quarter = amortization.quarter
),

quarter_spine as (
    select {{ quarter_label('quarter_start') }} as quarter
    from (
        select
            unnest(generate_series(
                cast(date_trunc('quarter', (select min(cast(incurred_at as date)) from ledger)) as date),
                cast(date_trunc('quarter', (select as_of_month from as_of)) as date),
                interval 3 month
            )) as quarter_start
    ) as starts
    union
    select distinct quarter from movements
),

dataset_span as (
    select
        scenario,
        dataset_version,
        min(quarter) as first_quarter
    from movements
    group by scenario, dataset_version
),

dense as (
    select
        dataset_span.scenario,
        dataset_span.dataset_version,
        quarter_spine.quarter,
        coalesce(movements.addition_units, 0) as addition_units,
        coalesce(movements.amortization_units, 0) as amortization_units
    from dataset_span
    inner join quarter_spine on dataset_span.first_quarter <= quarter_spine.quarter
    left join movements
        on
            dataset_span.scenario = movements.scenario
            and dataset_span.dataset_version = movements.dataset_version
            and quarter_spine.quarter = movements.quarter
),

rolled as (
    select
        *,
        sum(addition_units - amortization_units) over (
            partition by scenario, dataset_version order by quarter
            rows between unbounded preceding and current row
        ) as closing_units
    from dense
),

final as (
    select
        scenario as policy,
        dataset_version,
        quarter,
        {{ from_units('closing_units - addition_units + amortization_units') }} as opening_usd,
        {{ from_units('addition_units') }} as additions_usd,
        {{ from_units('amortization_units') }} as amortization_usd,
        {{ from_units('closing_units') }} as closing_usd
    from rolled
)

select * from final
