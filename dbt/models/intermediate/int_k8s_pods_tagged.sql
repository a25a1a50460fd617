-- One row per Kubernetes pod x hour it held GPUs (int_k8s_pod_gpu_hours_by_hour) with its
-- activity, model generation and dataset, in the shape of int_jobs_tagged (which unions it).
-- Precedence, like Slurm's: (1) the pod's own labels, then annotations, with the keys a Slurm
-- comment uses (`activity`, `model_generation`, `dataset_version`, `kind`; also prefixed
-- `llmledger.io/` or, as OpenCost sanitises label keys, `llmledger_io_`) override; (2) otherwise
-- the first rule of config/tag_mapping.csv by priority among the Kubernetes fields:
-- `k8s_label` / `k8s_annotation` (pattern `key=glob`, glob on the whole value; the key also
-- matches its OpenCost-sanitised form, `app.kubernetes.io/name` -> `app_kubernetes_io_name`)
-- and `k8s_namespace` (regex, full match); (3) else `untagged`. Slurm rules never tag pods.
-- `kind=rollout` / `kind=ablation` follow the rl_rollouts / ablations policies as for Slurm.
with pods as (
    select * from {{ ref('int_k8s_pod_gpu_hours_by_hour') }}
),

rules as (
    select
        *,
        split_part(pattern, '=', 1) as rule_key,
        substr(pattern, strpos(pattern, '=') + 1) as rule_glob
    from {{ ref('stg_config__tag_mapping') }}
    where field in ('k8s_label', 'k8s_annotation', 'k8s_namespace')
),

activities as (
    select * from {{ ref('activities') }}
),

policies as (
    select * from {{ ref('stg_config__policies') }}
),

direct_pairs as (
    select
        job_key,
        hour,
        source_rank,
        regexp_replace(lower(tag_key), '^llmledger(\.io/|_io_)', '') as tag_key,
        tag_value
    from (
        select
            job_key,
            hour,
            1 as source_rank,
            label_key as tag_key,
            json_extract_string(labels, '$."' || label_key || '"') as tag_value
        from (
            select
                job_key,
                hour,
                labels,
                unnest(json_keys(labels)) as label_key
            from pods
        ) as label_keys
        union all
        select
            job_key,
            hour,
            2 as source_rank,
            annotation_key as tag_key,
            json_extract_string(annotations, '$."' || annotation_key || '"') as tag_value
        from (
            select
                job_key,
                hour,
                annotations,
                unnest(json_keys(annotations)) as annotation_key
            from pods
        ) as annotation_keys
    ) as pairs
    where tag_value is not null and trim(tag_value) != ''
),

direct_tags as (
    -- A label beats an annotation with the same key.
    select
        job_key,
        hour,
        arg_min(tag_value, source_rank) filter (where tag_key = 'activity') as activity,
        arg_min(tag_value, source_rank) filter (
            where tag_key in ('model_generation', 'model', 'generation')
        ) as model_generation,
        arg_min(tag_value, source_rank) filter (where tag_key in ('dataset_version', 'dataset')) as dataset_version,
        lower(arg_min(tag_value, source_rank) filter (where tag_key in ('kind', 'job_kind'))) as job_kind,
        min(source_rank) filter (where tag_key = 'activity') as activity_rank
    from direct_pairs
    group by job_key, hour
),

rule_matches as (
    select
        pods.job_key,
        pods.hour,
        rules.priority,
        rules.activity,
        rules.model_generation,
        rules.dataset_version,
        row_number() over (
            partition by pods.job_key, pods.hour order by rules.priority, rules.field, rules.pattern
        ) as match_rank
    from pods
    inner join rules
        on coalesce(
            case rules.field
                when 'k8s_label'
                    then coalesce(
                        json_extract_string(pods.labels, '$."' || rules.rule_key || '"'),
                        json_extract_string(
                            pods.labels, '$."' || regexp_replace(rules.rule_key, '[^A-Za-z0-9_]', '_', 'g') || '"'
                        )
                    ) glob rules.rule_glob
                when 'k8s_annotation'
                    then json_extract_string(pods.annotations, '$."' || rules.rule_key || '"') glob rules.rule_glob
                when 'k8s_namespace' then regexp_full_match(coalesce(pods.namespace, ''), rules.pattern)
            end,
            false
        )
),

first_rule as (
    select * from rule_matches
    where match_rank = 1
),

combined as (
    select
        pods.*,
        direct_tags.activity as label_activity,
        first_rule.activity as rule_activity,
        coalesce(direct_tags.activity, first_rule.activity) as claimed_activity,
        coalesce(direct_tags.model_generation, first_rule.model_generation) as model_generation,
        coalesce(direct_tags.dataset_version, first_rule.dataset_version) as dataset_version,
        direct_tags.job_kind,
        case
            when direct_tags.activity is not null and direct_tags.activity_rank = 1 then 'label'
            when direct_tags.activity is not null then 'annotation'
            when first_rule.activity is not null then 'rule:' || cast(first_rule.priority as varchar)
            else 'none'
        end as tag_source
    from pods
    left join direct_tags on pods.job_key = direct_tags.job_key and pods.hour = direct_tags.hour
    left join first_rule on pods.job_key = first_rule.job_key and pods.hour = first_rule.hour
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
            when combined.claimed_activity is null and combined.job_kind is null then 'no label, annotation or rule matched'
            when combined.claimed_activity is not null and activities.activity is null
                then 'activity ' || combined.claimed_activity || ' is not in the taxonomy'
        end as tag_problem
    from combined
    left join activities
        on combined.claimed_activity = activities.activity and activities.taggable
),

final as (
    select
        checked.job_key,
        checked.job_id,
        checked.cluster,
        checked.pod as job_name,
        checked.start_time,
        checked.end_time,
        checked.gpus,
        cast(null as varchar) as gpu_type,
        checked._source_file,
        checked._source_row,
        true as is_latest_record,
        'k8s_pod' as workload,
        checked.namespace,
        checked.pod,
        checked.labels,
        checked.annotations,
        checked.hour,
        checked.gpu_hour_units as recorded_gpu_hour_units,
        checked.label_activity,
        checked.rule_activity,
        checked.model_generation,
        checked.dataset_version,
        checked.job_kind,
        checked.tag_source,
        checked.tagged_activity,
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
)

select * from final
