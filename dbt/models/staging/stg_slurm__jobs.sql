-- One row per job line ingested. sacct dumps overlap (a job running across the dump window
-- appears in two dumps, first without an End): `is_latest_record` marks, per attempt
-- (cluster, job_id, start), the most complete and most recent line, the one the warehouse uses.
-- A requeued job runs more than once under one job id (`sacct --duplicates` lists the earlier
-- attempts as REQUEUED, NODE_FAIL...); every attempt held GPUs, so every attempt counts, and its
-- job_key carries `#<attempt>` when the job id has more than one.
with source as (
    select * from {{ source('raw', 'slurm_job') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by coalesce(cluster, ''), job_id, start_time
            order by (end_time is null), _ingested_at desc, _source_file desc, _source_row desc
        ) as recency_rank,
        dense_rank() over (
            partition by coalesce(cluster, ''), job_id order by start_time asc nulls last
        ) as attempt
    from source
),

counted as (
    select
        *,
        max(attempt) over (partition by coalesce(cluster, ''), job_id) as attempt_count
    from ranked
),

renamed as (
    select
        coalesce(cluster, '') || '/' || job_id
        || case when attempt_count > 1 then '#' || cast(attempt as varchar) else '' end as job_key,
        job_id,
        cluster,
        partition,
        account,
        user_name,
        job_name,
        wckey,
        comment,
        state,
        submit_time,
        start_time,
        end_time,
        elapsed_seconds,
        gpus,
        lower(gpu_type) as gpu_type,
        _source_file,
        _source_sha256,
        _source_row,
        attempt,
        recency_rank = 1 as is_latest_record,
        _ingested_at
    from counted
)

select * from renamed
