with source as (
    select * from {{ source('config', 'owned_hardware') }}
),

renamed as (
    select
        asset_id,
        cluster,
        in_service_date,
        cost_usd,
        useful_life_months,
        salvage_usd,
        gpus,
        gpu_type,
        power_kw,
        pue,
        usd_per_kwh
    from source
)

select * from renamed
