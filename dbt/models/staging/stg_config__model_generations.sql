with source as (
    select * from {{ source('config', 'model_generations') }}
)

select * from source
