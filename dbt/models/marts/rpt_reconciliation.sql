-- One row per check x scope: the numbers that must add up, side by side. `passed` is
-- |difference| <= the reconciliation tolerance (var `reconciliation_tolerance_usd`, for
-- money) or exact equality (for counts). Severity `fail` checks stop the nightly refresh when
-- they do not pass; `warn` checks are reported and let it go on.
{% set tolerance = var('reconciliation_tolerance_usd') %}

with pools as (
    select * from {{ ref('int_cost_pools') }}
),

allocations as (
    select * from {{ ref('fct_cost_allocation') }}
),

idle as (
    select * from {{ ref('fct_idle_cost') }}
),

billing_source as (
    select * from {{ ref('stg_focus__charges') }}
),

billing_delivered as (
    -- Every delivered row; an invoice's total is what its rows in force add up to.
    select * from {{ ref('int_billing_deliveries_resolved') }}
),

-- Not materialised: four checks read it, and DuckDB would otherwise copy every charge (18
-- million rows at the `large` scale point, 1.4 s) where each check scans the columns it needs.
billing as not materialized (
    select * from {{ ref('fct_billing_charge') }}
),

annotation_lines as (
    select * from {{ ref('int_annotation_lines_mapped') }}
),

annotation as (
    select * from {{ ref('fct_annotation_cost') }}
),

invoice_versions as (
    select * from {{ ref('int_annotation_invoice_versions') }}
),

datasets as (
    select * from {{ ref('dim_dataset') }}
),

amortization as (
    select * from {{ ref('fct_dataset_amortization') }}
),

quarterly as (
    select * from {{ ref('fct_quarterly_allocation') }}
),

spend_ledger as (
    select * from {{ ref('int_spend_ledger') }}
),

ingest_files as (
    select * from {{ ref('stg_ingest__files') }}
),

slurm_lines as (
    select * from {{ ref('stg_slurm__jobs') }}
),

vendor_lines as (
    select * from {{ ref('stg_vendor__invoice_lines') }}
),

manifest_lines as (
    select * from {{ ref('stg_run_manifests__runs') }}
),

opencost_lines as (
    select * from {{ ref('stg_opencost__allocations') }}
),

shared_charges as (
    select * from {{ ref('int_billing_charges_converted') }}
    where cluster is not null and shared_cost_type is not null
),

shared_distributed as (
    select * from {{ ref('int_shared_costs_distributed') }}
),

job_hours as (
    select * from {{ ref('int_job_gpu_hours_by_hour') }}
),

dataset_costs_by_policy as (
    select * from {{ ref('int_dataset_costs_propagated') }}
),

amortization_by_policy as (
    select * from {{ ref('fct_dataset_amortization_by_policy') }}
),

balances_by_policy as (
    select * from {{ ref('fct_dataset_balance_by_policy') }}
),

pool_conservation as (
    select
        'pool_conservation' as check_name,
        'fail' as severity,
        pools.cluster || ' ' || strftime(pools.hour, '%Y-%m-%d %H:00') as scope,
        pools.pool_cost_usd as expected,
        coalesce(job_totals.allocated, 0) + coalesce(idle.idle_cost_usd, 0) as actual
    from pools
    left join (
        select
            cluster,
            hour,
            sum(allocated_cost_usd) as allocated
        from allocations
        group by cluster, hour
    ) as job_totals on pools.cluster = job_totals.cluster and pools.hour = job_totals.hour
    left join idle on pools.cluster = idle.cluster and pools.hour = idle.hour
),

billing_invoice_total as (
    select
        'billing_invoice_total' as check_name,
        'fail' as severity,
        coalesce(source_totals.provider, '?') || ' ' || coalesce(source_totals.invoice_id, '(no invoice id)') as scope,
        source_totals.billed as expected,
        coalesce(mart_totals.billed, 0) as actual
    from (
        select
            provider,
            invoice_id,
            sum(billed_cost) as billed
        from billing_delivered
        where not is_superseded
        group by provider, invoice_id
    ) as source_totals
    left join (
        select
            provider,
            invoice_id,
            sum(billed_cost) as billed
        from billing
        group by provider, invoice_id
    ) as mart_totals
        on
            source_totals.provider is not distinct from mart_totals.provider
            and source_totals.invoice_id is not distinct from mart_totals.invoice_id
),

