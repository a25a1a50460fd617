with generations as (
    select * from {{ ref('stg_config__model_generations') }}
),

policies as (
    select * from {{ ref('stg_config__policies') }}
),

final as (
    select
        generations.model_generation,
        generations.display_name,
        generations.parameters,
        generations.efficiency_multiplier,
        cast(coalesce(generations.target_share, policies.target_share) as decimal(18, 10)) as target_share,
        -- Break-even share of compute that data work may take for a token-efficiency multiplier m.
        case
            when generations.efficiency_multiplier > 0
                then cast(1 - 1 / cast(generations.efficiency_multiplier as double) as decimal(18, 10))
        end as break_even_share
    from generations
    cross join policies
)

select * from final
