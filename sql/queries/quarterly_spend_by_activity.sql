-- Spend as incurred per quarter and activity, all generations together.
select
    quarter,
    activity,
    round(sum(cost_usd), 2) as cost_usd
from fct_quarterly_allocation
group by quarter, activity
order by quarter, activity
