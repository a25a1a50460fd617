-- One row per posting period x charge period x activity x model generation with cost that
-- arrived after its charge quarter was closed: it lands in the books of the first open quarter
-- (posting_period) and keeps the quarter it was incurred in (charge_period).
with allocation as (
    select * from {{ ref('fct_quarterly_allocation') }}
    where is_prior_period_adjustment
),

final as (
    select
        posting_period,
        quarter as charge_period,
        activity,
        model_generation,
        cost_usd as adjustment_usd
    from allocation
)

select * from final
