-- One row per run-manifest record; a run re-emitted in a later file (e.g. first while running,
-- then finished) keeps its most complete and most recent record, marked `is_latest_record`.
with source as (
    select * from {{ source('raw', 'run_manifest') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by cluster, run_id
            order by (end_time is null), _ingested_at desc, _source_file desc, _source_row desc
        ) as recency_rank
    from source
),

renamed as (
    select
        cluster || '/' || run_id as run_key,
        run_id,
        cluster,
        job_id,
        gpus,
        lower(gpu_type) as gpu_type,
        start_time,
        end_time,
        stage,
        model_generation,
        dataset_produced,
        datasets_consumed,
        tokens,
        parameters,
        extra,
        _source_file,
        _source_sha256,
        _source_row,
        recency_rank = 1 as is_latest_record,
        _ingested_at
    from ranked
)

select * from renamed
