-- One row per FOCUS file x delivery scope (provider, billing account, billing period) it
-- covers: when the file was exported and whether it is a replacement snapshot of the scope.
--
-- Raw files are immutable and named by their content hash, so a file's rows here never change:
-- an incremental build only adds the files ingested since the last one (and drops any whose
-- raw file is gone), instead of re-reading every billing row ever delivered each night.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_files_no_longer_ingested('_source_sha256', 'focus') }}"
    )
}}

-- depends_on: {{ ref('stg_ingest__files') }}

with charges as (
    select * from {{ ref('stg_focus__charges') }}
    {% if is_incremental() -%}
        where _source_sha256 in ({{ focus_files_not_in(this) }})
    {%- endif %}
),

deliveries as (
    select
        provider,
        billing_account_id,
        billing_period_start,
        _source_sha256,
        _source_file,
        max(exported_at) as exported_at,
        bool_or(delivery_style = 'replacement') as is_snapshot
    from charges
    group by provider, billing_account_id, billing_period_start, _source_sha256, _source_file
)

select * from deliveries
