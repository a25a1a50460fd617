with source as (
    select * from {{ source('config', 'cluster_mapping') }}
),

renamed as (
    select
        priority,
        match,
        tag_key,
        pattern,
        coalesce(syntax, 'regex') as syntax,
        cluster
    from source
)

select * from renamed
