"""Mart validation on a tiny warehouse built by hand (no dbt)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from llmledger.paths import Home
from llmledger.validation.marts import ValidationFailed, validate_marts

SCHEMA = """
create schema intermediate;
create table rpt_reconciliation (check_name varchar, scope varchar, expected decimal(38,10),
    actual decimal(38,10), difference decimal(38,10), passed boolean);
create table fct_cost_allocation (job_id varchar, cluster varchar, hour timestamp,
    gpu_hours decimal(38,10), allocated_cost_usd decimal(38,10), activity varchar,
    model_generation varchar, dataset_version varchar);
create table fct_idle_cost (cluster varchar, hour timestamp, idle_gpu_hours decimal(38,10),
    idle_cost_usd decimal(38,10));
create table intermediate.int_cost_pools (cluster varchar, hour timestamp,
    pool_cost_usd decimal(38,10), capacity_gpu_hours decimal(38,10));
create table fct_quarterly_allocation (quarter varchar, activity varchar,
    model_generation varchar, cost_usd decimal(38,10));
"""

# Pool gpu-cloud 04:00 costs 100 for 8 GPU-hours: three 2-GPU-hour jobs get 25 each, 2 idle
# GPU-hours get 25. Pool 05:00 costs 10 split in thirds that only add up thanks to the last
# cent-fraction (3.3333333333 x 2 + 3.3333333334).
PASSING = """
insert into rpt_reconciliation values
    ('pool_conservation', 'gpu-cloud 2025-03-01 04:00', 100, 100, 0, true),
    ('invoice_billed', 'INV-1', 50, 50, 0, true);
insert into intermediate.int_cost_pools values
    ('gpu-cloud', '2025-03-01 04:00', 100, 8),
    ('gpu-cloud', '2025-03-01 05:00', 10, 3);
insert into fct_cost_allocation values
    ('1001', 'gpu-cloud', '2025-03-01 04:00', 2, 25, 'training.pretrain', 'gen2', null),
    ('1002', 'gpu-cloud', '2025-03-01 04:00', 2, 25, 'data.selection', null, 'web-v1'),
    ('1003_2', 'gpu-cloud', '2025-03-01 04:00', 2, 25, 'evaluation', 'gen2', null),
    ('1001', 'gpu-cloud', '2025-03-01 05:00', 1, 3.3333333333, 'training.pretrain', 'gen2', null),
    ('1002', 'gpu-cloud', '2025-03-01 05:00', 1, 3.3333333333, 'data.selection', null, 'web-v1'),
    ('1004', 'gpu-cloud', '2025-03-01 05:00', 1, 3.3333333334, 'untagged', null, null);
insert into fct_idle_cost values ('gpu-cloud', '2025-03-01 04:00', 2, 25);
insert into fct_quarterly_allocation values
    ('2025Q1', 'training.pretrain', 'gen2', 28.3333333333),
    ('2025Q1', 'data.selection', null, 28.3333333333),
    ('2025Q1', 'evaluation', 'gen2', 25),
    ('2025Q1', 'idle', null, 25),
    ('2025Q1', 'untagged', null, 3.3333333334);
