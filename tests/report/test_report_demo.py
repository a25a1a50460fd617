"""The quarterly review on the demo warehouse (shared with the DAG tests): complete sections,
figures equal to the marts and to what the demo generator wrote, and the demo's own report."""

from __future__ import annotations

import pytest

from llmledger import cli
from llmledger.report import build_report
from llmledger.warehouse import connect_readonly

pytestmark = [pytest.mark.airflow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def review(demo_warehouse_home, tmp_path_factory):
    return build_report(demo_warehouse_home, "2026Q3", tmp_path_factory.mktemp("review"))


def one(home, sql):
    con = connect_readonly(home)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def table(review, table_id):
    return next(t for t in review.tables if t.id == table_id)


def test_sections_of_existing_marts_are_complete(review):
    unavailable = {s.id for s in review.sections if s.unavailable}
    # only sections whose mart another release adds may be unavailable
    assert unavailable <= {"flops", "prior-period-adjustments"}
    for section in review.sections:
        if section.id not in unavailable:
            assert section.tables, section.id
    assert len([c for s in review.sections for c in s.charts]) == 7


def test_figures_equal_the_marts(review, demo_warehouse_home, demo_run):
    home = demo_warehouse_home
    by_quarter = dict(
        one(home, "select quarter, sum(cost_usd) from fct_quarterly_allocation group by 1")
    )
    h = {k: v for k, (_, v, _) in review.headline.items()}
    assert h["total_spend"] == by_quarter["2026Q3"]
    assert h["previous_spend"] == by_quarter["2026Q2"]
    assert h["ytd_spend"] == by_quarter["2026Q1"] + by_quarter["2026Q2"] + by_quarter["2026Q3"]
    # the generation split adds up to the activity split
    assert table(review, "spend_by_model_generation").total[1] == h["total_spend"]
    # GPU pool cost of the quarter = allocated + idle of its hours
    [(allocated, idle)] = one(
        home,
        "select (select sum(allocated_cost_usd) from fct_cost_allocation where hour >= '2026-07-01'"
        " and hour < '2026-10-01'), (select sum(idle_cost_usd) from fct_idle_cost"
        " where hour >= '2026-07-01' and hour < '2026-10-01')",
    )
    assert table(review, "gpu_cost_coverage").total[1] == allocated + idle
    assert h["idle_spend"] == idle
    # human data: the quarter's annotation invoices
    [(annotation,)] = one(
        home, "select sum(cost_usd) from fct_annotation_cost where quarter = '2026Q3'"
    )
    assert h["annotation_spend"] == annotation > 0
    assert h["checks_not_passed"] == 0


def test_demo_writes_the_review_of_its_last_full_quarter(demo_warehouse_home, capsys):
    assert cli._demo_report(demo_warehouse_home) == 0
    out = capsys.readouterr().out
    path = demo_warehouse_home.reports / "2026Q3" / "allocation_review_2026Q3.html"
    assert f"quarterly allocation review 2026Q3: {path}" in out
    assert path.exists() and (path.parent / "allocation_review_2026Q3.xlsx").exists()
