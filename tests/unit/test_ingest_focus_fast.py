"""The DuckDB path for FOCUS CSV gives the raw rows, quarantine and log of the Python path."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from llmledger.ingest import focus_fast, ingest_file
from llmledger.paths import Home
from llmledger.raw_schema import write_schema_files

HEADER = (
    "BillingAccountId,BillingPeriodStart,ChargePeriodStart,ChargePeriodEnd,ProviderName,"
    "ServiceProviderName,BilledCost,EffectiveCost,ConsumedQuantity,ConsumedUnit,Tags,"
    "x_DeliveryStyle,x_ExportedAt"
)
CANONICAL = (
    'acct,2026-01-01T00:00:00Z,2026-01-05T{h:02d}:00:00Z,2026-01-05T{h2:02d}:00:00Z,Old,New,'
    '{cost},{cost},8.000000,GPU-Hours,"{{""cluster"": ""gpu-a""}}",delta,2026-02-01T00:00:00Z'
)
# Every value a canonical-shape check must send to the Python parser, and rows it rejects.
ODD = [
    # US dates, spreadsheet money, white space, literal null, a naive time, +00:00 offset
    'acct,1/1/2026,1/5/2026 14:00,1/5/2026 3:00 PM,Old,,"$1,234.50",(5.00),8,GPU-Hours,{},,',
    "acct ,2026-01-01 00:00:00,2026-01-05T10:00:00+00:00,2026-01-05T11:00:00,null,NULL, 7 ,7,,,,"
    "ledger,",
    "acct,2026-01-01,2026-01-05T10:00:00+02:00,2026-01-05T11:00:00+02:00,P,,1e-4,1,,,,,",
    "acct,2026-01-01,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,P,,0.12345678901,1,,,,,",
    # rejected: bad number, bad month, missing start, missing cost, bad tags, bad style
    "acct,2026-01-01,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,P,,abc,1,,,,,",
    "acct,2026-01-01,2026-13-05T10:00:00Z,2026-01-05T11:00:00Z,P,,5,5,,,,,",
    "acct,2026-01-01,,2026-01-05T11:00:00Z,P,,5,5,,,,,",
    "acct,2026-01-01,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,P,,null,5,,,,,",
    "acct,2026-01-01,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,P,,3,3,,,cluster=gpu-a,,",
    "acct,2026-01-01,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,P,,3,3,,,,weekly,",
    # rejected out_of_range: canonical shapes, but a money amount of a trillion or more
    "acct,2026-01-01,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,P,,1000000000000,1,,,,,",
    "acct,2026-01-01,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,P,,5,-9999999999999999999999999999,"
    ",,,,",
    "acct,2026-01-01,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,P,,999999999999.9999999999,1,,,,,",
    # GX: ends before it starts
    "acct,2026-01-01,2026-01-05T11:00:00Z,2026-01-05T10:00:00Z,P,,7,7,,,,,",
]


def _lines() -> list[str]:
    lines = [HEADER]
    for i in range(4 * len(ODD)):
        lines.append(CANONICAL.format(h=i % 23, h2=i % 23 + 1, cost=f"{i}.{i:010d}"))
        if i % 4 == 0:
            lines.append(ODD[(i // 4) % len(ODD)])
    return lines


def _ingest(tmp_path: Path, name: str, fast: bool, monkeypatch) -> tuple[Home, object]:
    home = Home(tmp_path / name)
    folder = home.landing / "billing" / "p"
    folder.mkdir(parents=True)
    write_schema_files(home)
    path = folder / "focus.csv"
    path.write_text("\n".join(_lines()) + "\n", encoding="utf-8")
    monkeypatch.setattr(focus_fast, "MIN_ROWS", 0 if fast else 10**9)
    calls: list[object] = []
    real = focus_fast._convert
    monkeypatch.setattr(focus_fast, "_convert", lambda *a: calls.append(1) or real(*a))
    result = ingest_file(home, path)
    assert bool(calls) == fast  # the path under test was the one taken
    return home, result


def _table(home: Home, folder: Path):
    files = [p for p in folder.glob("*.parquet") if p.name != "_schema.parquet"]
    assert len(files) == 1
    return pq.read_table(files[0]).drop_columns(["_ingested_at"])


def test_same_rows_quarantine_and_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    slow_home, slow = _ingest(tmp_path, "slow", False, monkeypatch)
    fast_home, fast = _ingest(tmp_path, "fast", True, monkeypatch)
    assert (fast.rows_read, fast.rows_loaded, fast.rows_quarantined, fast.reasons) == (
        slow.rows_read,
        slow.rows_loaded,
        slow.rows_quarantined,
        slow.reasons,
    )
    # 6 parse rejections + 2 out_of_range (999999999999.9999999999 is in range) + 1 GX
    assert fast.rows_quarantined == 9
    assert fast.reasons["out_of_range"] == 2
    fast_rows = _table(fast_home, fast_home.raw_dir("focus"))
    assert fast_rows.schema == _table(slow_home, slow_home.raw_dir("focus")).schema
    assert fast_rows.to_pylist() == _table(slow_home, slow_home.raw_dir("focus")).to_pylist()
    assert (
        _table(fast_home, fast_home.quarantine_rows).to_pylist()
        == _table(slow_home, slow_home.quarantine_rows).to_pylist()
    )


def test_files_the_cheap_checks_do_not_vouch_for_take_the_python_path(tmp_path: Path):
    home = Home(tmp_path / "h")
    folder = home.landing / "billing" / "p"
    folder.mkdir(parents=True)
    text = "\n".join(_lines())
    for name, body in {
        "blank.csv": text.replace("\n", "\n\n", 1),
        "crlf.csv": text.replace("\n", "\r\n"),
        "bom.csv": "\ufeff" + text,
        "multiline.csv": text + '\nacct,2026-01-01,2026-01-05T10:00:00Z,2026-01-05T11:00:00Z,'
        'P,,1,1,,,"{""a"":\n""b""}",,',
    }.items():
        path = folder / name
        path.write_bytes(body.encode("utf-8"))
        if name != "multiline.csv":
            assert focus_fast._eligible(home, path, path.read_bytes()) is None, name
    # A record spanning lines passes the byte checks but not the line count.
    path = folder / "multiline.csv"
    original = focus_fast.MIN_ROWS
    try:
        focus_fast.MIN_ROWS = 0
        assert focus_fast.try_parse(home, path, path.read_bytes(), "x", "sha", None) is None
    finally:
        focus_fast.MIN_ROWS = original
