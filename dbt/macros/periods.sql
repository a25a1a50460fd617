{#-
  The posting period of each quarter in `quarters` (a relation or CTE with a column `quarter`,
  'YYYYQn'), given `closed` (stg_periods__closed_periods: quarter, quarter_index, closed_at):
  an open quarter posts to itself; a closed quarter's further cost posts to the first quarter
  after it that is not closed (a prior-period adjustment). A query (use it in parentheses or as
  a CTE's body) returning quarter, posting_period, is_closed, closed_at: one row per quarter.
  It depends on the closed quarters only, so a model can post its own quarters without waiting
  for the spend ledger (fct_billing_charge).
-#}
{#- A quarter 'YYYYQn' as a count of quarters since year 0 (consecutive quarters differ by 1). -#}
{% macro quarter_index(quarter) -%}
    cast(left({{ quarter }}, 4) as integer) * 4 + cast(right({{ quarter }}, 1) as integer) - 1
{%- endmacro %}

{% macro quarter_posting_periods(quarters, closed) -%}
    with indexed as (
        select
            quarter,
            {{ quarter_index('quarter') }} as quarter_index
        from {{ quarters }}
    ),

    -- Candidates from the quarter itself up to one past as many quarters as are closed: the
    -- first that is not closed is always among them.
    candidates as (
        select
            indexed.quarter,
            indexed.quarter_index,
            candidate.candidate_index
        from indexed
        cross join
            lateral (
                select unnest(range(
                    indexed.quarter_index, indexed.quarter_index + (select count(*) from {{ closed }}) + 1
                )) as candidate_index
            ) as candidate
    ),

    first_open as (
        select
            candidates.quarter,
            min(candidates.candidate_index) as posting_index
        from candidates
        left join {{ closed }} as closed_quarters on candidates.candidate_index = closed_quarters.quarter_index
        where closed_quarters.quarter is null
        group by candidates.quarter
    )

    select
        first_open.quarter,
        cast(first_open.posting_index // 4 as varchar) || 'Q'
        || cast(first_open.posting_index % 4 + 1 as varchar) as posting_period,
        closed_quarters.quarter is not null as is_closed,
        closed_quarters.closed_at
    from first_open
    left join {{ closed }} as closed_quarters on first_open.quarter = closed_quarters.quarter
{%- endmacro %}
