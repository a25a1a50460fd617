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
    select * from {{ ref('int_billing_charges_converted') }}
    where {{ in_refresh_window('charge_period_start') }}
),

files as (
    select * from {{ ref('stg_ingest__files') }}
),

closed as (
    select * from {{ ref('stg_periods__closed_periods') }}
),

-- Read from the table again, not from `charges`: a second reader of that CTE would make DuckDB
-- materialise every charge, all columns.
charge_quarters as (
    select distinct charge_quarter as quarter
    from {{ ref('int_billing_charges_converted') }}
    where {{ in_refresh_window('charge_period_start') }}
),

-- The posting period of the window's quarters, from the closed quarters alone (as
-- int_quarter_posting_periods does for every quarter): the mart does not wait for the spend
-- ledger, and builds beside the allocation models.
posting as (
    {{ quarter_posting_periods('charge_quarters', 'closed') }}
),

-- A row posts to its charge quarter unless that quarter was closed before the row's file was
-- ingested: then it is a prior-period adjustment in the first open quarter after it.
charges_posted as (
    select
        charges.*,
        coalesce(
            posting.is_closed and files.ingested_at > posting.closed_at, false
        ) as is_prior_period_adjustment,
        case
            when posting.is_closed and files.ingested_at > posting.closed_at then posting.posting_period
            else charges.charge_quarter
        end as posting_period
    from charges
    left join files on charges._source_sha256 = files.source_sha256
    left join posting on charges.charge_quarter = posting.quarter
),

final as (
    select
        charge_key,
        charge_period_start,
        charge_period_end,
        billing_period_start,
        posting_period,
        provider,
        billing_account_id,
        invoice_id,
        resource_id,
        sku_id,
        charge_category,
        charge_class,
        commitment_discount_status,
        pricing_unit,
        consumed_unit,
        consumed_quantity,
        billed_cost,
        effective_cost,
        billing_currency,
        billed_cost_usd,
        effective_cost_usd,
        cluster,
        tag_activity,
        tag_dataset_version,
        tag_model_generation,
        _source_file,
        _source_sha256,
        _source_row,
        delivery_style,
        is_prior_period_adjustment,
        cluster_source
    from charges_posted
)

select * from final
