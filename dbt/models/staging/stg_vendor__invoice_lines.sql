with source as (
    select * from {{ source('raw', 'annotation_invoice') }}
),

renamed as (
    select
        _source_sha256 || ':' || cast(_source_row as varchar) as invoice_line_key,
        lower(vendor) as vendor,
        invoice_id,
        invoice_date,
        line_id,
        project_code,
        description,
        lower(unit_type) as unit_type,
        quantity,
        unit_price,
        coalesce(platform_fee, 0) as platform_fee,
        coalesce(credit, 0) as credit,
        amount,
        upper(coalesce(currency, 'USD')) as currency,
        coalesce(service_period_start, invoice_date) as service_period_start,
        coalesce(service_period_end, service_period_start, invoice_date) as service_period_end,
        coalesce(line_kind, 'work') as line_kind,
        coalesce(tax, 0) as tax,
        coalesce(discount, 0) as discount,
        invoice_total,
        coalesce(document_type, 'invoice') as document_type,
        references_invoice,
        coalesce(revision, 0) as revision,
        _source_file,
        _source_sha256,
        _source_row,
        _ingested_at
    from source
)

select * from renamed
