"""Fault and bad-input suite: every bad file of the README table, in one home, built once.

The home holds the golden organisation (tests/fixtures/golden; totals hand-computed in
tests/e2e/test_golden.py), ingested first, then one small hand-written file per scenario.
For each scenario the ingest test checks the outcome, what the user is told (file, row,
column, value, expected) and the row accounting (read = loaded + quarantined + skipped, the
raw layer holds exactly the loaded rows). One dbt build then proves what reached the marts:
the golden totals plus, file by file, only the rows that were loaded.

Hand-computed additions to the golden figures (all billing rows below are untagged support
rows, so `overhead`, charged February 2026, except the GPU pool row):

  truncated.csv        one whole row of 7.00 (the cut row is quarantined)
  cp1252.csv           11.00      header_renamed.csv 13.00
  header_missing.csv   17.00 (no EffectiveCost column: effective = billed)
  header_extra.csv     19.00      amounts.csv 23.00 + credit -3.00 = 20.00
  unknown_currency.csv 29.00 XTS: no rate, so no USD amount until one is configured
  focus_2026-01-02.csv c1 GPU row 2026-01-02 00:00-01:00, 4 GPU-hours, 40.00; job 8 claims
                       100 GPUs in that hour: scaled down to the 4 GPU-hours paid for, so it
                       gets all 40.00, no idle, the pool is flagged oversubscribed
  A-2.csv              invoice for project P9, which maps to no dataset: 10 x 2.00 = 20.00,
                       kept as untagged (dataset 'unmapped')
  A-1_resent.csv       A-1 again with other bytes (CRLF): loaded, but counted once

Effective cost in USD = 135 + 7 + 11 + 13 + 17 + 19 + 20 + 40 = 262.00; annotation 31 + 20 =
51.00; quarterly allocation 262 + 51 = 313.00; allocated to jobs 100 + 40 = 140.00; data cost
charged to generations unchanged at 43.00 (nothing new is tagged to a dataset).
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fault_files import (
    FOCUS_HEADER,
    INVOICE_HEADER,
    SACCT_HEADER,
    drop_columns,
    focus_row,
    invoice_row,
    lines,
    quarantined_rows,
    raw_rows,
    sacct_row,
)

from golden_org import GOLDEN_FOCUS, GOLDEN_INVOICE, golden_home, query
from llmledger import ingest, warehouse
from llmledger.ingest.writer import read_log

D = Decimal
LIMIT = "an absolute value below 1,000,000,000,000"


@dataclass(frozen=True)
class Row:
    """A quarantined row as the user reads it in quarantine/rows (and in the ingest log)."""

    reason: str
    column: str | None
    value: str | None
    message: str  # a fragment of the message


@dataclass(frozen=True)
class Case:
    id: str
    path: str  # under landing/
    data: bytes
    status: str  # loaded | file_quarantined | already_ingested
    counts: tuple[int, int, int, int] = (0, 0, 0, 0)  # read, loaded, quarantined, skipped
    rows: dict[int, Row] = field(default_factory=dict)
    file_reason: tuple[str, str] | None = None  # reason code, message fragment
    raw: dict[str, object] = field(default_factory=dict)  # first raw row's values


def _parquet(*rows: str) -> bytes:
    names = FOCUS_HEADER.split(",")
    table = pa.Table.from_pylist([dict(zip(names, r.split(","), strict=True)) for r in rows])
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


_CUT = ",".join(focus_row("INV-T", "8.00").split(",")[:11])  # a row cut after 11 fields
_PARQUET = _parquet(focus_row("INV-TP", "7.25"))
_RENAMED = (
    FOCUS_HEADER.replace("BilledCost", "Billed Cost")
    .replace("ChargePeriodStart", "chargeperiodstart")
    .replace("EffectiveCost", "EFFECTIVECOST")
    .replace("ProviderName", "ServiceProviderName")  # the FOCUS 1.3 name
)
_MISSING = drop_columns(FOCUS_HEADER, focus_row("INV-H3", "17.00"), "EffectiveCost", "Tags")
_SACCT_NAMES = SACCT_HEADER.split("|")
_SACCT_DRIFT = [n for n in reversed(_SACCT_NAMES) if n not in ("Elapsed", "Submit")]


def _sacct_drift_row(job: str) -> str:
    # A CPU-only job: no GPU-hours to price, so the drift shows in the raw rows only.
    row = dict(
        zip(
            _SACCT_NAMES,
            sacct_row(job, "cpu=4,mem=16G", "2026-03-01T00:00:00", "2026-03-01T01:00:00").split(
                "|"
            ),
            strict=True,
        )
    )
    return "|".join([*(row[n] for n in _SACCT_DRIFT), "node-7"])


CASES = [
    # --- truncated files ---------------------------------------------------------------------
    Case(
        "truncated_csv",
        "billing/faults/truncated.csv",
        lines(FOCUS_HEADER, focus_row("INV-T", "7.00")) + _CUT.encode(),
        "loaded",
        (2, 1, 1, 0),
        {3: Row("field_count", None, "11", "row has 11 fields; the header has 18")},
    ),
    Case(
        "truncated_gzip",
        "billing/faults/truncated.csv.gz",
        gzip.compress(lines(FOCUS_HEADER, focus_row("INV-TG", "7.50")), mtime=0)[:-10],
        "file_quarantined",
        file_reason=("bad_gzip", "not a readable gzip file"),
    ),
    Case(
        "truncated_parquet",
        "billing/faults/truncated.parquet",
        _PARQUET[: len(_PARQUET) // 2],
        "file_quarantined",
        file_reason=("bad_parquet", "not a readable Parquet file"),
    ),
    # --- encodings ---------------------------------------------------------------------------
    Case(
        "encoding_windows_1252",
        "billing/faults/cp1252.csv",
        lines(
            FOCUS_HEADER,
            focus_row("INV-E1", "11.00", description="Support café"),
            encoding="cp1252",
        ),
        "loaded",
        (1, 1, 0, 0),
        raw={"charge_description": "Support café"},
    ),
    Case(
        "encoding_undecodable_byte",
        "billing/faults/undecodable.csv",
        lines(FOCUS_HEADER, focus_row("INV-E2", "11.00", description="Support caf#")).replace(
            b"caf#", b"caf\x81"
        ),
        "file_quarantined",
        file_reason=("bad_encoding", "not UTF-8 or Windows-1252 text (byte "),
    ),
    Case(
        "encoding_utf16_without_bom",
        "billing/faults/utf16.csv",
        lines(FOCUS_HEADER, focus_row("INV-E3", "11.00"), encoding="utf-16-le"),
        "file_quarantined",
        file_reason=("binary_file", "not a text file (it contains NUL bytes)"),
    ),
    Case(
        "encoding_utf8_bom_but_latin1",
        "billing/faults/bom_latin1.csv",
        b"\xef\xbb\xbf"
        + lines(
            FOCUS_HEADER,
            focus_row("INV-E4", "11.00", description="Support café"),
            encoding="latin-1",
        ),
        "file_quarantined",
        file_reason=("bad_encoding", "starts with a UTF-8 byte-order mark but is not valid UTF-8"),
    ),
    # --- header drift ------------------------------------------------------------------------
    Case(
        "header_renamed_columns",
        "billing/faults/header_renamed.csv",
        lines(_RENAMED, focus_row("INV-H1", "13.00")),
        "loaded",
        (1, 1, 0, 0),
        raw={"billed_cost": D("13"), "effective_cost": D("13"), "provider": "Owned"},
    ),
    Case(
        "header_required_column_renamed",
        "billing/faults/header_no_billed_cost.csv",
        lines(FOCUS_HEADER.replace("BilledCost", "Cost"), focus_row("INV-H2", "15.00")),
        "file_quarantined",
        file_reason=("missing_columns", "FOCUS header lacks required column(s): BilledCost"),
    ),
    Case(
        "header_missing_optional_columns",
        "billing/faults/header_missing.csv",
        lines(*_MISSING),
        "loaded",
        (1, 1, 0, 0),
        raw={"billed_cost": D("17"), "effective_cost": None, "tags": "{}"},
    ),
    Case(
        "header_extra_columns",
        "billing/faults/header_extra.csv",
        lines(FOCUS_HEADER + ",Notes,x_Team", focus_row("INV-H4", "19.00") + ",call back,infra"),
        "loaded",
        (1, 1, 0, 0),
        raw={"billed_cost": D("19"), "x_columns": '{"x_Team":"infra"}'},
    ),
    Case(
        "header_drift_sacct",
        "pipeline/sacct_drift.txt",
        lines(
            "|".join([*_SACCT_DRIFT, "NodeList"]),
            _sacct_drift_row("20"),
            _sacct_drift_row("20.batch"),
        ),
        "loaded",
        (2, 1, 0, 1),
        raw={
            "job_id": "20",
            "cluster": "c1",
            "alloc_tres": "cpu=4,mem=16G",
            "gpus": 0,
            "elapsed_seconds": None,  # the column is gone: unknown, not zero
            "start_time": datetime(2026, 3, 1, 0, 0),
        },
    ),
    Case(
        "header_drift_invoice_missing_quantity",
        "invoices/acme/A-7.csv",
        lines(*drop_columns(INVOICE_HEADER, invoice_row("A-7", "P1", "1", "1.00"), "quantity")),
        "file_quarantined",
        file_reason=("unrecognised_header", "missing column(s) quantity"),
    ),
    # --- amounts -----------------------------------------------------------------------------
    Case(
        "amounts_non_numeric_negative_nan_huge",
        "billing/faults/amounts.csv",
        lines(
            FOCUS_HEADER,
            focus_row("INV-A", "23.00"),
            focus_row("INV-A", "-3.00"),  # a credit: FOCUS credits are negative, loaded
            focus_row("INV-A", "twenty"),
            focus_row("INV-A", "NaN"),
            focus_row("INV-A", "-Infinity"),
            focus_row("INV-A", "1e40"),
            focus_row("INV-A", "9999999999999999999999999999"),  # 28 digits: fits DECIMAL(38,10)
            focus_row("INV-A", "1000000000000"),
            focus_row("INV-A", "5.00", "nan"),
        ),
        "loaded",
        (9, 2, 7, 0),
        {
            4: Row("bad_number", "BilledCost", "twenty", "expected a decimal number"),
            5: Row("bad_number", "BilledCost", "NaN", "expected a decimal number"),
            6: Row("bad_number", "BilledCost", "-Infinity", "expected a decimal number"),
            7: Row("bad_number", "BilledCost", "1e40", "expected at most 28 integer digits"),
            8: Row(
                "out_of_range",
                "billed_cost",
                "9999999999999999999999999999",
                f"9999999999999999999999999999 is out of range; expected {LIMIT}",
            ),
            9: Row("out_of_range", "billed_cost", "1000000000000", LIMIT),
            10: Row("bad_number", "EffectiveCost", "nan", "expected a decimal number"),
        },
    ),
    Case(
        "invoice_amounts_nan_huge_negative_bad_currency",
        "invoices/acme/A-bad.csv",
        lines(
            INVOICE_HEADER,
            invoice_row("A-3", "P1", "NaN", "3.00"),
            invoice_row("A-4", "P1", "1e27", "1e27"),
            invoice_row("A-5", "P1", "-10", "3.00", "-30.00"),
            invoice_row("A-6", "P1", "1", "1.00", "1.00", currency="dollars"),
        ),
        "loaded",
        (4, 0, 4, 0),
        {
            2: Row("bad_number", "quantity", "NaN", "expected a decimal number"),
            3: Row("out_of_range", "unit_price", "1000000000000000000000000000", LIMIT),
            4: Row("expect_column_values_to_be_between", "quantity", "-10", "expected >= 0"),
            5: Row("bad_currency", "currency", "DOLLARS", "a three-letter ISO 4217 code"),
        },
    ),
    Case(
        "unknown_currency",
        "billing/faults/unknown_currency.csv",
        lines(FOCUS_HEADER, focus_row("INV-C", "29.00", currency="XTS")),
        "loaded",
        (1, 1, 0, 0),
        raw={"billing_currency": "XTS"},
    ),
    # --- jobs --------------------------------------------------------------------------------
    Case(
        "job_end_before_start",
        "pipeline/sacct_end_before_start.txt",
        lines(
            SACCT_HEADER, sacct_row("7", "gres/gpu=1", "2026-01-02T05:00:00", "2026-01-02T04:00:00")
        ),
        "loaded",
        (1, 0, 1, 0),
        {
            2: Row(
                "expect_column_pair_values_a_to_be_greater_than_b",
                "end_time",
                "2026-01-02 04:00:00",
                "failed: end_time = '2026-01-02 04:00:00', expected >= start_time",
            )
        },
    ),
    Case(
        "job_absurd_gpu_count",
        "pipeline/sacct_absurd_gpus.txt",
        lines(
            SACCT_HEADER,
            sacct_row(
                "10", "gres/gpu=99999999999999999999", "2026-01-02T00:00:00", "2026-01-02T01:00:00"
            ),
        ),
        "loaded",
        (1, 0, 1, 0),
        {
            2: Row(
                "out_of_range",
                "gpus",
                "99999999999999999999",
                "expected an absolute value below 1,000,000",
            )
        },
    ),
    Case(
        "job_more_gpus_than_cluster_bill",
        "billing/owned/focus_2026-01-02.csv",
        lines(
            FOCUS_HEADER,
            focus_row(
                "INV-G",
                "40.00",
                start="2026-01-02T00:00:00Z",
                end="2026-01-02T01:00:00Z",
                resource="c1-nodes",
                description="GPU",
                unit="GPU-Hours",
                quantity="4",
                tags='"{""cluster"": ""c1""}"',
                period=("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
            ),
        ),
        "loaded",
        (1, 1, 0, 0),
    ),
    Case(
        "job_more_gpus_than_cluster",
        "pipeline/sacct_oversubscribed.txt",
        lines(
            SACCT_HEADER,
            sacct_row(
                "8",
                "gres/gpu=100",
                "2026-01-02T00:00:00",
                "2026-01-02T01:00:00",
                comment="activity=evaluation",
            ),
        ),
        "loaded",
        (1, 1, 0, 0),
        raw={"job_id": "8", "gpus": 100},
    ),
    # --- invoices ----------------------------------------------------------------------------
    Case(
        "invoice_for_unknown_dataset",
        "invoices/acme/A-2.csv",
        lines(INVOICE_HEADER, invoice_row("A-2", "P9", "10", "2.00", "20.00")),
        "loaded",
        (1, 1, 0, 0),
        raw={"project_code": "P9", "amount": D("20")},
    ),
    # --- delivered twice ---------------------------------------------------------------------
    Case(
        "delivered_twice_under_another_name",
        "billing/owned/focus_2026-01 (resent).csv",
        GOLDEN_FOCUS.read_bytes(),
        "already_ingested",
    ),
    Case(
        "invoice_delivered_twice_other_bytes",
        "invoices/acme/A-1_resent.csv",
        GOLDEN_INVOICE.read_bytes().replace(b"\n", b"\r\n"),
        "loaded",
        (1, 1, 0, 0),
    ),
]
BY_ID = {case.id: case for case in CASES}


@pytest.fixture(scope="module")
def bad_home(tmp_path_factory: pytest.TempPathFactory):
    """The golden organisation ingested, then every case's file delivered and ingested."""
    home = golden_home(tmp_path_factory.mktemp("bad-input") / "home")
    golden = ingest.ingest_paths(home, [home.landing])
    assert {r.status for r in golden} == {"loaded"}
    results = {}
    for case in CASES:
        path = home.landing / case.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.data)
        results[case.id] = ingest.ingest_file(home, path)
    return home, results


