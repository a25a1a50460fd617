with source as (
    select * from {{ source('config', 'datasets') }}
)

select * from source
