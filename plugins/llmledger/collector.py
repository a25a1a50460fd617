"""Python's cyclic garbage collector, told what lives as long as the process.

Importing Great Expectations, or a worker running one dbt node after another, leaves a process
with hundreds of thousands of long-lived objects that every full collection walks again.
:func:`freeze_until_exit` takes them out of the collector's sight for the rest of the process
(standard library only: the DAG file imports this when parsed).
"""

from __future__ import annotations

import atexit
import gc


def freeze_until_exit() -> None:
    """``gc.freeze()`` what the process holds now, thawed once when the interpreter exits.

    Thawed, the interpreter's last collections free it. Left frozen, DuckDB's objects outlive
    its extension module, and nanobind prints a page of "leaked instance" warnings at the exit
    of any process that ran the mart checks or a dbt node (a test worker, a plain
    ``python -c``). A process that ends with ``os._exit`` (the CLI) skips both. Called again,
    it freezes what is new and still registers one thaw.
    """
    gc.freeze()
    atexit.unregister(gc.unfreeze)
    atexit.register(gc.unfreeze)
