-- One row per training run that records its parameter count N and tokens D (run manifests):
-- implied model-FLOPs utilisation = 6 x N x D / (GPU-hours x 3600 x peak FLOP/s of its GPU).
-- GPU-hours are those allocated to the run's Slurm job (manifest `job_id`) when the job is in
-- fct_cost_allocation, else the manifest's own GPUs x (end - start). Outside the band of
-- policies mfu_band_low..mfu_band_high (or not computable) the row is a warn-severity failure
-- naming the run: its GPU-hours, tokens or parameter count are probably wrong.
with runs as (
    select * from {{ ref('stg_run_manifests__runs') }}
    where is_latest_record and stage like 'training.%' and parameters is not null and tokens is not null
),

allocation as (
    select * from {{ ref('fct_cost_allocation') }}
),

clusters as (
    select * from {{ ref('stg_config__clusters') }}
),

gpu_types as (
    select * from {{ ref('stg_config__gpu_types') }}
),

policies as (
    select * from {{ ref('stg_config__policies') }}
),

job_hours as (
    select
        cluster,
        job_id,
        sum(gpu_hours) as gpu_hours
    from allocation
    group by cluster, job_id
),

measured as (
    select
        runs.run_key,
        runs.run_id,
        runs.cluster,
        runs.model_generation,
        runs.parameters,
        runs.tokens,
        coalesce(runs.gpu_type, lower(clusters.gpu_type)) as gpu_type,
        case
            when job_hours.gpu_hours is not null then job_hours.gpu_hours
            when runs.end_time is not null
                then cast(runs.gpus * date_diff('second', runs.start_time, runs.end_time) as decimal(38, 10)) / 3600
        end as gpu_hours,
        case
            when job_hours.gpu_hours is not null then 'allocated to job ' || runs.job_id
            when runs.end_time is not null then 'manifest gpus x duration'
        end as gpu_hours_source
    from runs
    left join job_hours on runs.cluster = job_hours.cluster and runs.job_id = job_hours.job_id
    left join clusters on runs.cluster = clusters.cluster
),

computed as (
    select
        measured.*,
        gpu_types.peak_tflops,
        policies.mfu_band_low,
        policies.mfu_band_high,
        case
            when measured.gpu_hours > 0 and gpu_types.peak_tflops is not null
                then cast(
                    6.0 * cast(measured.parameters as double) * cast(measured.tokens as double)
                    / (cast(measured.gpu_hours as double) * 3600.0 * cast(gpu_types.peak_tflops as double) * 1e12)
                    as decimal(18, 10)
                )
        end as implied_mfu
    from measured
    left join gpu_types on measured.gpu_type = gpu_types.gpu_type
    cross join policies
),

final as (
    select
        run_key,
        run_id,
        cluster,
        model_generation,
        parameters,
        tokens,
        gpu_type,
        peak_tflops,
        cast(gpu_hours as decimal(38, 10)) as gpu_hours,
        gpu_hours_source,
        implied_mfu,
        mfu_band_low,
        mfu_band_high,
        coalesce(implied_mfu between mfu_band_low and mfu_band_high, false) as passed,
        'warn' as severity,
        case
            when gpu_hours is null then 'run ' || run_id || ': no GPU-hours (no allocated job, no end)'
            when peak_tflops is null
                then 'run ' || run_id || ': GPU type ' || coalesce(gpu_type, '(none)') || ' not in config/gpu_types.csv'
            when implied_mfu not between mfu_band_low and mfu_band_high
                then
                    'run ' || run_id || ': implied MFU ' || cast(implied_mfu as varchar)
                    || ' outside ' || cast(mfu_band_low as varchar) || '..' || cast(mfu_band_high as varchar)
        end as problem
    from computed
)

select * from final