@pytest.fixture(scope="module")
def built(bad_home):
    """``bad_home`` after one dbt build (bad input must never make the build crash)."""
    home, _ = bad_home
    warehouse.dbt_build(home, echo=False)
    return home


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_ingest_outcome_message_and_row_accounting(bad_home, case: Case):
    home, results = bad_home
    result = results[case.id]
    assert result.status == case.status, result.summary()
    read, loaded, quarantined, skipped = case.counts
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_skipped) == (
        read,
        loaded,
        quarantined,
        skipped,
    )
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_skipped

    if case.status == "already_ingested":
        assert "same content as landing/billing/owned/focus_2026-01.csv" in result.summary()
        return
    log = read_log(home, result.sha256)
    assert log is not None and log["status"] == case.status
    assert log["source_file"] == f"landing/{case.path}"
    assert (log["rows_read"], log["rows_loaded"], log["rows_quarantined"], log["rows_skipped"]) == (
        case.counts
    )

    raw = raw_rows(home, result.kind, result.sha256)
    assert len(raw) == loaded
    rejected = quarantined_rows(home, result.sha256)
    assert set(rejected) == set(case.rows)
    assert not {r["_source_row"] for r in raw} & set(rejected)
    for line, want in case.rows.items():
        got = rejected[line]
        assert (got["reason_code"], got["column_name"], got["value"]) == (
            want.reason,
            want.column,
            want.value,
        ), got["message"]
        assert want.message in got["message"]
        assert got["_source_file"] == f"landing/{case.path}"
        # The original text is kept, so nothing of the file is lost.
        assert got["raw_text"] and got["raw_text"] in (home.landing / case.path).read_text(
            encoding="utf-8", errors="replace"
        )
    for code in {want.reason for want in case.rows.values()}:
        assert f"{sum(w.reason == code for w in case.rows.values())} {code}" in result.summary()
    for column, value in case.raw.items():
        assert raw[0][column] == value, column

    if case.file_reason is not None:
        code, fragment = case.file_reason
        record = json.loads((home.quarantine_files / f"{result.sha256}.json").read_text())
        assert record["source_file"] == f"landing/{case.path}"
        assert record["reason_code"] == code
        assert fragment in record["message"]
        assert result.summary().startswith(f"landing/{case.path}: file quarantined: {code}: ")
        assert not (home.raw_dir(result.kind) / f"{result.sha256}.parquet").exists()


