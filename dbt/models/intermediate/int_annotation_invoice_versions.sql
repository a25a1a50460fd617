-- One row per vendor x invoice id x source file that delivered it. A vendor re-sends an
-- invoice as a declared revision: the highest revision is current (ties, which ingest
-- rejects, go to the first delivered); earlier versions stay here for audit and cost nothing.
with lines as (
    select * from {{ ref('stg_vendor__invoice_lines') }}
),

versions as (
    select
        vendor,
        invoice_id,
        _source_sha256,
        _source_file,
        max(revision) as revision,
        max(document_type) as document_type,
        max(references_invoice) as references_invoice,
        min(service_period_start) as service_period_start,
        min(_ingested_at) as ingested_at,
        count(*) as line_count,
        sum(amount) as amount
    from lines
    group by vendor, invoice_id, _source_sha256, _source_file
),

final as (
    select
        *,
        row_number() over (
            partition by vendor, invoice_id
            order by revision desc, ingested_at asc, _source_sha256 asc
        ) = 1 as is_current
    from versions
)

select * from final
