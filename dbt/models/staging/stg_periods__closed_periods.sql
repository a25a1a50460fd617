with source as (
    select * from {{ source('periods', 'closed_periods') }}
),

renamed as (
    select
        quarter,
        closed_at,
        closed_by,
        cast(left(quarter, 4) as integer) * 4 + cast(right(quarter, 1) as integer) - 1 as quarter_index
    from source
)

select * from renamed
