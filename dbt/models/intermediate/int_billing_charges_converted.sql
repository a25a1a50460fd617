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
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_refresh_window('charge_period_start') }}"
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

rule_candidates as (
    select
        charges.charge_key,
        cluster_rules.priority,
        cluster_rules.cluster,
        cluster_rules.syntax,
        cluster_rules.pattern,
        case cluster_rules.match
            when 'tag' then json_extract_string(charges.tags, '$."' || cluster_rules.tag_key || '"')
            else charges.resource_id
        end as matched_value
    from charges
    cross join cluster_rules
),

first_rule as (
    select
        charge_key,
        cluster,
        priority
    from rule_candidates
    where
        case
            when syntax = 'glob' then matched_value glob pattern
            else regexp_full_match(matched_value, pattern)
        end
    qualify row_number() over (partition by charge_key order by priority) = 1
),

with_cluster as (
    select
        charges.*,
        coalesce(
            first_rule.cluster,
            json_extract_string(charges.tags, '$."' || policies.cluster_tag_key || '"'),
            owned_assets.cluster
        ) as cluster,
        case
            when first_rule.cluster is not null then 'rule ' || cast(first_rule.priority as varchar)
            when
                json_extract_string(charges.tags, '$."' || policies.cluster_tag_key || '"') is not null
                then 'tag'
            when owned_assets.cluster is not null then 'register'
        end as cluster_source
    from charges
    cross join policies
    left join first_rule on charges.charge_key = first_rule.charge_key
    left join owned_assets on charges.resource_id = owned_assets.asset_id
),

converted as (
    select
        with_cluster.*,
        case
            when with_cluster.billing_currency = 'USD' then cast(1 as decimal(38, 10))
            else fx_rates.usd_per_unit
        end as usd_per_unit
    from with_cluster
    asof left join fx_rates
        on
            with_cluster.billing_currency = fx_rates.currency
            and cast(with_cluster.charge_period_start as date) >= fx_rates.rate_date
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
