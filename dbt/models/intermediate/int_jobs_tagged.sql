-- One row per Slurm job with its activity, model generation and dataset.
-- Precedence: `key=value` pairs in the job's Comment override; then the first rule of
-- config/tag_mapping.csv (lowest priority number) whose regex fully matches its field; else the
-- job is `untagged`. A tag naming an activity outside the taxonomy is not trusted: the job is
-- `untagged` and `tag_problem` says why.
-- Accounting policies then decide two kinds of job, whatever activity they were tagged with:
-- a comment key `kind=rollout` (RL rollout generation) goes to `training.rl` or
-- `data.generation` (policy `rl_rollouts`); `kind=ablation` (a data ablation run) goes to
-- `data.selection` or `evaluation` (policy `ablations`). `tagged_activity` keeps the tag's
-- activity and `activity_policy` names the policy that overrode it.
-- Kubernetes pods (OpenCost allocations) join the same stream, one row per pod x hour, tagged
-- by their labels, annotations and the k8s_* rules in int_k8s_pods_tagged; `workload` says
-- which kind a row is (`slurm_job` or `k8s_pod`). Slurm rules never apply to pods.
--
-- Incremental: a night re-tags only the jobs the refresh window can change (every record of a
-- job a new sacct file mentions lies in the window, llmledger.incremental), from all of their
-- records, and replaces the pod rows (int_k8s_pods_tagged is rebuilt each night anyway); the
-- rest of a year of jobs is kept as tagged.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_jobs_in_refresh_window() }}"
    )
}}

with jobs as (
    select * from {{ ref('stg_slurm__jobs') }}
    where
        is_latest_record
        {% if is_incremental() -%}
            and {{ slurm_job_ids_around_refresh_window() }}
            and {{ slurm_job_ref('cluster', 'job_id') }} in ({{ slurm_jobs_in_refresh_window() }})
        {%- endif %}
),

rules as (
    select * from {{ ref('stg_config__tag_mapping') }}
    where not starts_with(field, 'k8s_')
),

k8s_pods as (
    select * from {{ ref('int_k8s_pods_tagged') }}
),

activities as (
    select * from {{ ref('activities') }}
),

policies as (
    select * from {{ ref('stg_config__policies') }}
),

comment_pairs as (
    select
        job_key,
        lower(trim(split_part(pair, '=', 1))) as tag_key,
        trim(split_part(pair, '=', 2)) as tag_value
    from (
        select
            job_key,
            unnest(string_split(coalesce(comment, ''), ';')) as pair
        from jobs
    ) as comment_parts
    where pair like '%=%'
),

comment_tags as (
    select
        job_key,
        max(case when tag_key = 'activity' then tag_value end) as activity,
        max(case when tag_key in ('model_generation', 'model', 'generation') then tag_value end) as model_generation,
        max(case when tag_key in ('dataset_version', 'dataset') then tag_value end) as dataset_version,
        max(case when tag_key in ('kind', 'job_kind') then lower(tag_value) end) as job_kind
    from comment_pairs
    group by job_key
),

rule_matches as (
    select
        jobs.job_key,
        rules.priority,
        rules.activity,
        rules.model_generation,
        rules.dataset_version,
        row_number() over (
            partition by jobs.job_key order by rules.priority, rules.field, rules.pattern
        ) as match_rank
    from jobs
    inner join rules
        on regexp_full_match(
            coalesce(
                case rules.field
                    when 'account' then jobs.account
                    when 'wckey' then jobs.wckey
                    when 'job_name' then jobs.job_name
                    when 'comment' then jobs.comment
                    when 'partition' then jobs.partition
                    when 'user_name' then jobs.user_name
                end,
                ''
            ),
            rules.pattern
        )
),

first_rule as (
    select * from rule_matches
    where match_rank = 1
),

combined as (
    select
        jobs.*,
        comment_tags.activity as comment_activity,
        first_rule.activity as rule_activity,
        coalesce(comment_tags.activity, first_rule.activity) as claimed_activity,
        coalesce(comment_tags.model_generation, first_rule.model_generation) as model_generation,
        coalesce(comment_tags.dataset_version, first_rule.dataset_version) as dataset_version,
        comment_tags.job_kind,
        case
            when comment_tags.activity is not null then 'comment'
            when first_rule.activity is not null then 'rule:' || cast(first_rule.priority as varchar)
            else 'none'
        end as tag_source
    from jobs
    left join comment_tags on jobs.job_key = comment_tags.job_key
    left join first_rule on jobs.job_key = first_rule.job_key
),

checked as (
    select
        combined.* exclude (claimed_activity),  -- noqa: RF02
        case
            when activities.activity is not null then combined.claimed_activity
            else 'untagged'
        end as tagged_activity,
        case
            when combined.job_kind is not null and combined.job_kind not in ('rollout', 'ablation')
                then 'kind ' || combined.job_kind || ' is not rollout or ablation'
            when combined.claimed_activity is null and combined.job_kind is null then 'no tag or rule matched'
            when combined.claimed_activity is not null and activities.activity is null
                then 'activity ' || combined.claimed_activity || ' is not in the taxonomy'
        end as tag_problem
    from combined
    left join activities
        on combined.claimed_activity = activities.activity and activities.taggable
),

final as (
    select
        checked.* exclude (tag_problem),  -- noqa: RF02
        case checked.job_kind
            when 'rollout'
                then case policies.rl_rollouts when 'training' then 'training.rl' else policies.rl_rollouts end
            when 'ablation' then policies.ablations
            else checked.tagged_activity
        end as activity,
        case checked.job_kind
            when 'rollout' then 'rl_rollouts=' || policies.rl_rollouts
            when 'ablation' then 'ablations=' || policies.ablations
        end as activity_policy,
        checked.tag_problem
    from checked
    cross join policies
),

unioned as (
    select
        *,
        'slurm_job' as workload
    from final
    union all by name
    select * from k8s_pods
)

select * from unioned