annotation_invoice_total as (
    select
        'annotation_invoice_total' as check_name,
        'fail' as severity,
        line_totals.vendor || ' ' || line_totals.invoice_id as scope,
        line_totals.cost as expected,
        coalesce(mart_totals.cost, 0) as actual
    from (
        select
            vendor,
            invoice_id,
            sum(cost_usd) as cost
        from annotation_lines
        group by vendor, invoice_id
    ) as line_totals
    left join (
        select
            vendor,
            invoice_id,
            sum(cost_usd) as cost
        from annotation
        group by vendor, invoice_id
    ) as mart_totals
        on line_totals.vendor = mart_totals.vendor and line_totals.invoice_id = mart_totals.invoice_id
),

annotation_stated_total as (
    -- Ingest already holds each invoice to the totals it states; this re-checks the current
    -- version of every invoice in the warehouse, per currency, in the invoice currency.
    select
        'annotation_stated_total' as check_name,
        'fail' as severity,
        vendor || ' ' || invoice_id || ' ' || currency as scope,
        max(invoice_total) as expected,
        sum(amount) as actual
    from annotation_lines
    group by vendor, invoice_id, currency
    having count(invoice_total) > 0
),

dataset_amortization as (
    select
        'dataset_amortization' as check_name,
        'fail' as severity,
        datasets.dataset_version as scope,
        datasets.total_cost_usd as expected,
        coalesce(charged.amortization, 0) + datasets.balance_usd as actual
    from datasets
    left join (
        select
            dataset_version,
            sum(amortization_usd) as amortization
        from amortization
        group by dataset_version
    ) as charged on datasets.dataset_version = charged.dataset_version
),

dataset_balance_not_negative as (
    select
        'dataset_balance_not_negative' as check_name,
        'fail' as severity,
        dataset_version as scope,
        cast(0 as decimal(38, 10)) as expected,
        least(balance_usd, 0) as actual
    from datasets
),

data_cost_conservation as (
    select
        'data_cost_conservation' as check_name,
        'fail' as severity,
        'all datasets' as scope,
        (select coalesce(sum(own_cost_usd), 0) from datasets) as expected,
        (
            select coalesce(sum(amortization_usd), 0) from amortization
            where consumer_kind in ('model_generation', 'unabsorbed')
        ) + (select coalesce(sum(balance_usd), 0) from datasets) as actual
),

spend_fully_attributed as (
    select
        'spend_fully_attributed' as check_name,
        'fail' as severity,
        'all spend' as scope,
        (select coalesce(sum(effective_cost_usd), 0) from billing)
        + (select coalesce(sum(cost_usd), 0) from annotation_lines)
        -- dataset licences (datasets.csv) are spend recorded in config, not in a bill
        + (
            select coalesce(sum(cost_usd), 0) from spend_ledger
            where cost_source = 'licence'
        ) as expected,
        (select coalesce(sum(cost_usd), 0) from quarterly) as actual
),

fx_rate_available as (
    -- Never a silent 1.0: a cost with no rate on or before its charge date fails, and the
    -- scope names the currency and the first and last dates that need a rate in config/fx_rates.csv.
    select
        'fx_rate_available' as check_name,
        'fail' as severity,
        'no ' || currency || ' rate on or before '
        || strftime(min(rate_needed_on), '%Y-%m-%d')
        || case
            when max(rate_needed_on) > min(rate_needed_on)
                then
                    ' (needed ' || strftime(min(rate_needed_on), '%Y-%m-%d') || ' to '
                    || strftime(max(rate_needed_on), '%Y-%m-%d') || ')'
            else ''
        end
        || ' in config/fx_rates.csv' as scope,
        cast(0 as decimal(38, 10)) as expected,
        cast(count(*) as decimal(38, 10)) as actual
    from (
        select
            billing_currency as currency,
            cast(charge_period_start as date) as rate_needed_on
        from billing
        where effective_cost_usd is null
        union all
        select
            currency,
            cast(invoice_date as date) as rate_needed_on
        from annotation_lines
        where cost_usd is null
    ) as missing_rates
    group by currency
),

raw_rows as (
    select
        _source_sha256,
        count(*) as row_count
    from billing_source
    group by _source_sha256
    union all
    select
        _source_sha256,
        count(*) as row_count
    from slurm_lines
    group by _source_sha256
    union all
    select
        _source_sha256,
        count(*) as row_count
    from vendor_lines
    group by _source_sha256
    union all
    select
        _source_sha256,
        count(*) as row_count
    from manifest_lines
    group by _source_sha256
    union all
    select
        _source_sha256,
        count(*) as row_count
    from opencost_lines
    group by _source_sha256
),

