with source as (
    select * from {{ source('config', 'vendor_projects') }}
)

select * from source
