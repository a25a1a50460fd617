-- One row per vendor x invoice id x source file that delivered it, with the decision over
-- every delivery in the warehouse (never over arrival order, so files ingested in any order,
-- on one night or several, give the same result):
--   current     the version that counts;
--   superseded  a lower revision than the highest declared one (kept for audit, costs nothing);
--   duplicate   the same invoice id and revision delivered again after the one kept (the one
--               kept is the earliest issued; an identical copy is a duplicate too);
--   rejected    `conflicting_duplicate`: copies of the highest revision, issued the same day,
--               that differ: none counts until the vendor sends a higher revision; or
--               `unknown_referenced_invoice`: a credit note whose invoice is not (yet) current.
--               A credit note whose invoice arrives later becomes current on that build.
-- Invoices that fail a check inside one file (total mismatch) never reach here: ingest
-- quarantines them whole (quarantine/rows).
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
        min(invoice_date) as invoice_date,
        min(service_period_start) as service_period_start,
        min(_ingested_at) as ingested_at,
        count(*) as line_count,
        sum(amount) as amount,
        string_agg(distinct currency, ', ' order by currency) as currency,
        -- What the invoice says, independent of file name and layout: two deliveries with the
        -- same fingerprint are the same invoice.
        md5(string_agg(
            concat_ws(
                '|', line_id, project_code, unit_type, line_kind, document_type,
                cast(quantity as varchar), cast(unit_price as varchar), cast(amount as varchar),
                currency, references_invoice, cast(invoice_total as varchar)
            ),
            ';' order by line_id, _source_row
        )) as content_fingerprint
    from lines
    group by vendor, invoice_id, _source_sha256, _source_file
),

ranked as (
    select
        *,
        max(revision) over (partition by vendor, invoice_id) as highest_revision,
        row_number() over (
            partition by vendor, invoice_id, revision
            order by invoice_date asc nulls last, _source_file asc, _source_sha256 asc
        ) as copy_rank,
        -- Copies of one revision issued on its first issue day: if they differ, no one can
        -- tell from the files which is the invoice and which the duplicate.
        count(distinct content_fingerprint) over (
            partition by vendor, invoice_id, revision, coalesce(invoice_date, date '9999-12-31')
        ) as fingerprints_same_day,
        min(coalesce(invoice_date, date '9999-12-31')) over (
            partition by vendor, invoice_id, revision
        ) as first_issued
    from versions
),

kept as (
    select
        *,
        first_value(_source_file) over (
            partition by vendor, invoice_id, revision order by copy_rank
        ) as first_copy_file,
        first_value(content_fingerprint) over (
            partition by vendor, invoice_id, revision order by copy_rank
        ) as first_copy_fingerprint,
        coalesce(invoice_date, date '9999-12-31') = first_issued
        and fingerprints_same_day > 1 as is_conflicting
    from ranked
),

identity as (
    select
        kept.*,
        case
            when kept.revision < kept.highest_revision then 'superseded'
            when kept.is_conflicting then 'rejected'
            when kept.copy_rank > 1 then 'duplicate'
            else 'current'
        end as identity_status
    from kept
),

references_made as (
    select distinct
        vendor,
        invoice_id,
        _source_sha256,
        references_invoice
    from lines
    where document_type = 'credit_note' and references_invoice is not null
),

unresolved_references as (
    select
        references_made.vendor,
        references_made.invoice_id,
        references_made._source_sha256,
        string_agg(references_made.references_invoice, ', ' order by references_made.references_invoice) as missing,
        string_agg(
            references_made.references_invoice || ' ('
            || case
                when referenced.invoice_id is null then 'not delivered'
                else 'not in force: ' || referenced.states
            end || ')',
            ', ' order by references_made.references_invoice
        ) as missing_detail
    from references_made
    left join (
        select
            vendor,
            invoice_id,
            string_agg(distinct identity_status, '/' order by identity_status) as states,
            bool_or(identity_status = 'current' and document_type = 'invoice') as in_force
        from identity
        group by vendor, invoice_id
    ) as referenced
        on references_made.vendor = referenced.vendor and references_made.references_invoice = referenced.invoice_id
    where not coalesce(referenced.in_force, false)
    group by references_made.vendor, references_made.invoice_id, references_made._source_sha256
),

current_file as (
    select
        vendor,
        invoice_id,
        _source_file as current_file
    from identity
    where identity_status = 'current'
),

decided as (
    select
        identity.*,
        current_file.current_file,
        case
            when identity.identity_status = 'current' and unresolved.missing is not null then 'rejected'
            else identity.identity_status
        end as status,
        case
            when identity.identity_status = 'current' and unresolved.missing is not null
                then 'unknown_referenced_invoice'
            when identity.identity_status = 'rejected' then 'conflicting_duplicate'
            when identity.identity_status = 'duplicate' then 'duplicate_invoice'
        end as reason_code,
        case
            when identity.identity_status = 'current' and unresolved.missing is not null
                then
                    'credit note ' || identity.invoice_id || ' of ' || identity.vendor
                    || ' references invoice ' || unresolved.missing_detail
                    || ', so it is not counted; it counts once that invoice is delivered'
            when identity.identity_status = 'rejected'
                then
                    'invoice ' || identity.invoice_id || ' of ' || identity.vendor || ' revision '
                    || cast(identity.revision as varchar) || ' was delivered in '
                    || cast(identity.fingerprints_same_day as varchar)
                    || ' different versions issued the same day; none is counted until the vendor '
                    || 'sends a corrected invoice as a higher declared revision'
            when identity.identity_status = 'duplicate'
                then
                    'invoice ' || identity.invoice_id || ' of ' || identity.vendor || ' revision '
                    || cast(identity.revision as varchar) || ' was already delivered in '
                    || identity.first_copy_file
                    || case
                        when identity.content_fingerprint = identity.first_copy_fingerprint
                            then ' (an identical copy)'
                        else ' (issued earlier, with different lines)'
                    end
                    || '; this file does not declare a higher revision, so it is rejected'
        end as message
    from identity
    left join unresolved_references as unresolved
        on
            identity.vendor = unresolved.vendor
            and identity.invoice_id = unresolved.invoice_id
            and identity._source_sha256 = unresolved._source_sha256
    left join current_file
        on identity.vendor = current_file.vendor and identity.invoice_id = current_file.invoice_id
),

final as (
    select
        vendor,
        invoice_id,
        _source_sha256,
        _source_file,
        revision,
        document_type,
        references_invoice,
        invoice_date,
        service_period_start,
        ingested_at,
        line_count,
        amount,
        currency,
        content_fingerprint,
        first_copy_fingerprint,
        status,
        reason_code,
        message,
        case when status = 'superseded' then current_file end as superseded_by_file,
        status = 'duplicate' and content_fingerprint = first_copy_fingerprint as is_identical_copy,
        status = 'current' as is_current
    from decided
)

select * from final
