"""The quarterly allocation review on a small hand-made warehouse with hostile names.

The warehouse (marts written directly with DuckDB, no dbt) for 2026Q3:

fct_quarterly_allocation (USD)        2026Q1   2026Q2   2026Q3
  data.human / unassigned               100.00      -     300.00
  training.pretrain / =cmd|' /C calc'!A0   -     400.00  1000.00
  data.acquisition / unassigned            -      80.00      -
  untagged / unassigned                    -        -      50.00
  -> 2026Q3 1,350.00; 2026Q2 480.00; change 870.00; 2026 YTD 100 + 480 + 1350 = 1,930.00
  movers, largest first: training.pretrain +600.00, data.human +300.00,
  data.acquisition (80.00) (-100.0 %), untagged +50.00

GPU pools in 2026Q3 (cluster c1): job 1 training 1,000.00, job 2 untagged 50.00, idle 150.00
  (a 2026Q2 job of 400.00 and idle of 99.00 at 23:00 on 30 June must not count)
  -> pool 1,200.00; tag coverage 1000 / 1200 = 83.3 %

Annotation, vendor '=HYPERLINK(...)': 2026Q3 100 items for 300.00 -> 3.00 per item;
  2026Q2 50 items for 125.00 -> 2.50; change +20.0 %.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from llmledger import cli
from llmledger.paths import Home
from llmledger.report import Quarter, QuarterError, build_report, fmt, last_full_quarter

D = Decimal
GEN = "=cmd|' /C calc'!A0"
VENDOR = '=HYPERLINK("http://evil.example/","click me")'
VENDOR2 = "<img src=x onerror=alert(1)>"
JOB_NAME = '<script>alert("job")</script>'
DATASET = "@SUM(1+1)*cmd|' /C calc'!A0"
HOSTILE_TEXT = (GEN, VENDOR, VENDOR2, JOB_NAME, DATASET, "-2+3", "+cmd", "\tTAB")

SCHEMA = """
create table fct_quarterly_allocation (quarter varchar, activity varchar,
    model_generation varchar, cost_usd decimal(38, 10));
insert into fct_quarterly_allocation values
    ('2026Q1', 'data.human', 'unassigned', 100), ('2026Q3', 'data.human', 'unassigned', 300),
    ('2026Q2', 'training.pretrain', $gen, 400), ('2026Q3', 'training.pretrain', $gen, 1000),
    ('2026Q2', 'data.acquisition', 'unassigned', 80), ('2026Q3', 'untagged', 'unassigned', 50);
create table fct_cost_allocation (job_key varchar, job_id varchar, cluster varchar,
    hour timestamp, gpu_hours decimal(38, 10), allocated_cost_usd decimal(38, 10),
    activity varchar, model_generation varchar, dataset_version varchar);
insert into fct_cost_allocation values
    ('c1/1', '1', 'c1', '2026-07-01 00:00', 10, 1000, 'training.pretrain', $gen, null),
    ('c1/2', '2', 'c1', '2026-07-01 01:00', 1, 50, 'untagged', null, null),
    ('c1/3', '3', 'c1', '2026-06-30 23:00', 5, 400, 'untagged', null, null);
create table fct_idle_cost (cluster varchar, hour timestamp, idle_gpu_hours decimal(38, 10),
    idle_cost_usd decimal(38, 10));
insert into fct_idle_cost values
    ('c1', '2026-07-01 00:00', 2, 150), ('c1', '2026-06-30 23:00', 1, 99);
create schema intermediate;
create table intermediate.int_jobs_tagged (job_key varchar, job_name varchar, account varchar,
    user_name varchar, comment varchar, tag_problem varchar, is_latest_record boolean);
insert into intermediate.int_jobs_tagged values
    ('c1/2', $job, '@SUM(A1)', '-2+3', '+cmd', 'no rule matched', true);
create table fct_annotation_cost (vendor varchar, invoice_id varchar, dataset_version varchar,
    unit_type varchar, quarter varchar, line_count bigint, quantity decimal(38, 10),
    cost_usd decimal(38, 10), unit_cost_usd decimal(38, 10));
