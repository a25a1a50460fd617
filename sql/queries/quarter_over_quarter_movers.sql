-- Quarter-over-quarter movers: spend per activity and model generation against the
-- previous quarter, largest change (up or down) first.
-- Answers: what changed since last quarter, and where?
-- Parameters (llmledger sql --param NAME=VALUE):
--   quarter  the quarter, e.g. 2026Q3, compared with the one before it
--            (default: the latest quarter in fct_quarterly_allocation)
-- Marts: fct_quarterly_allocation.
with params as (
    select
        coalesce(
            getvariable('quarter'), (select max(quarter) from fct_quarterly_allocation)
        ) as quarter
),

periods as (
    select
        quarter,
        case
            when right(quarter, 1) = '1'
                then cast(cast(left(quarter, 4) as integer) - 1 as varchar) || 'Q4'
            else left(quarter, 5) || cast(cast(right(quarter, 1) as integer) - 1 as varchar)
        end as previous_quarter
    from params
),

spend as (
    select
        allocation.activity,
        allocation.model_generation,
        coalesce(sum(allocation.cost_usd) filter (where allocation.quarter = periods.quarter), 0) as cost_usd,
        coalesce(
            sum(allocation.cost_usd) filter (where allocation.quarter = periods.previous_quarter), 0
        ) as previous_cost_usd
    from fct_quarterly_allocation as allocation
    cross join periods
    where allocation.quarter in (periods.quarter, periods.previous_quarter)
    group by allocation.activity, allocation.model_generation
)

select
    periods.previous_quarter,
    periods.quarter,
    spend.activity,
    spend.model_generation,
    round(spend.previous_cost_usd, 2) as previous_cost_usd,
    round(spend.cost_usd, 2) as cost_usd,
    round(spend.cost_usd - spend.previous_cost_usd, 2) as change_usd,
    case
        when spend.previous_cost_usd <> 0
            then cast(round((spend.cost_usd - spend.previous_cost_usd) / spend.previous_cost_usd, 4) as decimal(18, 4))
    end as change_pct
from spend
cross join periods
where spend.cost_usd <> spend.previous_cost_usd
order by abs(spend.cost_usd - spend.previous_cost_usd) desc, spend.activity asc, spend.model_generation asc
