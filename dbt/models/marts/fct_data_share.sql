-- One row per model generation: data versus training cost, the data share, and the two shares
-- it is judged against (the lab's target and the break-even share 1 - 1/m).
with generations as (
    select * from {{ ref('dim_model_generation') }}
),

costs as (
    select * from {{ ref('fct_model_generation_cost') }}
),

split as (
    select
        model_generation,
        sum(case when activity_group = 'data' then cost_usd else 0 end) as data_cost_usd,
        sum(case when activity_group = 'training' then cost_usd else 0 end) as training_cost_usd
    from costs
    group by model_generation
),

all_generations as (
    select model_generation from generations
    union
    select model_generation from split
),

final as (
    select
        all_generations.model_generation,
        cast(coalesce(split.data_cost_usd, 0) as decimal(38, 10)) as data_cost_usd,
        cast(coalesce(split.training_cost_usd, 0) as decimal(38, 10)) as training_cost_usd,
        {{ safe_ratio('coalesce(split.data_cost_usd, 0)', 'coalesce(split.data_cost_usd, 0) + coalesce(split.training_cost_usd, 0)') }} as data_share,
        generations.target_share,
        generations.efficiency_multiplier,
        generations.break_even_share
    from all_generations
    left join generations on all_generations.model_generation = generations.model_generation
    left join split on all_generations.model_generation = split.model_generation
)

select * from final
