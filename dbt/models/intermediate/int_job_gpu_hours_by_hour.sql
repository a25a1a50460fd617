-- One row per job x hour it held GPUs: jobs are split at hour boundaries.
-- gpu_hour_units = GPUs x seconds in that hour / 3600, in units of 1e-10 GPU-hour.
-- A job still running (no End) is counted up to the end of the latest billed hour.
-- Kubernetes pods arrive from int_jobs_tagged already split per hour with the GPU-hours
-- OpenCost recorded (`recorded_gpu_hour_units`, fractional GPUs included); those are used as
-- they are instead of GPUs x seconds.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_refresh_window('hour') }}"
    )
}}

with jobs as (
    select * from {{ ref('int_jobs_tagged') }}
    where gpus > 0 and start_time is not null
),

billing_horizon as (
    select max(charge_period_end) as billed_until
    from {{ ref('int_billing_charges_converted') }}
),

bounded as (
    select
        jobs.*,
        coalesce(jobs.end_time, billing_horizon.billed_until, jobs.start_time) as effective_end
    from jobs
    cross join billing_horizon
),

hours as (
    select
        job_key,
        job_id,
        cluster,
        gpus,
        gpu_type,
        activity,
        model_generation,
        dataset_version,
        start_time,
        effective_end,
        recorded_gpu_hour_units,
        unnest(range(date_trunc('hour', start_time), effective_end, interval 1 hour)) as hour
    from bounded
    where
        effective_end > start_time
        and (
            {{ in_refresh_window('effective_end') }}
            or {{ in_refresh_window('start_time') }}
        )
),

final as (
    select
        job_key,
        job_id,
        cluster,
        hour,
        gpus,
        gpu_type,
        activity,
        model_generation,
        dataset_version,
        coalesce(
            recorded_gpu_hour_units,
            {{ prorate_units(
                "gpus * date_diff('second', greatest(start_time, hour), least(effective_end, hour + interval 1 hour))",
                10000000000,
                3600
            ) }}
        ) as gpu_hour_units
    from hours
    where {{ in_refresh_window('hour') }}
)

select * from final
