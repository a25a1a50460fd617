"""Closing a quarter freezes it; cost that arrives later posts to the next open quarter.

Scenario (tests/fixtures/periods/, provider NeoGPU, billing account ACC-P, USD, no clusters):

  before the close (neogpu_before_close.csv):
    Aug 2026  bucket-1 storage, no tags            300.00  -> overhead         2026Q3
    Sep 2026  api-1 synthetic-data API, tagged     120.00  -> data.generation  2026Q3
    Oct 2026  bucket-1 storage                     310.00  -> overhead         2026Q4
  `llmledger close --quarter 2026Q3`
  after the close (neogpu_after_close.csv, invoiced in November):
    Sep 2026  bucket-1 storage under-billed         45.50  -> overhead, charge 2026Q3
    Sep 2026  api-1 credit (Correction)            -20.00  -> data.generation, charge 2026Q3
    Nov 2026  bucket-1 storage                       5.00  -> overhead         2026Q4

By hand, after the late file is ingested and the warehouse rebuilt:
  books of 2026Q3 (closed, from the snapshot): overhead 300.00, data.generation 120.00
      = 420.00, unchanged.
  books of 2026Q4: own overhead 310.00 + 5.00 = 315.00; prior-period adjustments for charge
      quarter 2026Q3: overhead +45.50, data.generation -20.00 (net +25.50); total 340.50.
  charge quarter 2026Q3 (incurred) = 300 + 120 + 45.50 - 20 = 445.50 = 420.00 + 25.50.
  grand total 420.00 + 340.50 = 760.50 = every bill's effective cost.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import cli, ingest, periods, warehouse
from llmledger.paths import Home

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "periods"
D = Decimal
Q3 = "2026Q3"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()
    }


def run_cli(capsys, home: Home, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--home", str(home.root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):
    """Builds, closes 2026Q3, records the snapshot and the report, ingests the late file,
    tries to close with a stale warehouse, rebuilds. Returns what the tests compare."""
    tmp = tmp_path_factory.mktemp("periods")
    home = Home.resolve(tmp / "home").ensure()
    ingest.ingest_paths(home, [FIXTURE / "neogpu_before_close.csv"], kind="billing")
    warehouse.dbt_build(home, echo=False)
    assert cli.main(["--home", str(home.root), "close", "--quarter", Q3]) == 0
    snapshot = home.root / "periods" / Q3
    at_close = tree_digest(snapshot)
    assert (
        cli.main(["--home", str(home.root), "report", "--quarter", Q3, "--out", str(tmp / "r1")])
        == 0
    )
    report_at_close = tree_digest(tmp / "r1")

    ingest.ingest_paths(home, [FIXTURE / "neogpu_after_close.csv"], kind="billing")
    try:
        periods.close(home, "2026Q4")
        stale_error = None
    except periods.PeriodError as exc:
        stale_error = str(exc)
    warehouse.dbt_build(home, echo=False)
    con = warehouse.connect_readonly(home)
    yield {
        "home": home,
        "tmp": tmp,
        "snapshot": snapshot,
        "at_close": at_close,
        "report_at_close": report_at_close,
        "stale_error": stale_error,
        "con": con,
    }
    con.close()


def test_closed_quarter_snapshot_is_unchanged_byte_for_byte(scenario):
    snapshot = scenario["snapshot"]
    assert tree_digest(snapshot) == scenario["at_close"]
    manifest = periods.verify(scenario["home"], Q3)  # every file's sha256 as recorded
    listed = {e["path"]: e["sha256"] for e in manifest["files"]}
    assert listed == {k: v for k, v in scenario["at_close"].items() if k != "manifest.json"}
    assert manifest["quarter"] == Q3 and manifest["closed_by"]
    assert "marts/fct_quarterly_allocation.parquet" in listed
    assert "report/allocation_review_2026Q3.html" in listed


def test_rereading_the_closed_quarter_from_the_warehouse_gives_the_same_bytes(scenario):
    """The warehouse's rows posted to 2026Q3, exported again after the late data, are the
    snapshot's bytes: the closed books are read from the snapshot, not recomputed."""
    again = scenario["tmp"] / "reexport"
    periods.export_marts(scenario["home"], Q3, again)
    for mart in ("fct_quarterly_allocation", "fct_billing_charge"):
        assert sha(again / f"{mart}.parquet") == sha(
            scenario["snapshot"] / "marts" / f"{mart}.parquet"
        ), mart
    rows = (
        scenario["con"]
        .execute(
            "select activity, cost_usd from fct_quarterly_allocation where posting_period = ? order by 1",
            [Q3],
        )
        .fetchall()
    )
    assert rows == [("data.generation", D("120")), ("overhead", D("300"))]


