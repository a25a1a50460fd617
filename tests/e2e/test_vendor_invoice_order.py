"""Duplicate, revision and credit-note decisions do not depend on the order files arrive in;
invoice-level fee, minimum, discount and tax lines are spread into unit costs exactly.

Config: tests/fixtures/vendors/config (crowdmint: EUR at 1.08, 20 % platform fee on pay;
tessera: JSON, USD). Files (written by :func:`_files`):

crowdmint
  CM-2001       31.01.2026  SFT-GEN 100 tasks x 2.50 = 250 + 50 fee = 300.00
                            PREF-CHAT 200 x 0.35 = 70 + 14 = 84.00; total 384.00 EUR
  CM-2001 copy  the same invoice with CRLF line ends (another file, same lines): an identical
                duplicate, not counted, no warning
  CN-2001-1     15.02.2026  credit note on CM-2001: SFT-GEN 10 x 2.50 + 20 % = -30.00 EUR
  CN-2099-1     credit note on CM-2099, which is never delivered: rejected
  CM-2002       31.01.2026  SFT-GEN 40 x 2.50 + 20 % = 120.00 EUR (kept: issued first)
  CM-2002 later 05.02.2026  same id, no revision, 50 tasks = 150.00 EUR: duplicate
  CM-2003 a/b   31.01.2026 both, same id and revision, 10 vs 12 tasks: conflicting, neither
                counts
  CM-2004       lines 300.00 + 84.00 = 384.00, states 390.00: quarantined whole at ingest
tessera
  TS-2026-01 revision 0 (11250.00) and revision 1 (10880.00): revision 1 counts
  TS-2026-03    see test_invoice_level_lines_are_spread_into_unit_costs

Counted, USD: CM-2001 384 x 1.08 = 414.72; CN-2001-1 -32.40; CM-2002 129.60;
TS-2026-01 10880.00; TS-2026-03 3815.00.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger import ingest, warehouse
from llmledger.paths import Home

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
D = Decimal
CM_HEADER = (
    "Doc type;Invoice;Ref invoice;Date;Line;Project;Task description;Unit;Tasks;Pay per task;"
    "Line amount;Currency;Invoice total\n"
)
# Only what the assertions read, so the slow rest of the project is not rebuilt four times.
SELECT = ["--select", "+fct_annotation_unit_cost", "+rpt_rejected_invoices"]


def _cm(*rows: str, newline: str = "\n") -> str:
    return (CM_HEADER + "".join(r + "\n" for r in rows)).replace("\n", newline)


def _ts_2026_03() -> str:
    lines = [
        ("1", "service", "PREF-CHAT", "PAIRWISE", 1000, "1.20", "1200.00"),
        ("2", "service", "SFT-GEN", "SFT_EXAMPLE", 100, "18.50", "1850.00"),
        ("3", "service", "SFT-GEN", "SFT_EXAMPLE", 10, "20.00", "200.00"),
        ("4", "platform_fee", None, None, None, None, "100.00"),
        ("5", "minimum_fee", "PREF-CHAT", None, None, None, "300.00"),
        ("6", "discount", "SFT-GEN", None, None, None, "95.00"),
        ("7", "sales_tax", None, None, None, None, "260.00"),
    ]
    items = []
    for line_id, kind, project, sku, qty, rate, amount in lines:
        item = {"id": line_id, "type": kind, "description": kind, "amount": amount}
        if project:
            item["project"] = project
        if sku:
            item.update(sku=sku, qty=qty, rate=rate)
        items.append(item)
    document = {
        "vendor": "tessera",
        "invoice_number": "TS-2026-03",
        "issued": "2026-04-02",
        "currency": "USD",
        "service_period": {"start": "2026-03-01", "end": "2026-03-31"},
        "amount_due": "3815.00",
        "lines": items,
    }
    return json.dumps(document, indent=2) + "\n"


def _files() -> dict[str, str]:
    cm_2001 = (
        "Invoice;CM-2001;;31.01.2026;1;SFT-GEN;w;Task;100;2,50;300,00;EUR;384,00",
        "Invoice;CM-2001;;31.01.2026;2;PREF-CHAT;r;Ranking task;200;0,35;84,00;EUR;384,00",
    )
    return {
        "crowdmint/CM-2001.csv": _cm(*cm_2001),
        "crowdmint/CM-2001_resent.csv": _cm(*cm_2001, newline="\r\n"),
        "crowdmint/CN-2001-1.csv": _cm(
            "Credit note;CN-2001-1;CM-2001;15.02.2026;1;SFT-GEN;qa;Task;10;2,50;30,00;EUR;30,00"
        ),
        "crowdmint/CN-2099-1.csv": _cm(
            "Credit note;CN-2099-1;CM-2099;15.02.2026;1;SFT-GEN;qa;Task;4;2,50;12,00;EUR;12,00"
        ),
        "crowdmint/CM-2002.csv": _cm(
            "Invoice;CM-2002;;31.01.2026;1;SFT-GEN;w;Task;40;2,50;120,00;EUR;120,00"
        ),
        "crowdmint/CM-2002_again.csv": _cm(
            "Invoice;CM-2002;;05.02.2026;1;SFT-GEN;w;Task;50;2,50;150,00;EUR;150,00"
        ),
        "crowdmint/CM-2003_a.csv": _cm(
            "Invoice;CM-2003;;31.01.2026;1;SFT-GEN;w;Task;10;2,50;30,00;EUR;30,00"
        ),
        "crowdmint/CM-2003_b.csv": _cm(
            "Invoice;CM-2003;;31.01.2026;1;SFT-GEN;w;Task;12;2,50;36,00;EUR;36,00"
        ),
        "crowdmint/CM-2004.csv": _cm(
            "Invoice;CM-2004;;31.01.2026;1;SFT-GEN;w;Task;100;2,50;300,00;EUR;390,00",
            "Invoice;CM-2004;;31.01.2026;2;PREF-CHAT;r;Ranking task;200;0,35;84,00;EUR;390,00",
        ),
        "tessera/TS-2026-01.json": (
            FIXTURE / "landing/invoices/tessera/TS-2026-01.json"
        ).read_text(),
        "tessera/TS-2026-01_rev1.json": (
            FIXTURE / "landing/invoices/tessera/TS-2026-01_rev1.json"
        ).read_text(),
        "tessera/TS-2026-03.json": _ts_2026_03(),
    }


def _home(root: Path) -> tuple[Home, dict[str, Path]]:
    home = Home.resolve(root).ensure()
    shutil.copytree(FIXTURE / "config", home.config, dirs_exist_ok=True)
    paths = {}
    for name, text in _files().items():
        path = home.landing / "invoices" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
        paths[name] = path
    return home, paths


MART_QUERIES = {
    "cost": "select * from fct_annotation_cost order by all",
    "unit": "select * from fct_annotation_unit_cost order by all",
    "rejected": "select * from rpt_rejected_invoices order by all",
    "versions": "select vendor, invoice_id, _source_file, status, reason_code, message "
    "from intermediate.int_annotation_invoice_versions order by all",
}


def _marts(home: Home) -> dict[str, list[tuple]]:
    con = warehouse.connect_readonly(home)
    try:
        return {name: con.execute(sql).fetchall() for name, sql in MART_QUERIES.items()}
    finally:
        con.close()


def _ingest_one(root: Path, path: Path) -> ingest.IngestResult:
    return ingest.ingest_file(Home.resolve(root), path)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory):
    """Every file in one night, ingested by parallel processes as the DAG's mapped tasks do."""
    home, paths = _home(tmp_path_factory.mktemp("batch"))
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_ingest_one, [home.root] * len(paths), paths.values()))
    warehouse.dbt_build(home, echo=False)
    return home, {Path(r.source_file).name: r for r in results}


