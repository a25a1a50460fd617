-- One row per charge quarter x posting period x activity x model generation. While no quarter
-- is closed this is all spend as incurred, posted to the quarter it was incurred in. Once a
-- quarter is closed its rows are read from its snapshot (they never change again), and
-- whatever the live books say beyond them for that charge quarter (late files, corrections)
-- posts to the first open quarter as a prior-period adjustment, keeping its charge quarter.
-- Summed over posting periods, each charge quarter still equals its live spend.
with ledger as (
    select * from {{ ref('int_spend_ledger') }}
),

frozen as (
    select * from {{ ref('stg_periods__frozen_quarterly_allocation') }}
),

posting as (
    select * from {{ ref('int_quarter_posting_periods') }}
),

live as (
    select
        quarter,
        activity,
        coalesce(model_generation, 'unassigned') as model_generation,
        sum(cost_usd) as cost_usd
    from ledger
    group by quarter, activity, coalesce(model_generation, 'unassigned')
),

frozen_by_charge_quarter as (
    select
        quarter,
        activity,
        model_generation,
        sum(cost_usd) as cost_usd
    from frozen
    group by quarter, activity, model_generation
),

-- What the live books hold for a charge quarter beyond what closed snapshots already froze.
unfrozen as (
    select
        coalesce(live.quarter, frozen_by_charge_quarter.quarter) as quarter,
        coalesce(live.activity, frozen_by_charge_quarter.activity) as activity,
        coalesce(live.model_generation, frozen_by_charge_quarter.model_generation) as model_generation,
        coalesce(live.cost_usd, 0) - coalesce(frozen_by_charge_quarter.cost_usd, 0) as cost_usd
    from live
    full outer join frozen_by_charge_quarter
        on
            live.quarter = frozen_by_charge_quarter.quarter
            and live.activity = frozen_by_charge_quarter.activity
            and live.model_generation = frozen_by_charge_quarter.model_generation
),

posted as (
    select
        unfrozen.quarter,
        unfrozen.activity,
        unfrozen.model_generation,
        unfrozen.cost_usd,
        posting.posting_period,
        posting.posting_period <> unfrozen.quarter as is_prior_period_adjustment
    from unfrozen
    inner join posting on unfrozen.quarter = posting.quarter
    -- Open quarters keep every row, as before any close; a closed quarter's nothing-new rows
    -- would be zero adjustments.
    where not posting.is_closed or unfrozen.cost_usd <> 0
),

unioned as (
    select
        quarter,
        activity,
        model_generation,
        cost_usd,
        posting_period,
        is_prior_period_adjustment
    from frozen

    union all

    select
        quarter,
        activity,
        model_generation,
        cost_usd,
        posting_period,
        is_prior_period_adjustment
    from posted
),

final as (
    select
        quarter,
        activity,
        model_generation,
        cast(cost_usd as decimal(38, 10)) as cost_usd,
        posting_period,
        is_prior_period_adjustment
    from unioned
)

select * from final
