with source as (
    select * from {{ source('config', 'fx_rates') }}
)

select * from source