def test_invoice_that_does_not_sum_is_quarantined_whole_at_ingest(batch):
    _, results = batch
    result = results["CM-2004.csv"]
    assert (result.rows_loaded, result.rows_quarantined) == (0, 2)
    assert result.reasons == {"invoice_total_mismatch": 2}


def test_decisions(batch):
    home, _ = batch
    marts = _marts(home)
    status = {
        (invoice, Path(file).name): (state, reason)
        for _, invoice, file, state, reason, _ in marts["versions"]
    }
    assert status == {
        ("CM-2001", "CM-2001.csv"): ("current", None),
        ("CM-2001", "CM-2001_resent.csv"): ("duplicate", "duplicate_invoice"),
        ("CN-2001-1", "CN-2001-1.csv"): ("current", None),
        ("CN-2099-1", "CN-2099-1.csv"): ("rejected", "unknown_referenced_invoice"),
        ("CM-2002", "CM-2002.csv"): ("current", None),
        ("CM-2002", "CM-2002_again.csv"): ("duplicate", "duplicate_invoice"),
        ("CM-2003", "CM-2003_a.csv"): ("rejected", "conflicting_duplicate"),
        ("CM-2003", "CM-2003_b.csv"): ("rejected", "conflicting_duplicate"),
        ("TS-2026-01", "TS-2026-01.json"): ("superseded", None),
        ("TS-2026-01", "TS-2026-01_rev1.json"): ("current", None),
        ("TS-2026-03", "TS-2026-03.json"): ("current", None),
    }
    rejected = {(r[1], Path(r[6]).name): r for r in marts["rejected"]}
    assert set(rejected) == {
        ("CM-2001", "CM-2001_resent.csv"),
        ("CN-2099-1", "CN-2099-1.csv"),
        ("CM-2002", "CM-2002_again.csv"),
        ("CM-2003", "CM-2003_a.csv"),
        ("CM-2003", "CM-2003_b.csv"),
        ("CM-2004", "CM-2004.csv"),
    }
    total = rejected["CM-2004", "CM-2004.csv"]
    assert (total[0], total[8], total[10]) == ("crowdmint", "invoice_total_mismatch", 2)
    assert "states a total of 390.00 EUR, but its lines sum to 384.00 EUR" in total[9]
    credit = rejected["CN-2099-1", "CN-2099-1.csv"]
    assert credit[8] == "unknown_referenced_invoice"
    assert "references invoice CM-2099 (not delivered)" in credit[9]
    assert (credit[11], credit[12]) == (D("-12"), "EUR")
    again = rejected["CM-2002", "CM-2002_again.csv"][9]
    assert "already delivered in landing/invoices/crowdmint/CM-2002.csv" in again
    assert "(an identical copy)" in rejected["CM-2001", "CM-2001_resent.csv"][9]


