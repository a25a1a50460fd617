-- Idle cost by cluster: paid GPU capacity nobody used, per cluster and quarter.
-- Answers: how much paid capacity (including unused commitments) did no job use?
-- Parameters: none (every quarter).
-- Marts: fct_idle_cost.
select
    cluster,
    cast(extract(year from hour) as varchar) || 'Q' || cast(extract(quarter from hour) as varchar) as quarter,
    round(sum(idle_gpu_hours), 1) as idle_gpu_hours,
    round(sum(idle_cost_usd), 2) as idle_cost_usd
from fct_idle_cost
group by all
order by cluster, quarter
