-- One row per delivered FOCUS row (the audit trail of every snapshot), marking the rows that a
-- newer replacement snapshot of their billing period supersedes.
--
-- A delivery scope is (provider, billing account, billing period). A file whose rows say
-- `x_DeliveryStyle = replacement` is a full snapshot of each scope it covers: it supersedes
-- every row of that scope delivered before it, whatever their style (a full snapshot contains
-- them). "Before" is by export time (`x_ExportedAt`, else ingest time), ties by file name.
-- Delta and ledger rows are never superseded by other delta or ledger rows: they add.
{{
    config(
        materialized='incremental',
        incremental_strategy='refresh_window_diff',
        unique_key='charge_key',
        refresh_window_column='charge_period_start',
        on_schema_change='fail'
    )
}}

with charges as (
    -- Deliveries and snapshots are decided over every file; only the window is written.
    select * from {{ ref('stg_focus__charges') }}
    where {{ in_refresh_window('charge_period_start') }}
),

deliveries as (
    select * from {{ ref('int_billing_deliveries') }}
),

latest_snapshots as (
    select * from deliveries
    where is_snapshot
    qualify row_number() over (
        partition by provider, billing_account_id, billing_period_start
        order by exported_at desc, _source_file desc
    ) = 1
),

resolved as (
    select
        charges.*,
        latest._source_file as superseded_by_file,
        latest._source_sha256 is not null as is_superseded
    from charges
    inner join deliveries
        on
            charges._source_sha256 = deliveries._source_sha256
            and charges.provider is not distinct from deliveries.provider
            and charges.billing_account_id is not distinct from deliveries.billing_account_id
            and charges.billing_period_start is not distinct from deliveries.billing_period_start
    left join latest_snapshots as latest
        on
            charges.provider is not distinct from latest.provider
            and charges.billing_account_id is not distinct from latest.billing_account_id
            and charges.billing_period_start is not distinct from latest.billing_period_start
            and charges._source_sha256 != latest._source_sha256
            and (
                deliveries.exported_at < latest.exported_at
                or (
                    deliveries.exported_at = latest.exported_at
                    and deliveries._source_file < latest._source_file
                )
            )
)

select * from resolved