def test_only_counted_invoices_reach_the_marts(batch):
    home, _ = batch
    con = warehouse.connect_readonly(home)
    try:
        per_invoice = dict(
            con.execute(
                "select invoice_id, sum(cost_usd) from fct_annotation_cost group by 1"
            ).fetchall()
        )
        failing = con.execute(
            "select check_name, severity, scope from rpt_reconciliation where not passed "
            "order by scope"
        ).fetchall()
        sft_task = con.execute(
            "select quantity, cost_usd, unit_cost_usd from fct_annotation_unit_cost "
            "where vendor = 'crowdmint' and unit_type = 'task'"
        ).fetchall()
    finally:
        con.close()
    assert per_invoice == {
        "CM-2001": D("414.72"),
        "CN-2001-1": D("-32.40"),
        "CM-2002": D("129.60"),
        "TS-2026-01": D("10880"),
        "TS-2026-03": D("3815"),
    }
    # 100 - 10 + 40 tasks; (300 - 30 + 120) EUR x 1.08 = 421.20 USD -> 3.24 per task
    assert sft_task == [(D(130), D("421.20"), D("3.24"))]
    # only warnings, one per delivery that is not counted and is not an identical copy
    assert {(c, s) for c, s, _ in failing} == {("annotation_invoice_not_counted", "warn")}
    assert [scope.split(" (")[0] for _, _, scope in failing] == [
        "crowdmint CM-2002",
        "crowdmint CM-2003",
        "crowdmint CM-2003",
        "crowdmint CN-2099-1",
    ]


