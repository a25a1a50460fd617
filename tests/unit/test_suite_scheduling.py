"""How `make test` splits the suite over its pytest-xdist workers (tests/conftest.py): by
module, the modules that read the demo organisation as one scope, run first."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from conftest import DEMO_MODULES, DEMO_SCOPE, ModuleOrDemoScheduling, pytest_collection_modifyitems


def _scope(nodeid: str) -> str:
    return ModuleOrDemoScheduling._split_scope(None, nodeid)  # type: ignore[arg-type]


def test_a_module_is_one_scope_and_the_demo_modules_are_one():
    assert _scope("tests/unit/test_cli.py::test_help") == "tests/unit/test_cli.py"
    assert _scope("tests/unit/test_cli.py::TestX::test_y[a::b]") == "tests/unit/test_cli.py"
    assert {_scope(f"{module}::test_a[x]") for module in DEMO_MODULES} == {DEMO_SCOPE}
    assert len(DEMO_MODULES) == 5


def _item(nodeid: str, *fixtures: str) -> SimpleNamespace:
    return SimpleNamespace(nodeid=nodeid, fixturenames=list(fixtures))


def test_the_demo_modules_run_first_in_collection_order():
    items = [
        _item("tests/a/test_one.py::test_1", "tmp_path"),
        _item("tests/sql/test_saved_queries.py::test_q", "demo_run"),
        _item("tests/a/test_two.py::test_2"),
        _item("tests/dag/test_dag_run.py::test_failed_run", "airflow_home"),
    ]
    pytest_collection_modifyitems(None, items)  # type: ignore[arg-type]
    assert [i.nodeid for i in items] == [
        "tests/sql/test_saved_queries.py::test_q",
        "tests/dag/test_dag_run.py::test_failed_run",
        "tests/a/test_one.py::test_1",
        "tests/a/test_two.py::test_2",
    ]


def test_a_test_reading_the_demo_from_an_unlisted_module_is_refused():
    # On two workers it would refresh the demo organisation a second time, silently.
    items = [_item("tests/e2e/test_new.py::test_reads_demo", "demo_warehouse_home")]
    with pytest.raises(pytest.UsageError, match=r"DEMO_MODULES.*tests/e2e/test_new.py"):
        pytest_collection_modifyitems(None, items)  # type: ignore[arg-type]
