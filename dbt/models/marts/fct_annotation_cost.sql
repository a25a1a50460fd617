-- One row per vendor x invoice x dataset x unit type x quarter. cost_usd includes the
-- invoice-level lines (fees, minimums, discounts, taxes) spread over the work lines
-- (int_annotation_costs_spread): line_cost_usd is what the work lines say themselves,
-- allocated_overhead_usd what they received; per invoice the rows sum to the invoice.
with lines as (
    select * from {{ ref('int_annotation_costs_spread') }}
),

final as (
    select
        vendor,
        invoice_id,
        coalesce(dataset_version, 'unmapped') as dataset_version,
        unit_type,
        quarter,
        count(*) as line_count,
        sum(quantity) as quantity,
        sum(cost_usd) as cost_usd,
        cast(
            case when sum(quantity) = 0 then null else sum(cost_usd) / sum(quantity) end
            as decimal(38, 10)
        ) as unit_cost_usd,
        sum(line_cost_usd) as line_cost_usd,
        sum(allocated_overhead_usd) as allocated_overhead_usd
    from lines
    group by vendor, invoice_id, coalesce(dataset_version, 'unmapped'), unit_type, quarter
)

select * from final
