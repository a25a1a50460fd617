-- Unit economics of human data: one row per vendor x dataset x unit type x quarter, so cost
-- per preference comparison, per SFT example or per annotator hour reads off one row.
-- Credits and credit notes net out of both cost and quantity. Invoice-level fees, minimums,
-- discounts and taxes are in the cost of the units they were spread over
-- (allocated_overhead_usd); an invoice with no work line keeps them under their line kind.
with annotation as (
    select * from {{ ref('fct_annotation_cost') }}
),

final as (
    select
        vendor,
        dataset_version,
        unit_type,
        quarter,
        count(distinct invoice_id) as invoice_count,
        sum(quantity) as quantity,
        sum(cost_usd) as cost_usd,
        cast(
            case when sum(quantity) = 0 then null else sum(cost_usd) / sum(quantity) end
            as decimal(38, 10)
        ) as unit_cost_usd,
        sum(line_cost_usd) as line_cost_usd,
        sum(allocated_overhead_usd) as allocated_overhead_usd
    from annotation
    group by vendor, dataset_version, unit_type, quarter
)

select * from final