"""


def _warehouse(tmp_path: Path, *scripts: str) -> Home:
    home = Home(tmp_path / "home")
    home.root.mkdir(parents=True)
    con = duckdb.connect(str(home.warehouse))
    for script in scripts:
        con.execute(script)
    con.close()
    return home


def test_consistent_marts_pass_with_a_warning(tmp_path: Path):
    result = validate_marts(_warehouse(tmp_path, SCHEMA, PASSING))

    assert result.passed
    assert result.failures == []
    assert [o.name for o in result.warnings] == ["untagged_cost"]
    [finding] = result.warnings[0].findings
    assert str(finding) == "untagged_cost [2025Q1 -] difference 3.33 USD untagged"
    outcomes = {o.name: o for o in result.outcomes}
    assert outcomes["pool_conservation"].rows_checked == 2
    assert outcomes["rpt_reconciliation"].passed
    assert "PASS pool_conservation" in result.report()


def test_broken_marts_raise_naming_check_scope_and_difference(tmp_path: Path):
    broken = """
    update fct_idle_cost set idle_cost_usd = 37.5;  -- 04:00 now adds up to 112.50
    update rpt_reconciliation set actual = 40, difference = -10, passed = false
        where scope = 'INV-1';
    update fct_cost_allocation set gpu_hours = -1 where job_id = '1003_2';
    update fct_quarterly_allocation set activity = 'training.misc' where activity = 'evaluation';
    """
    with pytest.raises(ValidationFailed) as caught:
        validate_marts(_warehouse(tmp_path, SCHEMA, PASSING, broken))

    message = str(caught.value)
    assert "pool_conservation [gpu-cloud 2025-03-01 04:00] difference 12.50" in message
    assert "gpu-cloud 2025-03-01 05:00" not in message
    assert "invoice_billed [INV-1] difference -10.00" in message
    assert (
        "allocation_gpu_hours_not_negative [job 1003_2 gpu-cloud 2025-03-01 04:00] difference -1"
        in message
    )
    assert "quarterly_activity_in_taxonomy [2025Q1 gen2] activity 'training.misc'" in message
    assert "untagged_cost" not in message  # warn severity: reported, never raised
    failed = {o.name for o in caught.value.result.failures}
    assert failed == {
        "rpt_reconciliation",
        "pool_conservation",
        "allocation_gpu_hours_not_negative",
        "quarterly_activity_in_taxonomy",
    }


@pytest.mark.parametrize(
    ("within", "beyond", "difference"),
    [
        ("25.0000009", "25.0000011", "0.0000011"),  # money found: allocated + idle over the pool
        ("24.9999991", "24.9999989", "-0.0000011"),  # money lost: short of the pool
    ],
)
def test_conservation_tolerance_is_a_millionth(
    tmp_path: Path, within: str, beyond: str, difference: str
):
    near = f"update fct_idle_cost set idle_cost_usd = {within};"
    assert validate_marts(_warehouse(tmp_path / "a", SCHEMA, PASSING, near)).passed
    far = f"update fct_idle_cost set idle_cost_usd = {beyond};"
    with pytest.raises(
        ValidationFailed,
        match=rf"pool_conservation \[gpu-cloud 2025-03-01 04:00\] difference {difference}\b",
    ):
        validate_marts(_warehouse(tmp_path / "b", SCHEMA, PASSING, far))


def test_allocation_to_a_pool_that_does_not_exist_is_caught(tmp_path: Path):
    stray = "insert into fct_idle_cost values ('gpu-owned', '2025-03-01 04:00', 1, 7);"
    with pytest.raises(
        ValidationFailed, match=r"pool_conservation \[gpu-owned 2025-03-01 04:00\] difference 7.00"
    ):
        validate_marts(_warehouse(tmp_path, SCHEMA, PASSING, stray))


def test_reconciliation_severity_column_splits_warn_from_fail(tmp_path: Path):
    severity = """
    alter table rpt_reconciliation add column severity varchar default 'fail';
    insert into rpt_reconciliation values ('ingest_rows', 'landing/x.csv', 5, 4, -1, false, 'warn');
    """
    result = validate_marts(_warehouse(tmp_path, SCHEMA, PASSING, severity))
    assert {o.name for o in result.warnings} == {"rpt_reconciliation_warn", "untagged_cost"}


def test_missing_tables_are_named(tmp_path: Path):
    home = _warehouse(tmp_path, SCHEMA, "drop table fct_idle_cost;")
    with pytest.raises(
        ValidationFailed, match=r"table fct_idle_cost is missing from warehouse\.duckdb"
    ):
        validate_marts(home)


def test_empty_home_says_there_is_no_warehouse(tmp_path: Path):
    with pytest.raises(ValidationFailed, match="no warehouse at"):
        validate_marts(tmp_path)


def test_checks_read_aggregates_not_whole_marts(tmp_path: Path):
    """The frames GX checks are one row per pool and per activity, not per allocation row,
    and they still account for every row (issue 9: memory bounded at 18M billing rows)."""
    from llmledger.validation.marts import _read_tables

    home = _warehouse(tmp_path, SCHEMA, PASSING)
    frames, missing = _read_tables(home)
    assert missing == []
    assert len(frames["pools"]) == 2  # gpu-cloud 04:00 and 05:00; 6 allocation rows
    assert sorted(frames["allocation_activities"]["activity"]) == [
        "data.selection",
        "evaluation",
        "training.pretrain",
        "untagged",
    ]
    assert "fct_cost_allocation" not in frames
    outcomes = {o.name: o for o in validate_marts(home).outcomes}
    assert outcomes["allocation_gpu_hours_not_negative"].rows_checked == 6
    assert outcomes["allocation_activity_in_taxonomy"].rows_checked == 6
    assert outcomes["idle_gpu_hours_not_negative"].rows_checked == 1


def test_every_bad_row_is_caught_through_the_aggregates(tmp_path: Path):
    broken = """
    update fct_cost_allocation set gpu_hours = -1 where hour = '2025-03-01 05:00';
    update fct_cost_allocation set gpu_hours = -3 where job_id = '1004';
    update fct_cost_allocation set activity = 'training.misc' where job_id = '1002';
    update fct_idle_cost set idle_gpu_hours = -2;
    """
    with pytest.raises(ValidationFailed) as caught:
        validate_marts(_warehouse(tmp_path, SCHEMA, PASSING, broken))
    message = str(caught.value)
    # The pool's worst row, and how many of its rows are below zero.
    assert (
        "allocation_gpu_hours_not_negative [job 1004 gpu-cloud 2025-03-01 05:00] difference "
        "-3.0000000000 (gpu_hours below 0; 3 rows of this pool are)" in message
    )
    assert "[job 1001 gpu-cloud 2025-03-01 04:00]" not in message  # that pool is fine
    # The first row (by hour) with the bad activity, and how many rows carry it.
    assert (
        "allocation_activity_in_taxonomy [job 1002 gpu-cloud 2025-03-01 04:00] activity "
        "'training.misc' is not in the taxonomy (2 row(s) of fct_cost_allocation)" in message
    )
    assert "idle_gpu_hours_not_negative [gpu-cloud 2025-03-01 04:00] difference -2" in message


WARM_UP = """
import gc
import threading
from llmledger import validation

