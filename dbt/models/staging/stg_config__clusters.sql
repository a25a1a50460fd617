with source as (
    select * from {{ source('config', 'clusters') }}
)

select * from source
