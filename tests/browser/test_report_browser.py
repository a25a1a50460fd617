"""The quarterly review opened from disk in headless Chromium (Debian packages ``chromium`` and
``chromium-driver``; `.ci/run` installs them), through chromedriver, without network.

Checks that every section and every chart rendered (laid out with a size, bars drawn), that the
page's visible text carries the headline numbers, equal to the warehouse's own figures
formatted as finance expects, and saves a full-page screenshot as a test artifact.

Skipped when Chromium is not installed on a developer machine; fails when ``CI=true``.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from llmledger.report import build_report, fmt
from llmledger.warehouse import connect_readonly

from .webdriver import CHROMIUM_NAMES, DRIVER_NAMES, Browser, find

pytestmark = [pytest.mark.airflow, pytest.mark.e2e]

QUARTER = "2026Q3"
SECTION_IDS = [
    "summary",
    "spend-by-activity",
    "spend-by-model-generation",
    "data-share",
    "idle-untagged",
    "human-data",
    "dataset-balances",
    "flops",
    "reconciliation",
    "prior-period-adjustments",
    "movers",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver = find(CHROMIUM_NAMES), find(DRIVER_NAMES)
    if not (chromium and driver):
        missing = "chromium" if not chromium else "chromedriver"
        reason = f"{missing} is not installed (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}: .ci/run must install it")
        pytest.skip(reason)
    b = Browser(chromium, driver, tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def demo_report(demo_warehouse_home, tmp_path_factory):
    return build_report(demo_warehouse_home, QUARTER, tmp_path_factory.mktemp("report"))


def warehouse_figures(home) -> dict[str, str]:
    """The headline numbers, queried from the marts independently of the report code."""
    con = connect_readonly(home)
    try:
        [(total,)] = con.execute(
            "select sum(cost_usd) from fct_quarterly_allocation where quarter = ?", [QUARTER]
        ).fetchall()
        [(ytd,)] = con.execute(
            "select sum(cost_usd) from fct_quarterly_allocation where quarter like '2026Q%'"
            " and quarter <= ?",
            [QUARTER],
        ).fetchall()
        [(untagged, idle)] = con.execute(
            "select sum(cost_usd) filter (where activity = 'untagged'),"
            " sum(cost_usd) filter (where activity = 'idle')"
            " from fct_quarterly_allocation where quarter = ?",
            [QUARTER],
        ).fetchall()
        [(known, pool)] = con.execute(
            "select sum(allocated_cost_usd) filter (where activity <> 'untagged'),"
            " sum(allocated_cost_usd) + (select sum(idle_cost_usd) from fct_idle_cost"
            "   where hour >= '2026-07-01' and hour < '2026-10-01')"
            " from fct_cost_allocation where hour >= '2026-07-01' and hour < '2026-10-01'"
        ).fetchall()
        shares = con.execute("select model_generation, data_share from fct_data_share").fetchall()
        [(failed,)] = con.execute(
            "select count(*) from rpt_reconciliation where not passed"
        ).fetchall()
    finally:
        con.close()
    figures = {
        "total_spend": fmt.money(total),
        "ytd_spend": fmt.money(ytd),
        "untagged_spend": fmt.money(untagged),
        "idle_spend": fmt.money(idle),
        "tag_coverage": fmt.share(Decimal(known) / Decimal(pool)),
        "checks_not_passed": str(failed),
    }
    figures.update({f"data_share_{g}": fmt.share(s) for g, s in shares})
    return figures


def test_report_renders_in_chromium_with_the_warehouse_numbers(
    browser, demo_report, demo_warehouse_home, tmp_path_factory
):
    browser.open(demo_report.html.as_uri())
    state = browser.script(
        """
        const sections = [...document.querySelectorAll('section.report-section')].map(s => ({
            id: s.id, height: s.getBoundingClientRect().height, text: s.innerText}));
        const charts = [...document.querySelectorAll('svg.chart')].map(c => ({
            id: c.id, width: c.getBoundingClientRect().width,
            height: c.getBoundingClientRect().height,
            bars: [...c.querySelectorAll('rect.bar')].filter(
                r => r.getBoundingClientRect().width > 0).length}));
        const headline = Object.fromEntries([...document.querySelectorAll('[data-headline]')]
            .map(d => [d.dataset.headline, d.querySelector('dd').innerText]));
        return {sections, charts, headline, text: document.body.innerText,
                height: document.documentElement.scrollHeight,
                scripts: document.scripts.length};
        """
    )
    sections = {s["id"]: s for s in state["sections"]}
    assert list(sections) == SECTION_IDS
    assert all(s["height"] > 50 for s in sections.values()), sections.keys()
    expected_charts = {c.id for s in demo_report.sections for c in s.charts}
    charts = {c["id"]: c for c in state["charts"]}
    assert set(charts) == expected_charts and len(charts) >= 6
    for chart in charts.values():
        assert chart["width"] > 300 and chart["height"] > 40 and chart["bars"] > 0, chart
    assert state["scripts"] == 0

    figures = warehouse_figures(demo_warehouse_home)
    for key, text in figures.items():
        assert state["headline"][key] == text, key
        assert text in state["text"], key
    assert figures["total_spend"] == "1,556,732.84"  # the demo's 2026Q3 spend, to the cent
    # every table shown has a visible caption, and every unavailable section says why
    for table in demo_report.tables:
        assert table.title in state["text"]
    for section in demo_report.sections:
        if section.unavailable:
            assert "Not available" in sections[section.id]["text"]

    artifacts = tmp_path_factory.mktemp("artifacts")
    browser.set_window(1280, min(int(state["height"]) + 100, 16000))
    shot = browser.screenshot(artifacts / f"allocation_review_{QUARTER}.png")
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")