collections = []
gc.callbacks.append(lambda phase, info: phase == "stop" and collections.append(info))
validation.warm_up()
validation.warm_up()  # a second call starts nothing more
thread = validation._warm_up
assert thread is not None and thread.is_alive()
assert [t.name for t in threading.enumerate()].count("gx-warm-up") == 1
gxe = validation.expectations()  # waits for the thread instead of making a second context
assert not thread.is_alive()
assert validation._made_batch_definition.cache_info().misses == 1
# The collector was paused while GX was imported (a fifth of its import; hundreds of
# collections otherwise), and GX's objects are frozen: none ran. It is on again.
assert collections == [], len(collections)
assert gc.isenabled() and gc.get_freeze_count() > 100_000
print(gxe.ExpectColumnValuesToNotBeNull.__name__)
"""


def test_great_expectations_warms_up_once_in_the_background():
    """`llmledger build` starts GX while dbt builds; the checks then use that one context."""
    proc = subprocess.run(
        [sys.executable, "-c", WARM_UP], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ExpectColumnValuesToNotBeNull"


def test_the_collector_pause_freezes_what_the_block_made_and_restores_the_collector():
    import gc

    from llmledger.validation import _collector_paused

    try:
        assert gc.isenabled()
        with _collector_paused():
            assert not gc.isenabled()
            made = [[] for _ in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(made)  # left out of every later collection
        with pytest.raises(RuntimeError), _collector_paused():
            raise RuntimeError("an import failed")
        assert gc.isenabled()
        gc.disable()
        with _collector_paused():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()
        gc.unfreeze()  # this test's process goes on


def test_a_process_that_ran_the_checks_exits_without_leak_warnings(tmp_path: Path):
    """What the collector pause froze is thawed at exit: frozen, DuckDB's objects outlived
    its module and nanobind printed pages of "leaked instance" warnings at every exit."""
    home = _warehouse(tmp_path, SCHEMA, PASSING)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from llmledger.paths import Home\n"
        "from llmledger.validation.marts import validate_marts\n"
        "print(validate_marts(Home(Path(sys.argv[1]))).passed)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(home.root)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "True"
    assert "leaked" not in proc.stderr, proc.stderr[:2000]


def test_batches_are_not_fingerprinted_and_still_checked():
    """GX would hash every cell of a batch for metadata nothing reads (half the mart checks at
    the `large` scale point): the context skips it, and a check still flags its rows."""
    import pandas as pd

    from llmledger import validation

    gxe = validation.expectations()
    frame = pd.DataFrame({"cost": [Decimal("1.5"), None, Decimal("2")]}, dtype=object)
    batch = validation._batch_definition().get_batch(batch_parameters={"dataframe": frame})
    assert "pandas_data_fingerprint" not in batch.batch_markers
    flagged = validation.unexpected_indexes(
        "fingerprint", frame, [gxe.ExpectColumnValuesToNotBeNull(column="cost")]
    )
    assert flagged == [[1]]


def test_frames_hold_the_python_values_fetchall_gives():
    """The checks' frames come through Arrow; every value must still be what DuckDB's
    fetchall gives, type included: exact Decimal money (never a float), datetime hours, int
    counts and None for every null (never NaN or NaT)."""
    from llmledger.validation.marts import _objects

    con = duckdb.connect()
    query = """
        select * from (values
            ('a', timestamp '2025-03-01 04:00', 3.3333333334::decimal(38, 10), 2::bigint, true),
            (null, null, null, null, null),
            ('c', timestamp '2025-12-31 23:00', -0.0000000001::decimal(38, 10), 0::bigint, false)
        ) as t(scope, hour, cost_usd, row_count, passed)
    """
    expected = con.execute(query).fetchall()
    frame = _objects(con.sql(query).to_arrow_table())
    got = [tuple(row) for row in frame.itertuples(index=False)]
    assert got == expected
    assert [[type(v) for v in row] for row in got] == [[type(v) for v in row] for row in expected]
    assert got[0][2] == Decimal("3.3333333334") and got[2][2] == Decimal("-1E-10")
    assert all(v is None for v in got[1])
    assert all(dtype.kind == "O" for dtype in frame.dtypes)


@pytest.mark.parametrize("outcome", ["passing", "failing"])
def test_the_warehouse_is_closed_once_the_checks_are_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcome: str
):
    """The frames are read side by side on one read-only connection; it is closed when the
    checks end, passed or failed, not left to the garbage collector."""
    from llmledger import warehouse

    opened: list[duckdb.DuckDBPyConnection] = []

    def connect_readonly(home: Home) -> duckdb.DuckDBPyConnection:
        opened.append(duckdb.connect(str(home.warehouse), read_only=True))
        return opened[-1]

    monkeypatch.setattr(warehouse, "connect_readonly", connect_readonly)
    broken = "update fct_idle_cost set idle_gpu_hours = -2;" if outcome == "failing" else ""
    home = _warehouse(tmp_path, SCHEMA, PASSING, broken)
    if outcome == "failing":
        with pytest.raises(ValidationFailed, match="idle_gpu_hours_not_negative"):
            validate_marts(home)
    else:
        assert validate_marts(home).passed
    assert len(opened) == 1
    with pytest.raises(duckdb.ConnectionException, match="closed"):
        opened[0].execute("select 1")


DEFERRED = """
import sys
import pandas as pd
from llmledger import validation
from llmledger.validation import _DeferredModule

