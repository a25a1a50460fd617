-- One row per Kubernetes pod (job_key) x hour it held GPUs, from OpenCost allocations. Each
-- allocation window's gpuHours (OpenCost's figure, fractional GPUs included) is spread over the
-- hours its [start, end) covers in proportion to the seconds of each hour, in units of 1e-10
-- GPU-hour; the floor remainder goes to its last hour, so each allocation's hours sum exactly to
-- its gpuHours. Windows of one pod that share an hour (steps shorter than an hour, or several
-- containers) are summed. start_time/end_time are the pod's first start and last end inside the
-- hour; gpus is the largest GPU count OpenCost reported (at least 1), for display only.
with allocations as (
    select * from {{ ref('stg_opencost__allocations') }}
    where is_latest_record and gpu_hours > 0 and end_time > start_time
),

hours as (
    select
        job_key,
        job_id,
        cluster,
        namespace,
        pod,
        labels,
        annotations,
        window_start,
        start_time,
        end_time,
        gpu_count,
        _source_file,
        _source_row,
        {{ to_units('gpu_hours') }} as total_units,
        date_diff('second', start_time, end_time) as total_seconds,
        unnest(range(date_trunc('hour', start_time), end_time, interval 1 hour)) as hour
    from allocations
),

pieces as (
    select
        *,
        greatest(start_time, hour) as piece_start,
        least(end_time, hour + interval 1 hour) as piece_end,
        {{ prorate_units(
            'total_units',
            "date_diff('second', greatest(start_time, hour), least(end_time, hour + interval 1 hour))",
            'total_seconds'
        ) }} as units_floor,
        row_number() over (
            partition by job_key, window_start, _source_file, _source_row order by hour desc
        ) as hours_from_end
    from hours
),

exact as (
    select
        *,
        units_floor + case
            when hours_from_end = 1
                then total_units - sum(units_floor) over (partition by job_key, window_start, _source_file, _source_row)
            else 0
        end as gpu_hour_units
    from pieces
),

final as (
    select
        job_key,
        hour,
        any_value(job_id) as job_id,
        any_value(cluster) as cluster,
        any_value(namespace) as namespace,
        any_value(pod) as pod,
        -- A pod's labels can change between windows: the latest window's apply to the hour.
        arg_max(labels, window_start) as labels,
        arg_max(annotations, window_start) as annotations,
        min(piece_start) as start_time,
        max(piece_end) as end_time,
        greatest(1, cast(ceil(coalesce(max(gpu_count), 1)) as bigint)) as gpus,
        sum(gpu_hour_units) as gpu_hour_units,
        min(_source_file) as _source_file,
        min(_source_row) as _source_row
    from exact
    group by job_key, hour
)

select * from final
