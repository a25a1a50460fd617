-- One row per charge quarter the books know of (spend, or a closed quarter's snapshot): the
-- quarter its cost posts to now. An open quarter posts to itself; a closed quarter's further
-- cost posts to the first quarter after it that is not closed (a prior-period adjustment).
with ledger as (
    select * from {{ ref('int_spend_ledger') }}
),

closed as (
    select * from {{ ref('stg_periods__closed_periods') }}
),

frozen as (
    select * from {{ ref('stg_periods__frozen_quarterly_allocation') }}
),

charge_quarters as (
    select distinct quarter from ledger
    union
    select quarter from frozen
    union
    select quarter from closed
),

indexed as (
    select
        quarter,
        cast(left(quarter, 4) as integer) * 4 + cast(right(quarter, 1) as integer) - 1 as quarter_index
    from charge_quarters
),

-- Candidates from the quarter itself up to one past as many quarters as are closed: the first
-- that is not closed is always among them.
candidates as (
    select
        indexed.quarter,
        indexed.quarter_index,
        candidate.candidate_index
    from indexed
    cross join
        lateral (
            select unnest(range(
                indexed.quarter_index, indexed.quarter_index + (select count(*) from closed) + 1
            )) as candidate_index
        ) as candidate
),

first_open as (
    select
        candidates.quarter,
        min(candidates.candidate_index) as posting_index
    from candidates
    left join closed on candidates.candidate_index = closed.quarter_index
    where closed.quarter is null
    group by candidates.quarter
),

final as (
    select
        first_open.quarter,
        cast(first_open.posting_index // 4 as varchar) || 'Q'
        || cast(first_open.posting_index % 4 + 1 as varchar) as posting_period,
        closed.quarter is not null as is_closed,
        closed.closed_at
    from first_open
    left join closed on first_open.quarter = closed.quarter
)

select * from final
