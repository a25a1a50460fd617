-- Quarterly spend by activity: spend as incurred per quarter and activity, all generations together.
-- Answers: where did each quarter's money go?
-- Parameters: none (every quarter).
-- Marts: fct_quarterly_allocation.
select
    quarter,
    activity,
    round(sum(cost_usd), 2) as cost_usd
from fct_quarterly_allocation
group by quarter, activity
order by quarter, activity
