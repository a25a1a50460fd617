-- One row per annotation invoice delivery the warehouse does not count, with the reason:
-- duplicate_invoice, conflicting_duplicate, unknown_referenced_invoice (see
-- int_annotation_invoice_versions). Decided over every delivery, whatever the order they
-- arrived in. Superseded revisions are not rejections (they are in the versions model);
-- invoices quarantined whole at ingest (lines not summing to the stated total) are in
-- quarantine/rows with their reason.
with versions as (
    select * from {{ ref('int_annotation_invoice_versions') }}
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
)

select * from final
