-- One row: the month amortization is computed up to (straight_line recognises one charge per
-- elapsed month of useful life, up to and including this month). It is the latest month the
-- warehouse has any fact for (spend incurred or dataset consumed), so a rebuild on the same
-- data always gives the same figures.
-- A view: small and cheap to compute, so its readers compute it; as a table it was one more
-- node, with dbt's overhead, on every night's chain (the night skips views).
{{ config(materialized='view') }}

with ledger as (
    select * from {{ ref('int_spend_ledger') }}
),

consumption as (
    select * from {{ ref('stg_config__dataset_consumption') }}
),

dates as (
    select cast(incurred_at as date) as fact_date from ledger
    union all
    select consumed_on as fact_date from consumption
),

final as (
    select cast(date_trunc('month', coalesce(max(fact_date), date '1970-01-01')) as date) as as_of_month
    from dates
)

select * from final