def test_the_undecodable_byte_is_named(bad_home):
    home, results = bad_home
    case = BY_ID["encoding_undecodable_byte"]
    record = json.loads((home.quarantine_files / f"{results[case.id].sha256}.json").read_text())
    offset = case.data.index(b"\x81")
    assert record["message"] == (
        f"not UTF-8 or Windows-1252 text (byte {offset}: character maps to <undefined>)"
    )


def test_the_build_survives_and_every_check_but_the_missing_rate_passes(bad_home, built):
    _, results = bad_home
    failed = query(built, "select check_name, scope from rpt_reconciliation where not passed")
    assert failed == [
        ("fx_rate_available", "no XTS rate on or before 2026-02-01 in config/fx_rates.csv")
    ]
    # The warehouse re-checks the row accounting of every file above, and that the raw layer
    # holds exactly the rows the ingest log says were loaded.
    files = {
        f"{r.source_file} @{r.sha256[:12]}": r.status
        for r in results.values()
        if r.status != "already_ingested"
    }
    scopes = dict(
        query(
            built,
            "select check_name, list(scope order by scope) from rpt_reconciliation "
            "where check_name in ('ingest_row_accounting', 'raw_rows_loaded') group by 1",
        )
    )
    assert set(files) <= set(scopes["ingest_row_accounting"])
    assert {f for f, status in files.items() if status == "loaded"} <= set(
        scopes["raw_rows_loaded"]
    )
    assert len(scopes["ingest_row_accounting"]) == len(files) + 3  # + the golden files


