"""Great Expectations checks: on raw batches before they are written, and on the marts.

GX cannot read DuckDB, so every check runs on a pandas DataFrame. GX is imported lazily (it
costs seconds and hundreds of MB) and one ephemeral context serves the whole process.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@functools.cache
def _batch_definition() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas(name="llmledger").add_dataframe_asset(name="frame")
    return asset.add_batch_definition_whole_dataframe("whole")


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