ingest_row_accounting as (
    select
        'ingest_row_accounting' as check_name,
        'fail' as severity,
        source_file || ' @' || left(source_sha256, 12) as scope,
        cast(rows_read as decimal(38, 10)) as expected,
        cast(rows_loaded + rows_quarantined + rows_skipped as decimal(38, 10)) as actual
    from ingest_files
),

raw_rows_loaded as (
    select
        'raw_rows_loaded' as check_name,
        'fail' as severity,
        ingest_files.source_file || ' @' || left(ingest_files.source_sha256, 12) as scope,
        cast(ingest_files.rows_loaded as decimal(38, 10)) as expected,
        cast(coalesce(raw_rows.row_count, 0) as decimal(38, 10)) as actual
    from ingest_files
    left join raw_rows on ingest_files.source_sha256 = raw_rows._source_sha256
    where ingest_files.status = 'loaded'
),

unpriced_gpu_hours as (
    -- GPU-hours of jobs in hours no bill covers yet (billing arrives later than job logs):
    -- they receive cost on the night the bill lands. Reported, not blocking.
    select
        'unpriced_gpu_hours' as check_name,
        'warn' as severity,
        job_hours.cluster as scope,
        cast(0 as decimal(38, 10)) as expected,
        {{ from_units('sum(job_hours.gpu_hour_units)') }} as actual
    from job_hours
    left join pools on job_hours.cluster = pools.cluster and job_hours.hour = pools.hour
    where pools.cluster is null or pools.capacity_units = 0
    group by job_hours.cluster
),

unmapped_gpu_charges as (
    -- Charges that pay for GPU-hours but reach no cluster (no mapping rule, cluster tag or
    -- register asset): their cost is attributed as a direct cost or overhead instead of a
    -- pool, so job logs cannot line up with them. Reported per provider and resource.
    select
        'unmapped_gpu_charges' as check_name,
        'warn' as severity,
        coalesce(provider, '(no provider)') || ' ' || coalesce(resource_id, '(no resource)') as scope,
        cast(0 as decimal(38, 10)) as expected,
        sum(effective_cost_usd) as actual
    from billing
    where cluster is null and consumed_unit in ('GPU-Hours', 'GPU-Hour', 'GPU Hours', 'GPUHours')
    group by provider, resource_id
),

latest_balance_by_policy as (
    select
        policy,
        dataset_version,
        arg_max(closing_usd, quarter) as closing_usd
    from balances_by_policy
    group by policy, dataset_version
),

dataset_total_by_policy as (
    select
        scenario as policy,
        dataset_version,
        {{ from_units('sum(amount_units)') }} as total_cost_usd,
        {{ from_units('sum(case when origin = dataset_version then amount_units else 0 end)') }} as own_cost_usd
    from dataset_costs_by_policy
    group by scenario, dataset_version
),

amortized_by_policy as (
    select
        policy,
        dataset_version,
        sum(amortization_usd) as amortization_usd,
        sum(case when consumer_kind in ('model_generation', 'unabsorbed') then amortization_usd else 0 end) as expensed_usd
    from amortization_by_policy
    group by policy, dataset_version
),

dataset_amortization_by_policy as (
    -- For every dataset under every policy view: amortization to date (fct_dataset_amortization_by_policy)
    -- + the latest closing balance (rolled forward quarter by quarter in fct_dataset_balance_by_policy)
    -- = the dataset's total cost (own work + inherited, walked along the lineage).
    select
        'dataset_amortization_by_policy' as check_name,
        'fail' as severity,
        totals.policy || ' ' || totals.dataset_version as scope,
        totals.total_cost_usd as expected,
        coalesce(amortized.amortization_usd, 0) + coalesce(latest.closing_usd, 0) as actual
    from dataset_total_by_policy as totals
    left join amortized_by_policy as amortized
        on totals.policy = amortized.policy and totals.dataset_version = amortized.dataset_version
    left join latest_balance_by_policy as latest
        on totals.policy = latest.policy and totals.dataset_version = latest.dataset_version
),

dataset_balance_by_policy_not_negative as (
    select
        'dataset_balance_by_policy_not_negative' as check_name,
        'fail' as severity,
        policy || ' ' || dataset_version as scope,
        cast(0 as decimal(38, 10)) as expected,
        least(closing_usd, 0) as actual
    from latest_balance_by_policy
),

