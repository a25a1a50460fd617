with source as (
    select * from {{ source('config', 'dataset_consumption') }}
)

select * from source
