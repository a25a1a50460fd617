"""Great Expectations checks: on raw batches before they are written, and on the marts.

GX cannot read DuckDB, so every check runs on a pandas DataFrame. GX is imported lazily (it
costs seconds and hundreds of MB) and one ephemeral context serves the whole process.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import logging
import os
import sys
import threading
import types
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from llmledger.collector import freeze_until_exit

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


_warm_up: threading.Thread | None = None
_warm_up_lock = threading.Lock()


def warm_up() -> None:
    """Start importing Great Expectations and making its context in a background thread.

    That takes seconds of one core and needs nothing from the warehouse, so a caller that will
    run checks after a dbt build (``llmledger build``, ``llmledger run --in-process``) starts
    it as dbt starts (``dbt_build(while_building=warm_up)``: not before, where it would slow
    the config and plan for the interpreter) and the checks do not wait for it. Safe to call
    more than once; a failure here is raised again, with its traceback, by the first check.
    """
    global _warm_up
    with _warm_up_lock:
        if _warm_up is not None or _made_batch_definition.cache_info().currsize:
            return
        _warm_up = threading.Thread(target=_warm_up_quietly, name="gx-warm-up", daemon=True)
        _warm_up.start()


def _warm_up_quietly() -> None:
    if sys.platform.startswith("linux"):
        # Only this thread (Linux nices threads one by one): it runs ahead of need, so the dbt
        # build it overlaps gets the cores first (measured at `large` on 2 cores: a night's
        # build and checks in 20.7 s, 21.8 s at normal priority, 23.8 s without the warm-up).
        # 10, not 19: on a machine others keep busy, a check may have to wait for this thread.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    try:
        _made_batch_definition()
    except Exception:  # the first check makes it again, and raises
        log.debug("Great Expectations warm-up failed", exc_info=True)


def _batch_definition() -> Any:
    """The whole-DataFrame batch definition of the process's one ephemeral GX context (made on
    first use, or by :func:`warm_up`'s thread, which this waits for)."""
    thread = _warm_up
    if thread is not None and thread is not threading.current_thread():
        thread.join()
    return _made_batch_definition()


@functools.cache
def _made_batch_definition() -> Any:
    with _collector_paused():
        return _build_batch_definition()


def _build_batch_definition() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    for name in DEFERRED_BY_GX:
        _defer(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

    _skip_batch_fingerprints()
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas(name="llmledger").add_dataframe_asset(name="frame")
    return asset.add_batch_definition_whole_dataframe("whole")


# Imported by Great Expectations when it is imported, for one expectation only, which no check
# here uses (expect_column_kl_divergence_to_be_less_than: scipy.stats for the divergence, altair
# for its chart). They were a third of GX's import: 0.9 to 1.0 s of 3.2 to 3.3 s of CPU,
# measured; a night's import of GX runs beside the build on the other core. Each is imported
# when it is first used instead (:func:`_defer`).
DEFERRED_BY_GX = ("scipy.stats", "altair")


class _DeferredModule(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet: ``import`` and ``from ... import``
    of it bind this (they read only what :func:`_defer` sets), and the first attribute read
    beyond those imports the real module, which replaces this one in ``sys.modules`` and whose
    names this one takes, so whoever bound it reads the real module's."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(_import_deferred(self), attr)


_deferred_lock = threading.RLock()


def _defer(name: str) -> None:
    """Put a :class:`_DeferredModule` in ``sys.modules`` for ``name``, unless it is imported
    already or not installed (then its ``import`` fails as it would have)."""
    with _deferred_lock:
        if name in sys.modules:
            return
        try:
            spec = importlib.util.find_spec(name)  # imports the parent package (scipy: light)
        except ImportError:  # no parent package
            return
        if spec is None:
            return
        module = _DeferredModule(name)
        module.__spec__ = spec
        module.__loader__ = spec.loader
        module.__file__ = spec.origin
        if spec.submodule_search_locations is not None:
            module.__path__ = list(spec.submodule_search_locations)
            module.__package__ = name
        else:
            module.__package__ = spec.parent
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:  # as an import would: the package's attribute
            setattr(sys.modules[parent], child, module)


def _import_deferred(module: _DeferredModule) -> types.ModuleType:
    with _deferred_lock:
        name = module.__name__
        if sys.modules.get(name) is module:
            del sys.modules[name]
        real = importlib.import_module(name)
        vars(module).update(vars(real))
        return real


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a block, then what the process holds frozen
    (left out of every later collection) and the collector as it was. Importing Great
    Expectations and making its context make objects that live as long as the process and
    next to no garbage. The collector walking them again and again was a fifth of the import
    (2.2 to 2.5 s of CPU with it, 1.85 to 1.9 s paused, measured); and walking them once more
    in each older generation as they aged was a quarter of the `large` mart checks when they
    follow the import, as in the DAG's check task (0.135 to 0.165 s of 0.6 s; 0.003 s
    frozen), or background work during the build when GX warms up beside it.

    What is frozen is thawed when the interpreter exits (:func:`llmledger.collector.
    freeze_until_exit`)."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        freeze_until_exit()
        if was_enabled:
            gc.enable()


def _skip_batch_fingerprints() -> None:
    """GX fingerprints every in-memory batch it is given below a size threshold: an md5 over
    pandas' hash of every cell, stored in the batch's markers, which nothing here reads. On
    object columns (exact Decimals) that was half of the mart checks at the `large` scale point
    (1.0 s to 0.5 s without). A threshold of 0 skips it; a GX without the setting changes
    nothing."""
    from great_expectations.execution_engine import pandas_execution_engine

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0
    else:
        log.debug("Great Expectations has no HASH_THRESHOLD: batches are fingerprinted")


def expectations() -> Any:
    """The ``great_expectations.expectations`` module (imported on first use)."""
    _batch_definition()
    import great_expectations.expectations as gxe

    return gxe


def unexpected_indexes(name: str, frame: pd.DataFrame, checks: Sequence[Any]) -> list[list[Any]]:
    """Run ``checks`` (GX expectations) on ``frame``; per check, the index labels it flags.

    An expectation that could not run (a missing column, a type GX cannot compare) raises
    instead of passing silently.
    """
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name)
    for position, check in enumerate(checks):
        # GX regroups results by column; the tag maps each result back to its check.
        check.meta = {**(check.meta or {}), "llmledger_position": position}
        suite.add_expectation(check)
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    flagged: list[list[Any]] = [[] for _ in checks]
    for outcome in result.results:
        indexes = outcome.result.get("unexpected_index_list")
        if not outcome.success and indexes is None:
            raise RuntimeError(
                f"expectation {outcome.expectation_config.type} in suite {name} could not run: "
                f"{_exception_messages(outcome.exception_info)}"
            )
        flagged[outcome.expectation_config.meta["llmledger_position"]] = list(indexes or [])
    return flagged


def _exception_messages(info: dict[str, Any] | None) -> str:
    # GX reports either one exception or one per metric it could not compute.
    info = info or {}
    entries = [info] if "exception_message" in info else list(info.values())
    return "; ".join(str(e.get("exception_message")) for e in entries if isinstance(e, dict)) or "?"
