"""The dbt tasks' on_execute_callback: the worker's objects leave the cyclic collector's sight,
its garbage does not (no Airflow: the callback is plain Python)."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

from llmledger.airflow_runner import freeze_what_the_worker_holds


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> tuple[weakref.ref, weakref.ref]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a), weakref.ref(b)


def test_live_objects_are_frozen_and_garbage_is_collected_first():
    was_enabled = gc.isenabled()
    gc.disable()  # no collection may happen by chance between the lines below
    try:
        kept = [_Node() for _ in range(1000)]
        garbage = _cycle()  # unreachable already, freed only by the cyclic collector
        assert garbage[0]() is not None
        before = gc.get_freeze_count()
        freeze_what_the_worker_holds({})
        assert garbage[0]() is None and garbage[1]() is None  # collected, not frozen
        assert gc.get_freeze_count() >= before + len(kept)  # the live ones are frozen
        made_after = _cycle()
        gc.collect()  # what Cosmos runs after each node: it still frees the node's garbage
        assert made_after[0]() is None
    finally:
        gc.unfreeze()  # this test's process goes on
        if was_enabled:
            gc.enable()


def test_what_is_frozen_is_thawed_once_at_exit():
    # Two dbt tasks in one process (dag.test runs every task in one): one thaw at exit, and
    # nothing frozen once it has run. Exit handlers run last registered first, so the report
    # registered before the tasks runs after the thaw.
    script = (
        "import atexit, gc, os\n"
        "thaws = []\n"
        "unfreeze = gc.unfreeze\n"
        "def counted_unfreeze():\n"
        "    thaws.append(1)\n"
        "    unfreeze()\n"
        "gc.unfreeze = counted_unfreeze\n"
        "def report():\n"
        "    os.write(1, f'{len(thaws)} {gc.get_freeze_count()}'.encode())\n"
        "atexit.register(report)\n"
        "from llmledger.airflow_runner import freeze_what_the_worker_holds\n"
        "freeze_what_the_worker_holds({})\n"
        "freeze_what_the_worker_holds({})\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1 0"