def test_only_loaded_rows_reach_the_billing_mart(built):
    by_file = {
        file: (rows, billed, usd)
        for file, rows, billed, usd in query(
            built,
            "select _source_file, count(*), sum(billed_cost), sum(effective_cost_usd) "
            "from fct_billing_charge group by 1",
        )
    }
    assert by_file == {
        "landing/billing/owned/focus_2026-01.csv": (3, D("135"), D("135")),
        "landing/billing/faults/truncated.csv": (1, D("7"), D("7")),
        "landing/billing/faults/cp1252.csv": (1, D("11"), D("11")),
        "landing/billing/faults/header_renamed.csv": (1, D("13"), D("13")),
        "landing/billing/faults/header_missing.csv": (1, D("17"), D("17")),
        "landing/billing/faults/header_extra.csv": (1, D("19"), D("19")),
        "landing/billing/faults/amounts.csv": (2, D("20"), D("20")),
        "landing/billing/faults/unknown_currency.csv": (1, D("29"), None),
        "landing/billing/owned/focus_2026-01-02.csv": (1, D("40"), D("40")),
    }
    assert query(built, "select sum(effective_cost_usd) from fct_billing_charge") == [(D("262"),)]


def test_more_gpus_than_paid_for_are_scaled_down_to_the_pool(built):
    assert query(
        built,
        "select job_id, activity, gpu_hours, allocated_cost_usd, oversubscribed "
        "from fct_cost_allocation where hour = '2026-01-02 00:00:00'",
    ) == [("8", "evaluation", D("4"), D("40"), True)]
    assert query(
        built, "select count(*) from fct_idle_cost where hour = '2026-01-02 00:00:00'"
    ) == [(0,)]
    # The golden pools are untouched: 100.00 to jobs, 20.00 idle.
    assert query(built, "select sum(allocated_cost_usd) from fct_cost_allocation") == [(D("140"),)]
    assert query(built, "select sum(idle_cost_usd) from fct_idle_cost") == [(D("20"),)]


