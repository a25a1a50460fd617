-- Reconciliation failures: every check that does not add up, worst first.
-- Answers: do the numbers add up, and if not, where and by how much? Empty means they do.
-- Parameters: none.
-- Marts: rpt_reconciliation.
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
