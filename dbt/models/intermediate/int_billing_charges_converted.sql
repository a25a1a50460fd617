-- One row per billing charge in force (rows of superseded snapshots removed) with its cluster
-- (from the configured tag key), its direct-cost tags and its amounts in the reporting currency
-- (rate of the charge day, or the latest before).
with charges as (
    -- Rows a newer replacement snapshot supersedes stay in the audit model, not here.
    select * from {{ ref('int_billing_deliveries_resolved') }}
    where not is_superseded
),

fx_rates as (
    select * from {{ ref('stg_config__fx_rates') }}
),

policies as (
    select * from {{ ref('stg_config__policies') }}
),

with_cluster as (
    select
        charges.*,
        json_extract_string(charges.tags, '$."' || policies.cluster_tag_key || '"') as cluster
    from charges
    cross join policies
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
