-- One row per dataset x origin dataset x activity: how much of the data work done for `origin`
-- (by activity) sits in `dataset_version`'s cost, own work being origin = dataset_version.
-- A derived dataset inherits the charge its parents pass to it; the recursion walks every
-- lineage path, flooring each hop in 1e-10 units (config validation rejects cycles; the depth
-- guard only stops a runaway).
with recursive own_costs as (
    select
        dataset_version,
        activity,
        {{ to_units('sum(cost_usd)') }} as own_units
    from {{ ref('int_spend_ledger') }}
    where activity_group = 'data' and dataset_version is not null
    group by dataset_version, activity
),

edges as (
    select * from {{ ref('int_dataset_consumption_rates') }}
    where consumer_kind = 'dataset'
),

paths as (
    select
        dataset_version as origin,
        activity,
        dataset_version,
        own_units as amount_units,
        0 as depth
    from own_costs

    union all

    select
        paths.origin,
        paths.activity,
        edges.consumer as dataset_version,
        {{ prorate_units('paths.amount_units', 'edges.tokens_consumed', 'edges.rate_denominator_tokens') }} as amount_units,
        paths.depth + 1 as depth
    from paths
    inner join edges on paths.dataset_version = edges.dataset_version
    where paths.depth < 32
),

final as (
    select
        dataset_version,
        origin,
        activity,
        sum(amount_units) as amount_units
    from paths
    group by dataset_version, origin, activity
)

select * from final
