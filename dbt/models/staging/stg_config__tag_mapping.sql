with source as (
    select * from {{ source('config', 'tag_mapping') }}
)

select * from source