def test_invoice_level_lines_are_spread_into_unit_costs(batch):
    """TS-2026-03 (USD): work lines 1 PREF-CHAT 1000 comparisons x 1.20 = 1200.00,
    2 SFT-GEN 100 examples x 18.50 = 1850.00, 3 SFT-GEN 10 x 20.00 = 200.00 (3250.00);
    invoice-level: platform fee 100.00 and tax 260.00 (no project: over all three by
    amount), minimum 300.00 (PREF-CHAT: line 1 only), discount 95.00 (SFT-GEN: lines 2, 3).
    Total 1200 + 1850 + 200 + 100 + 300 - 95 + 260 = 3815.00.

    In 1e-10 units, magnitudes floored, remainder to the largest weight:
      fee 100:    1200/3250 -> 36.9230769230, 200/3250 -> 6.1538461538,
                  1850/3250 -> 56.9230769230 + remainder 0.0000000002 = 56.9230769232
      tax 260:    96.00, 148.00, 16.00 (exact)
      discount:   -95 x 200/2050 = -9.2682926829(26..), -95 x 1850/2050 = -85.7317073170(73..)
                  - remainder 0.0000000001 = -85.7317073171
    Line 1: 1200 + 36.9230769230 + 300 + 96 = 1632.9230769230 (1000 comparisons)
    Line 2: 1850 + 56.9230769232 - 85.7317073171 + 148 = 1969.1913696061
    Line 3: 200 + 6.1538461538 - 9.2682926829 + 16 = 212.8855534709
    Lines 2+3: 2182.0769230770 (110 examples)
    1632.9230769230 + 2182.0769230770 = 3815.0000000000: the invoice, to the unit.
    """
    home, _ = batch
    con = warehouse.connect_readonly(home)
    try:
        rows = con.execute(
            "select dataset_version, unit_type, quantity, cost_usd, line_cost_usd, "
            "allocated_overhead_usd, unit_cost_usd from fct_annotation_cost "
            "where invoice_id = 'TS-2026-03' order by unit_type"
        ).fetchall()
        lines = con.execute(
            "select line_id, cost_usd from intermediate.int_annotation_costs_spread "
            "where invoice_id = 'TS-2026-03' order by line_id"
        ).fetchall()
        own = dict(con.execute("select dataset_version, own_cost_usd from dim_dataset").fetchall())
    finally:
        con.close()
    assert lines == [
        ("1", D("1632.9230769230")),
        ("2", D("1969.1913696061")),
        ("3", D("212.8855534709")),
    ]
    assert rows == [
        (
            "human-pref-v1",
            "comparison",
            D(1000),
            D("1632.9230769230"),
            D(1200),
            D("432.9230769230"),
            D("1.6329230769"),
        ),
        (
            "human-sft-v1",
            "example",
            D(110),
            D("2182.0769230770"),
            D(2050),
            D("132.0769230770"),
            D("19.8370629371"),
        ),
    ]
    assert sum(r[3] for r in rows) == D("3815")
    # the spread follows the work into the datasets: pref = 414.72 x 84/384 (90.72)
    # + TS-2026-01's 6000 - 300 + 1632.9230769230
    assert own["human-pref-v1"] == D("90.72") + D("5700") + D("1632.9230769230")


def _ingest_in_order(home: Home, paths: dict[str, Path], names: list[str]) -> None:
    for name in names:
        ingest.ingest_file(home, paths[name])


def test_reverse_order_over_two_nights_gives_the_same_marts(batch, tmp_path: Path):
    """Night 1 brings the credit note before its invoice, and the later-issued CM-2002
    before the original: CN-2001-1 is rejected that night and counts on night 2; the
    CM-2002 issued on 05.02 counts on night 1 and is a duplicate once the original is in."""
    home, paths = _home(tmp_path / "reverse")
    names = list(reversed(list(paths)))
    night1 = [n for n in names if "CN-2001" in n or "again" in n]
    _ingest_in_order(home, paths, night1)
    warehouse.dbt_build(home, SELECT, echo=False)
    first = _marts(home)
    assert [(r[1], r[8]) for r in first["rejected"] if r[1] == "CN-2001-1"] == [
        ("CN-2001-1", "unknown_referenced_invoice")
    ]
    assert {(r[1], r[7]) for r in first["cost"]} == {("CM-2002", D("162.00"))}  # 150 EUR

    _ingest_in_order(home, paths, [n for n in names if n not in night1])
    warehouse.dbt_build(home, SELECT, echo=False)
    assert _marts(home) == _marts(batch[0])


def test_forward_order_gives_the_same_marts(batch, tmp_path: Path):
    home, paths = _home(tmp_path / "forward")
    _ingest_in_order(home, paths, list(paths))
    warehouse.dbt_build(home, SELECT, echo=False)
    assert _marts(home) == _marts(batch[0])
