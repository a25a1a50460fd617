-- A table, not a view like the other staging models, and incremental: the ingest log is one
-- small Parquet file per ingested file (1,300 a year at the `large` scale point), and about ten
-- statements of a build read it (the per-file models, their pre-hooks, the marts, the
-- reconciliation). A view would open every file at each read; a table rebuilt every build
-- would read every file a night, a cost that grows with each file ever ingested. So a build
-- reads only the log files it has not read: new ones, or rewritten ones (a file's path,
-- modification time and size are kept with its row). The pre-hook drops the rows of log
-- files that are gone or rewritten (ingest_log_files_unread, in macros/incremental.sql).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_ingest_log_rows_not_current() }}"
    )
}}

-- depends_on: {{ source('raw', 'ingest_log') }}

with log_files as (
    select
        filename as _log_file,
        last_modified as _log_modified_at,
        size as _log_bytes
    from read_blob({{ ingest_log_glob() }})
),

source as (
    {% if is_incremental() -%}
        -- _schema.parquet (no rows) gives the columns when no log file is unread.
        select * from read_parquet(
            [{{ ingest_log_glob('_schema.parquet') }}{{ ingest_log_files_unread(this) }}],
            union_by_name = true,
            filename = true
        )
    {%- else -%}
        select * from read_parquet({{ ingest_log_glob() }}, union_by_name = true, filename = true)
    {%- endif %}
),

renamed as (
    select
        source.source_sha256,
        source.source_file,
        source.kind,
        source.parser,
        source.status,
        source.rows_read,
        source.rows_loaded,
        source.rows_quarantined,
        source.rows_skipped,
        source.ingested_at,
        log_files._log_file,
        log_files._log_modified_at,
        log_files._log_bytes
    from source
    inner join log_files on source.filename = log_files._log_file
)

select * from renamed
