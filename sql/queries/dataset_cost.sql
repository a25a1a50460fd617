-- Cost per dataset, including what it inherited from the datasets it was derived from.
-- Answers: what did each dataset cost all in (own data work + inherited), how much of that
--   has been charged out to the generations and datasets that consumed it, and what balance
--   is still carried as an asset?
-- Parameters: none (to date).
-- Marts: dim_dataset.
select
    dataset_version,
    dataset_name,
    kind,
    parent_datasets,
    amortization_policy,
    round(own_cost_usd, 2) as own_cost_usd,
    round(inherited_cost_usd, 2) as inherited_cost_usd,
    round(total_cost_usd, 2) as total_cost_usd,
    round(amortized_usd, 2) as amortized_usd,
    round(balance_usd, 2) as balance_usd
from dim_dataset
order by total_cost_usd desc, dataset_version asc
