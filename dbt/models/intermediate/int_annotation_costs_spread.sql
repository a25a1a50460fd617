-- One row per annotation invoice line that carries cost to a dataset: every work line (units
-- of work: tasks, comparisons, examples, hours, items) with its share of the invoice-level
-- lines, plus the lines that keep their own cost (credits counted in units, and invoice-level
-- lines of an invoice that has no work line to spread them over).
-- Invoice-level lines (kind fee, minimum, discount, tax, and a credit without a unit) are not
-- work: they are spread over the invoice's work lines pro rata by USD amount (absolute, so a
-- credit note's negative lines weigh like positive ones; equally when every weight is 0).
-- A line naming a project code that work lines of the invoice carry is spread over those
-- lines only; otherwise over all the invoice's work lines. Splits are exact in 1e-10 USD
-- units (magnitudes floored), the remainder to the largest weight, so the invoice's cost is conserved to the unit.
with lines as (
    select * from {{ ref('int_annotation_lines_mapped') }}
),

classified as (
    select
        *,
        line_kind in ('fee', 'minimum', 'discount', 'tax')
        or (line_kind = 'credit' and unit_type = 'credit') as is_invoice_level
    from lines
),

work_lines as (
    select * from classified
    where line_kind = 'work'
),

invoice_level as (
    select * from classified
    where is_invoice_level
),

candidates as (
    select
        invoice_level.invoice_line_key as spread_key,
        {{ to_units('invoice_level.cost_usd') }} as spread_units,
        work_lines.invoice_line_key as work_key,
        abs(coalesce({{ to_units('work_lines.cost_usd') }}, 0)) as weight,
        coalesce(work_lines.project_code = invoice_level.project_code, false) as same_project,
        bool_or(coalesce(work_lines.project_code = invoice_level.project_code, false)) over (
            partition by invoice_level.invoice_line_key
        ) as project_has_work
    from invoice_level
    inner join work_lines
        on
            invoice_level.vendor = work_lines.vendor
            and invoice_level.invoice_id = work_lines.invoice_id
            and invoice_level._source_sha256 = work_lines._source_sha256
),

targets as (
    select
        *,
        sum(weight) over (partition by spread_key) as total_weight,
        count(*) over (partition by spread_key) as target_count,
        row_number() over (partition by spread_key order by weight desc, work_key asc) as share_rank
    from candidates
    where same_project or not project_has_work
),

floored as (
    -- the magnitude is floored, so a discount splits exactly like a fee of the same size
    -- (on every engine: floor of a negative would round away from zero)
    select
        *,
        sign(spread_units) * case
            when total_weight = 0 then {{ prorate_units('abs(spread_units)', 1, 'target_count') }}
            else {{ prorate_units('abs(spread_units)', 'weight', 'total_weight') }}
        end as floor_units
    from targets
),

shares as (
    select
        spread_key,
        work_key,
        floor_units
        + case
            when share_rank = 1 then spread_units - sum(floor_units) over (partition by spread_key)
            else 0
        end as share_units
    from floored
),

received as (
    select
        work_key,
        sum(share_units) as allocated_units
    from shares
    group by work_key
),

kept as (
    select
        classified.*,
        -- a share of a line without a USD cost (no FX rate) stays null: rpt_reconciliation says so
        cast(case when received.work_key is null then 0 else received.allocated_units end as hugeint) as allocated_units
    from classified
    left join received on classified.invoice_line_key = received.work_key
    -- an invoice-level line that was spread lives on in the work lines that received it
    where classified.invoice_line_key not in (select distinct shares.spread_key from shares)
),

final as (
    select
        * exclude (allocated_units, cost_usd, is_invoice_level),
        cost_usd as line_cost_usd,
        {{ from_units('allocated_units') }} as allocated_overhead_usd,
        cast(cost_usd + {{ from_units('allocated_units') }} as decimal(38, 10)) as cost_usd
    from kept
)

select * from final
