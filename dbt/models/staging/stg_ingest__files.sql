with source as (
    select * from {{ source('raw', 'ingest_log') }}
),

renamed as (
    select
        source_sha256,
        source_file,
        kind,
        parser,
        status,
        rows_read,
        rows_loaded,
        rows_quarantined,
        rows_skipped,
        ingested_at
    from source
)

select * from renamed
