-- Every check that does not add up, worst first. Empty means the books balance.
select
    check_name,
    severity,
    scope,
    expected,
    actual,
    difference
from rpt_reconciliation
where not passed
order by severity asc, abs(difference) desc, check_name asc, scope asc
