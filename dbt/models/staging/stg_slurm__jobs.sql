-- One row per job line ingested. sacct dumps overlap (a job running across the dump window
-- appears in two dumps, first without an End): `is_latest_record` marks, per (cluster, job_id),
-- the most complete and most recent line, the one the warehouse uses.
with source as (
    select * from {{ source('raw', 'slurm_job') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by coalesce(cluster, ''), job_id
            order by (end_time is null), _ingested_at desc, _source_file desc, _source_row desc
        ) as recency_rank
    from source
),

renamed as (
    select
        coalesce(cluster, '') || '/' || job_id as job_key,
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
        recency_rank = 1 as is_latest_record,
        _ingested_at
    from ranked
)

select * from renamed