insert into fct_annotation_cost values
    ($vendor, 'I-1', $dataset, 'item', '2026Q3', 2, 100, 300, 3),
    ($vendor, 'I-0', $dataset, 'item', '2026Q2', 1, 50, 125, 2.5),
    ($vendor2, 'I-2', 'ds', 'hour', '2026Q1', 1, 1, 1, 1);
create table fct_data_share (model_generation varchar, data_cost_usd decimal(38, 10),
    training_cost_usd decimal(38, 10), data_share decimal(18, 10), target_share decimal(18, 10),
    efficiency_multiplier decimal(38, 10), break_even_share decimal(18, 10));
insert into fct_data_share values ($gen, 400, 600, 0.4, 0.8, 2, 0.5);
create table dim_dataset (dataset_version varchar, dataset_name varchar, kind varchar,
    own_cost_usd decimal(38, 10), inherited_cost_usd decimal(38, 10),
    total_cost_usd decimal(38, 10), amortized_usd decimal(38, 10), balance_usd decimal(38, 10));
insert into dim_dataset values ($dataset, E'\\tTAB', 'other', 300, 0, 300, 100, 200);
create table rpt_reconciliation (check_name varchar, scope varchar, severity varchar,
    expected decimal(38, 10), actual decimal(38, 10), difference decimal(38, 10), passed boolean);
insert into rpt_reconciliation values
    ('pool_conservation', 'c1 2026-07-01 00:00', 'fail', 1200, 1200, 0, true),
    ('billing_invoice_total', '<INV-"1">', 'fail', 10, 11, 1, false);
