-- One row per policy view x model generation: fct_data_share's figures with the datasets
-- amortized under `configured` (each dataset's own policy: equal to fct_data_share) or with
-- every dataset on one policy, side by side. Training cost does not depend on the policy;
-- data cost = amortization charged to the generation under the view + data work tagged to it
-- without a dataset.
with ledger as (
    select * from {{ ref('int_spend_ledger') }}
),

charges as (
    select * from {{ ref('int_dataset_amortization_by_activity') }}
    where consumer_kind = 'model_generation'
),

generations as (
    select * from {{ ref('dim_model_generation') }}
),

scenarios as (
    {{ amortization_scenarios_relation() }}
),

incurred as (
    select
        model_generation,
        sum(case when activity_group = 'data' then cost_usd else 0 end) as data_usd,
        sum(case when activity_group = 'training' then cost_usd else 0 end) as training_usd
    from ledger
    where
        model_generation is not null
        and not (activity_group = 'data' and dataset_version is not null)
    group by model_generation
),

amortized as (
    select
        scenario,
        consumer as model_generation,
        {{ from_units('sum(amortization_units)') }} as amortized_usd
    from charges
    group by scenario, consumer
),

all_generations as (
    select model_generation from generations
    union
    select model_generation from incurred
    union
    select model_generation from amortized
),

combined as (
    select
        scenarios.scenario,
        all_generations.model_generation,
        coalesce(amortized.amortized_usd, 0) as amortized_usd,
        coalesce(amortized.amortized_usd, 0) + coalesce(incurred.data_usd, 0) as data_usd,
        coalesce(incurred.training_usd, 0) as training_usd
    from all_generations
    cross join scenarios
    left join incurred on all_generations.model_generation = incurred.model_generation
    left join amortized
        on
            scenarios.scenario = amortized.scenario
            and all_generations.model_generation = amortized.model_generation
),

final as (
    select
        combined.scenario as policy,
        combined.model_generation,
        cast(combined.data_usd as decimal(38, 10)) as data_cost_usd,
        cast(combined.amortized_usd as decimal(38, 10)) as amortized_data_cost_usd,
        cast(combined.training_usd as decimal(38, 10)) as training_cost_usd,
        {{ safe_ratio('combined.data_usd', 'combined.data_usd + combined.training_usd') }} as data_share,
        generations.target_share,
        generations.break_even_share
    from combined
    left join generations on combined.model_generation = generations.model_generation
)

select * from final
