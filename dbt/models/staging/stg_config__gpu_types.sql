with source as (
    select * from {{ source('config', 'gpu_types') }}
)

select * from source
