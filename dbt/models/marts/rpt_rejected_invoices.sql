-- One row per annotation invoice delivery the warehouse does not count, with the reason:
-- duplicate_invoice, conflicting_duplicate, unknown_referenced_invoice (see
-- int_annotation_invoice_versions), decided over every delivery, whatever the order they
-- arrived in; and the invoices ingest quarantined whole because of their own file
-- (invoice_total_mismatch, inconsistent_invoice, credit_note_without_reference), whose lines
-- are in quarantine/rows. Superseded revisions are not rejections (see the versions model).
with versions as (
    select * from {{ ref('int_annotation_invoice_versions') }}
),

quarantined as (
    select * from {{ ref('stg_ingest__quarantined_invoices') }}
),

final as (
    select
        vendor,
        invoice_id,
        revision,
        document_type,
        references_invoice,
        invoice_date,
        _source_file as source_file,
        _source_sha256 as source_sha256,
        reason_code,
        message,
        line_count,
        amount,
        currency
    from versions
    where status in ('duplicate', 'rejected')

    union all

    select
        vendor,
        invoice_id,
        cast(null as bigint) as revision,
        cast(null as varchar) as document_type,
        cast(null as varchar) as references_invoice,
        cast(null as date) as invoice_date,
        _source_file as source_file,
        _source_sha256 as source_sha256,
        reason_code,
        message,
        line_count,
        cast(null as decimal(38, 10)) as amount,
        cast(null as varchar) as currency
    from quarantined
)

select * from final
