-- One row per dataset x quarter under each dataset's configured policy: opening balance +
-- additions (capitalised spend, incl. charges inherited from parent datasets) - amortization
-- = closing balance. The other policy views are in fct_dataset_balance_by_policy.
with balances as (
    select * from {{ ref('fct_dataset_balance_by_policy') }}
    where policy = 'configured'
),

final as (
    select
        dataset_version,
        quarter,
        opening_usd,
        additions_usd,
        amortization_usd,
        closing_usd
    from balances
)

select * from final
