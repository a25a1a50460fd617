with source as (
    select * from {{ source('periods', 'closed_periods') }}
),

renamed as (
    select
        quarter,
        closed_at,
        closed_by,
        {{ quarter_index('quarter') }} as quarter_index
    from source
)

select * from renamed
