-- One row per scenario x dataset x origin dataset x activity: how much of the data work done
-- for `origin` (by activity) sits in `dataset_version`'s cost, own work being
-- origin = dataset_version. A derived dataset inherits what its parents charge it under the
-- scenario's policies (see int_dataset_cost_paths).
with paths as (
    select * from {{ ref('int_dataset_cost_paths') }}
),

final as (
    select
        scenario,
        dataset_version,
        origin,
        activity,
        sum(amount_units) as amount_units
    from paths
    group by scenario, dataset_version, origin, activity
)

select * from final
