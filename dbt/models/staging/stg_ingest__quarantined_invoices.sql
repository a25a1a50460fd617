-- One row per vendor invoice that ingest quarantined whole because of what its own file
-- says (lines not summing to the stated total, lines disagreeing on revision or document
-- type, a credit note naming no invoice). The invoice and vendor are read from the message
-- ingest wrote ("invoice <id> of <vendor> ..." / "credit note <id> of <vendor> ...").
with source as (
    select * from {{ source('raw', 'quarantined_row') }}
),

invoice_rows as (
    select
        *,
        regexp_extract(message, '^(?:invoice|credit note) (\S+) of ([^\s:]+)', 1) as invoice_id,
        regexp_extract(message, '^(?:invoice|credit note) (\S+) of ([^\s:]+)', 2) as vendor
    from source
    where
        kind = 'annotation_invoice'
        and reason_code in ('invoice_total_mismatch', 'inconsistent_invoice', 'credit_note_without_reference')
),

final as (
    select
        lower(vendor) as vendor,
        invoice_id,
        _source_file,
        _source_sha256,
        reason_code,
        min(message) as message,
        count(*) as line_count
    from invoice_rows
    group by lower(vendor), invoice_id, _source_file, _source_sha256, reason_code
)

select * from final
