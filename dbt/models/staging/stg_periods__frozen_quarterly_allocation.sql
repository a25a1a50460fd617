with source as (
    select * from {{ source('periods', 'frozen_quarterly_allocation') }}
),

renamed as (
    select
        quarter,
        activity,
        model_generation,
        cast(cost_usd as decimal(38, 10)) as cost_usd,
        posting_period,
        is_prior_period_adjustment
    from source
)

select * from renamed
