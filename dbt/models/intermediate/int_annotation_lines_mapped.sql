-- One row per annotation invoice line, mapped to the dataset it produces through the vendor's
-- project code (config/vendor_projects.csv) and converted to the reporting currency at the
-- invoice date. Unmapped lines keep dataset_version null and are flagged, never dropped.
with lines as (
    select * from {{ ref('stg_vendor__invoice_lines') }}
),

projects as (
    select * from {{ ref('stg_config__vendor_projects') }}
),

fx_rates as (
    select * from {{ ref('stg_config__fx_rates') }}
),

mapped as (
    select
        lines.*,
        projects.dataset_version,
        coalesce(projects.activity, 'data.human') as activity,
        projects.project_code is null as is_unmapped
    from lines
    left join projects
        on lines.vendor = lower(projects.vendor) and lines.project_code = projects.project_code
),

converted as (
    select
        mapped.*,
        case when mapped.currency = 'USD' then cast(1 as decimal(38, 10)) else fx_rates.usd_per_unit end as usd_per_unit
    from mapped
    asof left join fx_rates
        on mapped.currency = fx_rates.currency and mapped.invoice_date >= fx_rates.rate_date
),

final as (
    select
        *,
        cast(amount * usd_per_unit as decimal(38, 10)) as cost_usd,
        {{ quarter_label('service_period_start') }} as quarter
    from converted
)

select * from final