def test_invoices_unknown_project_kept_untagged_and_a_resent_copy_counts_once(built):
    assert sorted(
        query(
            built,
            "select invoice_id, dataset_version, sum(cost_usd) from fct_annotation_cost "
            "group by 1, 2",
        )
    ) == [("A-1", "ds-b", D("31")), ("A-2", "unmapped", D("20"))]
    assert query(
        built,
        "select invoice_id, reason_code, source_file from rpt_rejected_invoices",
    ) == [("A-1", "duplicate_invoice", "landing/invoices/acme/A-1_resent.csv")]


def test_spend_lands_once_and_the_data_share_is_the_golden_one(built):
    by_activity = dict(
        query(built, "select activity, sum(cost_usd) from fct_quarterly_allocation group by 1")
    )
    assert by_activity == {
        "data.selection": D("40"),
        "data.acquisition": D("10"),
        "data.human": D("31"),
        "training.pretrain": D("50"),
        "evaluation": D("40"),
        "untagged": D("30"),  # golden job 4 (10.00) + invoice A-2 (20.00)
        "idle": D("20"),
        "overhead": D("92"),  # golden support 5.00 + 7 + 11 + 13 + 17 + 19 + 20
    }
    assert sum(by_activity.values()) == D("313")
    assert query(
        built,
        "select model_generation, data_cost_usd, training_cost_usd from fct_data_share order by 1",
    ) == [("gen1", D("15"), D("40")), ("gen2", D("28"), D("10"))]


def test_the_missing_rate_fails_the_checks_with_the_currency_and_date(built):
    from llmledger.validation.marts import ValidationFailed, validate_marts

    with pytest.raises(ValidationFailed) as failed:
        validate_marts(built)
    message = str(failed.value)
    assert "fx_rate_available" in message
    assert "no XTS rate on or before 2026-02-01 in config/fx_rates.csv" in message


def test_once_the_rate_is_configured_the_row_counts_and_nothing_else_moves(built):
    """Last in this module: it changes the home. Nothing was lost: the XTS row was kept and
    counts as soon as config/fx_rates.csv has a rate (2.00 USD per XTS: 29.00 -> 58.00)."""
    from llmledger.validation.marts import validate_marts

    with (built.config / "fx_rates.csv").open("a") as rates:
        rates.write("XTS,2026-01-01,2\n")
    warehouse.dbt_build(built, echo=False)
    assert query(
        built,
        "select effective_cost_usd from fct_billing_charge where invoice_id = 'INV-C'",
    ) == [(D("58"),)]
    assert query(built, "select sum(cost_usd) from fct_quarterly_allocation") == [(D("371"),)]
    assert query(built, "select count(*) from rpt_reconciliation where not passed") == [(0,)]
    assert validate_marts(built).passed
