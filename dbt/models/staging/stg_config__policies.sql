with source as (
    select * from {{ source('config', 'policies') }}
)

select * from source
