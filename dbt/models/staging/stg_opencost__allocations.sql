-- One row per OpenCost allocation x window ingested (only allocations with GPU-hours reach the
-- raw layer). Exports overlap (the same window queried twice, or a window re-exported once it
-- is complete): `is_latest_record` marks, per (cluster, allocation name, window start), the most
-- recent record, the one the warehouse uses. A workload is a pod: job_id = namespace/pod (the
-- allocation name when OpenCost gives no pod, e.g. `__unallocated__`); job_key = 'k8s/' ||
-- cluster || '/' || job_id, so it never collides with a Slurm job's key.
with source as (
    select * from {{ source('raw', 'opencost_allocation') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by cluster, allocation_name, window_start
            order by _ingested_at desc, _source_file desc, _source_row desc
        ) as recency_rank
    from source
),

renamed as (
    select
        'k8s/' || cluster || '/' || coalesce(namespace || '/' || pod, allocation_name) as job_key,
        coalesce(namespace || '/' || pod, allocation_name) as job_id,
        allocation_name,
        cluster,
        node,
        namespace,
        controller,
        controller_kind,
        pod,
        container,
        labels,
        annotations,
        window_start,
        window_end,
        start_time,
        end_time,
        minutes,
        gpu_hours,
        gpu_count,
        gpu_cost as opencost_gpu_cost,
        cpu_core_hours,
        total_cost as opencost_total_cost,
        _source_file,
        _source_sha256,
        _source_row,
        recency_rank = 1 as is_latest_record,
        _ingested_at
    from ranked
)

select * from renamed
