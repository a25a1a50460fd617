-- One row per billing charge in force (rows of superseded snapshots removed) with its cluster,
-- its direct-cost tags and its amounts in the reporting currency (rate of the charge day, or
-- the latest before).
--
-- Cluster precedence (docs/CONTRACTS.md "Cluster mapping"): the first rule of
-- config/cluster_mapping.csv by priority whose pattern matches the whole tag value or resource
-- id; else the cluster tag (policies.cluster_tag_key); else the owned-hardware register
-- (resource id = asset_id); else none. `cluster_source` says which one decided.
{{
    config(
        materialized='incremental',
        incremental_strategy='refresh_window_diff',
        unique_key='charge_key',
        refresh_window_column='charge_period_start',
        on_schema_change='fail'
    )
}}

with charges as (
    -- Rows a newer replacement snapshot supersedes stay in the audit model, not here.
    select * from {{ ref('int_billing_deliveries_resolved') }}
    where not is_superseded and {{ in_refresh_window('charge_period_start') }}
),

fx_rates as (
    select * from {{ ref('stg_config__fx_rates') }}
),

policies as (
    select * from {{ ref('stg_config__policies') }}
),

cluster_rules as (
    select * from {{ ref('stg_config__cluster_mapping') }}
),

owned_assets as (
    select * from {{ ref('stg_config__owned_hardware') }}
),

-- The cluster depends only on a charge's tags and resource id, the FX rate only on its
-- currency and day: both are decided once per distinct key (thousands a year, not 18 million
-- charges) and hash-joined back. The keys are read from the table again, not from `charges`:
-- a second reader of that CTE makes DuckDB materialise every charge, all columns, on disk.
charge_keys as (
    select distinct
        cast(tags as varchar) as tags_text,
        resource_id,
        billing_currency,
        cast(charge_period_start as date) as charge_day
    from {{ ref('int_billing_deliveries_resolved') }}
    where not is_superseded and {{ in_refresh_window('charge_period_start') }}
),

resource_keys as (
    select distinct
        tags_text,
        resource_id
    from charge_keys
),

rule_candidates as (
    select
        resource_keys.tags_text,
        resource_keys.resource_id,
        cluster_rules.priority,
        cluster_rules.cluster,
        cluster_rules.syntax,
        cluster_rules.pattern,
        case cluster_rules.match
            when 'tag'
                then json_extract_string(
                    cast(resource_keys.tags_text as json), '$."' || cluster_rules.tag_key || '"'
                )
            else resource_keys.resource_id
        end as matched_value
    from resource_keys
    cross join cluster_rules
),

first_rule as (
    select
        tags_text,
        resource_id,
        cluster,
        priority
    from rule_candidates
    where
        case
            when syntax = 'glob' then matched_value glob pattern
            else regexp_full_match(matched_value, pattern)
        end
    qualify row_number() over (partition by tags_text, resource_id order by priority) = 1
),

resource_clusters as (
    select
        resource_keys.tags_text,
        resource_keys.resource_id,
        coalesce(
            first_rule.cluster,
            json_extract_string(
                cast(resource_keys.tags_text as json), '$."' || policies.cluster_tag_key || '"'
            ),
            owned_assets.cluster
        ) as cluster,
        case
            when first_rule.cluster is not null then 'rule ' || cast(first_rule.priority as varchar)
            when
                json_extract_string(
                    cast(resource_keys.tags_text as json), '$."' || policies.cluster_tag_key || '"'
                ) is not null
                then 'tag'
            when owned_assets.cluster is not null then 'register'
        end as cluster_source,
        -- Its tag cost_type, unless gpu (dbt/macros/shared_costs.sql): read here, once per
        -- distinct tags, so the models that split shared costs do not parse every row's JSON.
        {{ shared_cost_type('resource_keys.tags_text') }} as shared_cost_type
    from resource_keys
    cross join policies
    left join first_rule
        on
            resource_keys.tags_text = first_rule.tags_text
            and resource_keys.resource_id is not distinct from first_rule.resource_id
    left join owned_assets on resource_keys.resource_id = owned_assets.asset_id
),

with_cluster as (
    select
        charges.*,
        resource_clusters.cluster,
        resource_clusters.cluster_source,
        resource_clusters.shared_cost_type
    from charges
    left join resource_clusters
        on
            cast(charges.tags as varchar) = resource_clusters.tags_text
            and charges.resource_id is not distinct from resource_clusters.resource_id
),

-- An as-of join on the charges themselves would sort every charge, all columns.
charge_days as (
    select distinct
        billing_currency,
        charge_day
    from charge_keys
),

day_rates as (
    select
        charge_days.billing_currency,
        charge_days.charge_day,
        case
            when charge_days.billing_currency = 'USD' then cast(1 as decimal(38, 10))
            else fx_rates.usd_per_unit
        end as usd_per_unit
    from charge_days
    asof left join fx_rates
        on
            charge_days.billing_currency = fx_rates.currency
            and charge_days.charge_day >= fx_rates.rate_date
),

converted as (
    select
        with_cluster.*,
        day_rates.usd_per_unit
    from with_cluster
    left join day_rates
        on
            with_cluster.billing_currency = day_rates.billing_currency
            and cast(with_cluster.charge_period_start as date)
            is not distinct from day_rates.charge_day
),

final as (
    select
        *,
        cast(billed_cost * usd_per_unit as decimal(38, 10)) as billed_cost_usd,
        cast(effective_cost * usd_per_unit as decimal(38, 10)) as effective_cost_usd,
        {{ quarter_label('charge_period_start') }} as charge_quarter
    from converted
)

select * from final