"""


def make_warehouse(root: Path, skip: tuple[str, ...] = ()) -> Home:
    home = Home.resolve(root)
    root.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home.warehouse))
    params = {"gen": GEN, "vendor": VENDOR, "vendor2": VENDOR2, "job": JOB_NAME, "dataset": DATASET}
    for statement in SCHEMA.split(";"):
        if not statement.strip() or any(f" {name} " in statement for name in skip):
            continue
        used = {k: v for k, v in params.items() if f"${k}" in statement}
        con.execute(statement, used)
    con.close()
    return home


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    home = make_warehouse(tmp_path_factory.mktemp("hostile") / "home")
    return build_report(home, "2026Q3")


def table(report, table_id):
    return next(t for t in report.tables if t.id == table_id)


# --- figures -----------------------------------------------------------------------------


def test_headline_figures(report):
    h = {k: v for k, (_, v, _) in report.headline.items()}
    assert h["total_spend"] == D("1350")
    assert h["previous_spend"] == D("480")
    assert h["ytd_spend"] == D("1930")
    assert h["tag_coverage"] == D(1000) / D(1200)
    assert h["untagged_spend"] == D("50")
    assert h["idle_spend"] == D("150")
    assert h["checks_not_passed"] == 1


def test_spend_by_activity_has_previous_quarter_change_and_ytd(report):
    rows = {r[0]: r for r in table(report, "spend_by_activity").rows}
    assert rows["training.pretrain"][1:] == (D(1000), D(400), D(600), D("1.5"), D(1400))
    assert rows["data.acquisition"][1:] == (D(0), D(80), D(-80), D(-1), D(80))
    assert rows["data.human"][2] == 0 and rows["data.human"][4] is None  # no base: no %
    assert table(report, "spend_by_activity").total[1:4] == (D(1350), D(480), D(870))


def test_movers_largest_first(report):
    rows = table(report, "movers").rows
    assert [(r[0], r[4]) for r in rows] == [
        ("training.pretrain", D(600)),
        ("data.human", D(300)),
        ("data.acquisition", D(-80)),
        ("untagged", D(50)),
    ]


def test_coverage_counts_only_the_quarter(report):
    [row] = table(report, "gpu_cost_coverage").rows
    assert row == ("c1", D(1200), D(1000), D(50), D(150), D(1000) / D(1200), D(1000) / D(1050))
    [job] = table(report, "top_untagged_jobs").rows
    assert job[1] == "2" and job[2] == JOB_NAME and job[-1] == D(50)


def test_annotation_unit_costs_against_previous_quarter(report):
    [row] = table(report, "annotation_unit_costs").rows
    assert row[0] == VENDOR
    assert row[5:] == (D(300), D(3), D("2.5"), D("0.2"))


def test_html_shows_finance_formatting(report):
    html = report.html.read_text()
    for text in ("1,350.00", "1,930.00", "83.3 %", "(80.00)", "(100.0 %)", "+20.0 %", "+150.0 %"):
        assert text in html, text


# --- sections whose mart is missing -------------------------------------------------------


def test_missing_marts_are_said_plainly(report):
    sections = {s.id: s for s in report.sections}
    assert "no FLOPs cross-check mart" in sections["flops"].unavailable
    assert "no prior-period adjustment mart" in sections["prior-period-adjustments"].unavailable
    assert sections["dataset-balances"].unavailable is None
    assert "fct_dataset_balance" in sections["dataset-balances"].intro
    html = report.html.read_text()
    assert html.count('class="unavailable"') == 2


def test_a_warehouse_with_few_marts_still_gives_a_report(tmp_path):
    home = make_warehouse(
        tmp_path / "home", skip=("fct_annotation_cost", "fct_idle_cost", "dim_dataset")
    )
    report = build_report(home, "2026Q3", tmp_path / "out")
    sections = {s.id: s for s in report.sections}
    assert "fct_idle_cost is not in this warehouse" in sections["idle-untagged"].unavailable
    assert "fct_annotation_cost is not in this warehouse" in sections["human-data"].unavailable
    assert "fct_dataset_balance, dim_dataset are not" in sections["dataset-balances"].unavailable
    assert sections["spend-by-activity"].unavailable is None
    assert report.html.exists() and report.xlsx.exists()


def test_fct_dataset_balance_is_used_when_present(tmp_path):
    home = make_warehouse(tmp_path / "home")
    con = duckdb.connect(str(home.warehouse))
    con.execute(
        "create table fct_dataset_balance (dataset_version varchar, quarter varchar,"
        " opening_usd decimal(38,10), additions_usd decimal(38,10),"
        " amortization_usd decimal(38,10), closing_usd decimal(38,10))"
    )
    # 100 + 50 - 30 = 120 closes; a row of another quarter is left out
    con.execute("insert into fct_dataset_balance values ('ds', '2026Q3', 100, 50, 30, 120)")
    con.execute("insert into fct_dataset_balance values ('ds', '2026Q2', 0, 100, 0, 100)")
    con.close()
    report = build_report(home, "2026Q3", tmp_path / "out")
    balance = table(report, "dataset_balance")
    assert balance.rows == [("ds", D(100), D(50), D(30), D(120), D(0))]
    assert report.headline["dataset_balance"][1] == D(120)


# --- safety -------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)


def test_input_text_is_escaped_in_html(report):
    html = report.html.read_text()
    parsed = _Tags()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert not any(a.startswith("on") for a in parsed.attrs)
    assert "&lt;script&gt;alert(&quot;job&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" not in html  # 2026Q1 only: not shown at all
    assert "&lt;INV-&quot;1&quot;&gt;" in html  # a reconciliation scope
    # nothing is fetched: no link, stylesheet, image or script source outside the file
    assert not any(x in html for x in ('src="', 'href="http', "<link", "url("))


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def test_csv_cells_never_start_a_formula(report):
    seen = set()
    for path in report.csvs:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                for cell in row:
                    seen.add(cell)
                    if cell.startswith(fmt.FORMULA_TRIGGERS):
                        assert _is_number(cell), (path.name, cell)
    assert "'" + GEN in seen and "'" + VENDOR in seen and "'@SUM(A1)" in seen
    assert "'-2+3" in seen and "'+cmd" in seen and "'" + DATASET in seen and "'\tTAB" in seen


def test_xlsx_cells_are_never_formulas(report):
    from openpyxl import load_workbook

    book = load_workbook(report.xlsx)
    assert len(book.sheetnames) == len(report.tables) + 1  # one per table, plus About
    values = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    values.add(cell.value)
                    assert not cell.value.startswith(fmt.FORMULA_TRIGGERS), cell.value
    assert "'" + VENDOR in values and "'" + JOB_NAME not in values and JOB_NAME in values
    money = book["01 spend_by_activity"]
    assert money["B3"].value == 1000 and money["B3"].number_format.startswith("#,##0.00")


def test_every_table_has_a_csv_extract(report):
    assert [p.name for p in report.csvs] == [
        f"{i:02d}_{t.id}.csv" for i, t in enumerate(report.tables, start=1)
    ]
    with report.csvs[0].open() as f:
        lines = list(csv.reader(f))
    assert lines[0] == [c.key for c in report.tables[0].columns]
    assert lines[-1][:4] == ["Total", "1350.00", "480.00", "870.00"]


# --- formatting and quarters ------------------------------------------------------------------


def test_money_and_share_formatting():
    assert fmt.money(D("1234567.005")) == "1,234,567.01"  # half up
    assert fmt.money(D("-1234.565")) == "(1,234.57)"
    assert fmt.money(D("-0.004")) == "0.00"
    assert fmt.money(None) == fmt.MISSING
    assert fmt.share(D("0.61873")) == "61.9 %"
    assert fmt.change(D("-0.2")) == "(20.0 %)" and fmt.change(D("0.125")) == "+12.5 %"
    assert fmt.neutralise("=1+1") == "'=1+1" and fmt.neutralise("a=1") == "a=1"
    assert fmt.extract_value(D("-5"), fmt.MONEY) == D("-5.00")  # numbers stay numbers


def test_quarters():
    q = Quarter.parse("2026Q1")
    assert str(q.previous) == "2025Q4" and [str(x) for x in q.year_to_date] == ["2026Q1"]
    assert Quarter.parse("2026Q3").end.month == 10
    with pytest.raises(QuarterError, match="YYYYQn"):
        Quarter.parse("2026-Q3")
    from datetime import datetime

    assert str(last_full_quarter(datetime(2026, 10, 1))) == "2026Q3"
    assert str(last_full_quarter(datetime(2026, 9, 30))) == "2026Q2"


# --- CLI ----------------------------------------------------------------------------------


def test_cli_report_writes_to_out_and_prints_the_path(tmp_path, capsys):
    home = make_warehouse(tmp_path / "home")
    code = cli.main(["--home", str(home.root), "report", "--quarter", "2026Q3"])
    out = capsys.readouterr().out
    default = home.root / "reports" / "2026Q3" / "allocation_review_2026Q3.html"
    assert code == 0 and default.exists() and str(default) in out
    assert "FLOPs cross-check flags" in out  # named as not available yet
    code = cli.main(
        ["--home", str(home.root), "report", "--quarter", "2026Q3", "--out", str(tmp_path / "o")]
    )
    assert code == 0 and (tmp_path / "o" / "allocation_review_2026Q3.xlsx").exists()


def test_cli_report_rejects_a_bad_quarter(tmp_path, capsys):
    home = make_warehouse(tmp_path / "home")
    assert cli.main(["--home", str(home.root), "report", "--quarter", "Q3-2026"]) == 1
    assert "YYYYQn" in capsys.readouterr().err


def test_sql_errors_give_line_and_column(tmp_path, capsys):
    home = make_warehouse(tmp_path / "home")
    query = "select quarter,\n    no_such_column\nfrom fct_quarterly_allocation"
    assert cli.main(["--home", str(home.root), "sql", query]) == 1
    err = capsys.readouterr().err
    assert "at line 2, column 5" in err and "no_such_column" in err
    assert cli.main(["--home", str(home.root), "sql", "select * frm fct_idle_cost"]) == 1
    assert "at line 1, column 14" in capsys.readouterr().err  # "fct_idle_cost" starts at 14
