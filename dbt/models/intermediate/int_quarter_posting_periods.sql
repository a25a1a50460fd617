-- One row per charge quarter the books know of (spend, or a closed quarter's snapshot): the
-- quarter its cost posts to now. An open quarter posts to itself; a closed quarter's further
-- cost posts to the first quarter after it that is not closed (a prior-period adjustment).
-- A view: small and cheap to compute, so its readers compute it; as a table it was one more
-- node, with dbt's overhead, on every night's chain (the night skips views).
{{ config(materialized='view') }}

with ledger as (
    select * from {{ ref('int_spend_ledger') }}
),

closed as (
    select * from {{ ref('stg_periods__closed_periods') }}
),

frozen as (
    select * from {{ ref('stg_periods__frozen_quarterly_allocation') }}
),

charge_quarters as (
    select distinct quarter from ledger
    union
    select quarter from frozen
    union
    select quarter from closed
),

final as (
    {{ quarter_posting_periods('charge_quarters', 'closed') }}
)

select * from final
