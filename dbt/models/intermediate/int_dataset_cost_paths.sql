-- One row per scenario x lineage path: the amount of `origin`'s own data work (by activity)
-- that reaches `dataset_version` along one path of charges (depth 0 = the origin's own work).
-- Each hop applies exactly one row of int_dataset_consumption_rates with the same floor
-- expression int_dataset_amortization_by_activity uses, so what a derived dataset inherits is
-- to the unit what its parents charged it. Config validation rejects cycles; the depth guard
-- only stops a runaway.
-- A view: small and cheap to compute, so its readers compute it; as a table it was one more
-- node, with dbt's overhead, on every night's chain (the night skips views).
{{ config(materialized='view') }}

with recursive own_costs as (
    select
        dataset_version,
        activity,
        {{ to_units('sum(cost_usd)') }} as own_units
    from {{ ref('int_spend_ledger') }}
    where activity_group = 'data' and dataset_version is not null
    group by dataset_version, activity
),

scenarios as (
    {{ amortization_scenarios_relation() }}
),

edges as (
    select * from {{ ref('int_dataset_consumption_rates') }}
    where consumer_kind = 'dataset'
),

paths as (
    select
        scenarios.scenario,
        own_costs.dataset_version as origin,
        own_costs.activity,
        own_costs.dataset_version,
        own_costs.own_units as amount_units,
        0 as depth
    from own_costs
    cross join scenarios

    union all

    select
        paths.scenario,
        paths.origin,
        paths.activity,
        edges.consumer as dataset_version,
        {{ prorate_units('paths.amount_units', 'edges.rate_part', 'edges.rate_whole') }} as amount_units,
        paths.depth + 1 as depth
    from paths
    inner join edges
        on paths.scenario = edges.scenario and paths.dataset_version = edges.dataset_version
    where paths.depth < 32
)

select * from paths