data_cost_conservation_by_policy as (
    -- Under every policy view, all data work done for datasets is either expensed (to model
    -- generations, or as unabsorbed amortization) or still on some dataset's balance.
    select
        'data_cost_conservation_by_policy' as check_name,
        'fail' as severity,
        totals.policy as scope,
        sum(totals.own_cost_usd) as expected,
        sum(coalesce(amortized.expensed_usd, 0) + coalesce(latest.closing_usd, 0)) as actual
    from dataset_total_by_policy as totals
    left join amortized_by_policy as amortized
        on totals.policy = amortized.policy and totals.dataset_version = amortized.dataset_version
    left join latest_balance_by_policy as latest
        on totals.policy = latest.policy and totals.dataset_version = latest.dataset_version
    group by totals.policy
),

annotation_invoice_not_counted as (
    -- Warn on every invoice delivery the warehouse does not count (rpt_rejected_invoices),
    -- except an identical copy of an invoice already counted: nothing is missing there.
    select
        'annotation_invoice_not_counted' as check_name,
        'warn' as severity,
        vendor || ' ' || invoice_id || ' (' || reason_code || ', ' || _source_file || ')' as scope,
        cast(0 as decimal(38, 10)) as expected,
        coalesce(amount, 0) as actual
    from invoice_versions
    where status in ('duplicate', 'rejected') and not is_identical_copy
),

incurred_by_quarter as (
    select
        quarter,
        sum(cost_usd) as cost_usd
    from spend_ledger
    group by quarter
),

posted_by_charge_quarter as (
    select
        quarter,
        sum(cost_usd) as cost_usd
    from quarterly
    group by quarter
),

charge_period_total as (
    -- Per charge quarter, what the books post (frozen in closed snapshots + prior-period
    -- adjustments + open quarters) equals the spend incurred in it: a close never loses or
    -- doubles a dollar.
    select
        'charge_period_total' as check_name,
        'fail' as severity,
        coalesce(incurred.quarter, posted.quarter) as scope,
        coalesce(incurred.cost_usd, 0) as expected,
        coalesce(posted.cost_usd, 0) as actual
    from incurred_by_quarter as incurred
    full outer join posted_by_charge_quarter as posted
        on incurred.quarter = posted.quarter
),

shared_cost_conservation as (
    -- Non-GPU shared costs of a cluster (tag cost_type other than gpu) reach jobs, or the
    -- visible unallocated line, to the last unit: what the bills say = what was distributed.
    select
        'shared_cost_conservation' as check_name,
        'fail' as severity,
        billed.cluster || ' ' || billed.shared_cost_type as scope,
        billed.cost as expected,
        coalesce(distributed.cost, 0) as actual
    from (
        select
            cluster,
            shared_cost_type,
            sum(effective_cost_usd) as cost
        from shared_charges
        group by cluster, shared_cost_type
    ) as billed
    left join (
        select
            cluster,
            shared_cost_type,
            sum(cost_usd) as cost
        from shared_distributed
        group by cluster, shared_cost_type
    ) as distributed
        on billed.cluster = distributed.cluster and billed.shared_cost_type = distributed.shared_cost_type
),

unioned as (
    select * from shared_cost_conservation
    union all
    select * from pool_conservation
    union all
    select * from billing_invoice_total
    union all
    select * from annotation_invoice_total
    union all
    select * from annotation_stated_total
    union all
    select * from dataset_amortization
    union all
    select * from dataset_balance_not_negative
    union all
    select * from data_cost_conservation
    union all
    select * from spend_fully_attributed
    union all
    select * from fx_rate_available
    union all
    select * from ingest_row_accounting
    union all
    select * from raw_rows_loaded
    union all
    select * from unpriced_gpu_hours
    union all
    select * from unmapped_gpu_charges
    union all
    select * from dataset_amortization_by_policy
    union all
    select * from dataset_balance_by_policy_not_negative
    union all
    select * from data_cost_conservation_by_policy
    union all
    select * from annotation_invoice_not_counted
    union all
    select * from charge_period_total
),

final as (
    select
        check_name,
        scope,
        severity,
        cast(expected as decimal(38, 10)) as expected,
        cast(actual as decimal(38, 10)) as actual,
        cast(actual - expected as decimal(38, 10)) as difference,
        abs(actual - expected) <= {{ tolerance }} as passed
    from unioned
)

select * from final
