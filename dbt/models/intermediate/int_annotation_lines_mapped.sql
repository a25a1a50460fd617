-- One row per annotation invoice line of the current version of its invoice, mapped to the
-- dataset it produces through the vendor's project code (config/vendor_projects.csv) and
-- converted to the reporting currency at the invoice date. A line whose project code maps to
-- nothing keeps its cost under activity `untagged` (dataset null): never dropped.
-- Quantities of credits, discounts and credit-note lines count negative, so unit costs net
-- out; a credit note's lines belong to the service period of the invoice they correct.
with lines as (
    select * from {{ ref('stg_vendor__invoice_lines') }}
),

versions as (
    select * from {{ ref('int_annotation_invoice_versions') }}
),

projects as (
    select * from {{ ref('stg_config__vendor_projects') }}
),

fx_rates as (
    select * from {{ ref('stg_config__fx_rates') }}
),

current_lines as (
    select lines.*
    from lines
    inner join versions
        on
            lines._source_sha256 = versions._source_sha256
            and lines.vendor = versions.vendor
            and lines.invoice_id = versions.invoice_id
    where versions.is_current
),

periods as (
    select
        current_lines.* replace (
            case
                when current_lines.document_type = 'credit_note' and referenced.invoice_id is not null
                    then referenced.service_period_start
                else current_lines.service_period_start
            end as service_period_start,
            case
                when current_lines.line_kind in ('discount', 'credit') or current_lines.document_type = 'credit_note'
                    then -abs(current_lines.quantity)
                else current_lines.quantity
            end as quantity,
            coalesce(current_lines.unit_type, current_lines.line_kind) as unit_type
        )
    from current_lines
    left join versions as referenced
        on
            current_lines.vendor = referenced.vendor
            and current_lines.references_invoice = referenced.invoice_id
            and referenced.is_current
),

mapped as (
    select
        periods.*,
        projects.dataset_version,
        case
            when projects.project_code is null then 'untagged'
            else coalesce(projects.activity, 'data.human')
        end as activity,
        projects.project_code is null as is_unmapped
    from periods
    left join projects
        on periods.vendor = lower(projects.vendor) and periods.project_code = projects.project_code
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