def test_report_of_the_closed_quarter_is_byte_reproducible(scenario, capsys):
    out = scenario["tmp"] / "r2"
    code, text, _ = run_cli(capsys, scenario["home"], "report", "--quarter", Q3, "--out", str(out))
    assert code == 0 and "is closed" in text
    assert tree_digest(out) == scenario["report_at_close"]
    html = (out / "allocation_review_2026Q3.html").read_text(encoding="utf-8")
    closed_at = periods.closed_period(scenario["home"], Q3).closed_at
    assert f"{closed_at:%Y-%m-%d %H:%M} UTC" in html


def test_late_cost_is_a_prior_period_adjustment_in_the_next_open_quarter(scenario):
    con = scenario["con"]
    adjustments = con.execute(
        "select posting_period, charge_period, activity, model_generation, adjustment_usd "
        "from fct_prior_period_adjustment order by all"
    ).fetchall()
    assert adjustments == [
        ("2026Q4", Q3, "data.generation", "unassigned", D("-20")),
        ("2026Q4", Q3, "overhead", "unassigned", D("45.5")),
    ]
    books = dict(
        con.execute(
            "select posting_period, sum(cost_usd) from fct_quarterly_allocation group by 1"
        ).fetchall()
    )
    assert books == {Q3: D("420"), "2026Q4": D("340.5")}
    by_charge = dict(
        con.execute(
            "select quarter, sum(cost_usd) from fct_quarterly_allocation group by 1"
        ).fetchall()
    )
    assert by_charge == {Q3: D("445.5"), "2026Q4": D("315")}
    late_rows = con.execute(
        "select resource_id, billed_cost, posting_period from fct_billing_charge "
        "where is_prior_period_adjustment order by 1, 2"
    ).fetchall()
    assert late_rows == [("api-1", D("-20"), "2026Q4"), ("bucket-1", D("45.5"), "2026Q4")]


def test_grand_totals_still_reconcile(scenario):
    con = scenario["con"]
    assert con.execute("select count(*) from rpt_reconciliation where not passed").fetchall() == [
        (0,)
    ]
    checks = dict(
        con.execute(
            "select scope, actual from rpt_reconciliation where check_name = 'charge_period_total'"
        ).fetchall()
    )
    assert checks == {Q3: D("445.5"), "2026Q4": D("315")}
    total = con.execute("select sum(cost_usd) from fct_quarterly_allocation").fetchall()
    assert total == [(D("760.5"),)]


def test_close_refuses_a_stale_build_and_a_second_close(scenario, capsys):
    assert scenario["stale_error"] is not None
    assert "not current" in scenario["stale_error"] and "llmledger build" in scenario["stale_error"]
    code, _, err = run_cli(capsys, scenario["home"], "close", "--quarter", Q3)
    assert code == 1 and "already closed" in err and "reopen" in err
    assert tree_digest(scenario["snapshot"]) == scenario["at_close"]


def test_a_changed_snapshot_file_is_refused_by_name(tmp_path, scenario):
    """Tampering is caught when the snapshot is read (build, report): here on a copy."""
    import shutil

    home = Home.resolve(tmp_path / "copy")
    shutil.copytree(scenario["home"].root / "periods", home.root / "periods")
    target = home.root / "periods" / Q3 / "marts" / "fct_quarterly_allocation.parquet"
    target.write_bytes(target.read_bytes() + b"x")
    with pytest.raises(periods.PeriodError, match=r"fct_quarterly_allocation\.parquet has sha256"):
        periods.verify(home, Q3)


def test_reopen_needs_a_reason_is_logged_and_the_quarter_rebuilds_live(scenario, capsys):
    """Runs last: reopening changes the module's home."""
    home = scenario["home"]
    scenario["con"].close()
    code, _, err = run_cli(capsys, home, "reopen", "--quarter", Q3)
    assert code == 1 and "needs a reason" in err
    code, out, _ = run_cli(
        capsys, home, "reopen", "--quarter", Q3, "--reason", "auditor restated Sep"
    )
    assert code == 0 and "reopened 2026Q3" in out
    log = periods.read_log(home)
    assert [e["action"] for e in log] == ["close", "reopen"]
    assert log[1]["reason"] == "auditor restated Sep" and log[1]["user"] and log[1]["at"]
    assert periods.closed_period(home, Q3) is None
    archived = list((home.root / "periods" / "_reopened").glob("2026Q3_*"))
    assert len(archived) == 1 and (archived[0] / "manifest.json").exists()
    assert json.loads((archived[0] / "manifest.json").read_text())["quarter"] == Q3

    warehouse.dbt_build(home, echo=False)
    con = warehouse.connect_readonly(home)
    try:
        books = dict(
            con.execute(
                "select posting_period, sum(cost_usd) from fct_quarterly_allocation group by 1"
            ).fetchall()
        )
        assert books == {Q3: D("445.5"), "2026Q4": D("315")}
        assert con.execute("select count(*) from fct_prior_period_adjustment").fetchall() == [(0,)]
    finally:
        con.close()
