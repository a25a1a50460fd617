with lines as (
    select * from {{ ref('int_annotation_lines_mapped') }}
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
        ) as unit_cost_usd
    from lines
    group by vendor, invoice_id, coalesce(dataset_version, 'unmapped'), unit_type, quarter
)

select * from final
