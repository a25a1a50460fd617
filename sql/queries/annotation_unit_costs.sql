-- Annotation unit costs: what human data cost per unit, per vendor and unit type.
-- Answers: how much do we pay per SFT item, preference comparison or annotator hour, per
--   vendor and quarter, platform fees and credits included? Invoice-level fee, minimum,
--   discount and tax lines are already spread into the units (fct_annotation_cost).
-- Parameters (llmledger sql --param NAME=VALUE):
--   quarter  only this quarter, e.g. 2026Q3 (default: every quarter)
-- Marts: fct_annotation_cost.
select
    quarter,
    vendor,
    unit_type,
    count(distinct invoice_id) as invoices,
    sum(line_count) as lines,
    round(sum(quantity), 2) as quantity,
    round(sum(cost_usd), 2) as cost_usd,
    cast(round(sum(cost_usd) / nullif(sum(quantity), 0), 4) as decimal(18, 4)) as unit_cost_usd
from fct_annotation_cost
where getvariable('quarter') is null or quarter = getvariable('quarter')
group by quarter, vendor, unit_type
order by quarter asc, vendor asc, unit_type asc
