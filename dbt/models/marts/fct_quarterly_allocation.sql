with ledger as (
    select * from {{ ref('int_spend_ledger') }}
),

final as (
    select
        quarter,
        activity,
        coalesce(model_generation, 'unassigned') as model_generation,
        sum(cost_usd) as cost_usd
    from ledger
    group by quarter, activity, coalesce(model_generation, 'unassigned')
)

select * from final