gxe = validation.expectations()  # imports GX
frame = pd.DataFrame({"x": [1, None]})
assert validation.unexpected_indexes(
    "deferred", frame, [gxe.ExpectColumnValuesToNotBeNull(column="x")]
) == [[1]]
# GX imported and a check ran, and neither module was imported.
for name in ("scipy.stats", "altair"):
    assert isinstance(sys.modules[name], _DeferredModule), name
# The one expectation that uses them still gets the real modules, on first use.
from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
# By hand: ln(0.5/0.9)/2 + ln(0.5/0.1)/2 = ln(25/9)/2 = ln(5/3) = 0.510826
assert round(kl.stats.entropy([0.5, 0.5], [0.9, 0.1]), 6) == 0.510826
assert kl.alt.Chart.__name__ == "Chart"
import scipy.stats
assert not isinstance(sys.modules["scipy.stats"], _DeferredModule)
assert kl.stats.entropy is scipy.stats.entropy
print("ok")
"""


def test_great_expectations_is_imported_without_what_no_check_uses():
    """scipy.stats and altair, a third of GX's import, are imported only when first used."""
    proc = subprocess.run(
        [sys.executable, "-c", DEFERRED], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_a_deferred_module_runs_once_on_first_use(tmp_path: Path, monkeypatch):
    import types

    from llmledger.validation import _defer, _DeferredModule

    package = tmp_path / "deferpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "heavy.py").write_text(
        "import builtins\nbuiltins.deferpkg_runs = getattr(builtins, 'deferpkg_runs', 0) + 1\n"
        "VALUE = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import builtins

    try:
        _defer("deferpkg.heavy")
        import deferpkg.heavy as bound
        from deferpkg import heavy as also_bound

        assert isinstance(bound, _DeferredModule) and also_bound is bound
        assert sys.modules["deferpkg"].heavy is bound  # `import deferpkg; deferpkg.heavy.x`
        assert getattr(builtins, "deferpkg_runs", 0) == 0  # imported, not run
        assert bound.VALUE == 42 and also_bound.VALUE == 42
        assert builtins.deferpkg_runs == 1
        real = sys.modules["deferpkg.heavy"]
        assert type(real) is types.ModuleType and real.VALUE == 42
        assert sys.modules["deferpkg"].heavy is real
        # Imported already: nothing to defer. Not installed: its import fails as before.
        _defer("deferpkg.heavy")
        assert sys.modules["deferpkg.heavy"] is real
        _defer("deferpkg.absent")
        _defer("no_such_package.module")
        with pytest.raises(ModuleNotFoundError):
            import deferpkg.absent  # noqa: F401
        assert builtins.deferpkg_runs == 1
    finally:
        for name in ("deferpkg.heavy", "deferpkg"):
            sys.modules.pop(name, None)
        if hasattr(builtins, "deferpkg_runs"):
            del builtins.deferpkg_runs
