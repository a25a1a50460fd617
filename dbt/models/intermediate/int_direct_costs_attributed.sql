-- One row per billing charge that is not pooled (no cluster tag): a direct cost.
-- Its activity is its `activity` tag if that is in the taxonomy; a row tagged only with a
-- dataset is taken as `data.acquisition` (storage and licensing of a corpus); a row with no
-- tags at all is `overhead`; a row whose activity tag is not in the taxonomy is `untagged`.
with charges as (
    select * from {{ ref('int_billing_charges_converted') }}
    where cluster is null
),

activities as (
    select * from {{ ref('activities') }}
    where taggable
),

final as (
    select
        charges.charge_key,
        charges.charge_period_start as incurred_at,
        case
            when charges.tag_activity is not null and activities.activity is not null then charges.tag_activity
            when charges.tag_activity is not null then 'untagged'
            when charges.tag_dataset_version is not null then 'data.acquisition'
            else 'overhead'
        end as activity,
        charges.tag_model_generation as model_generation,
        charges.tag_dataset_version as dataset_version,
        charges.effective_cost_usd as cost_usd
    from charges
    left join activities on charges.tag_activity = activities.activity
)

select * from final
