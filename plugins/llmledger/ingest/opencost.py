"""OpenCost allocation API JSON -> ``raw_schema.OPENCOST_ALLOCATION`` rows.

The file is the response body of ``GET /allocation`` or ``GET /allocation/compute`` saved as
it came: ``{"code": 200, "data": [{"<name>": {allocation}, ...}, ...]}``. ``data`` is a list
of allocation sets, one per step window (``step=1h`` gives one set per hour); a set maps an
allocation name to its allocation. A file that is only the ``data`` list, or only one set, is
read the same way. Per allocation the warehouse keeps: ``name``; ``properties`` (``cluster``,
``node``, ``namespace``, ``controller``, ``controllerKind``, ``pod``, ``container``, ``labels``,
``annotations``); ``window`` (``start``, ``end``); ``start``, ``end`` (when the workload ran
inside the window), ``minutes``, ``gpuHours``, ``gpuCount``, ``gpuCost``, ``cpuCoreHours``,
``totalCost``.

Numbers are read from the JSON text as decimals (never through float). Timestamps are RFC 3339;
without an offset they are UTC.

Row accounting: a row is one allocation (in file order: sets, then allocations in a set);
``_source_row`` is its 1-based ordinal in the file, and ``allocation_name`` plus
``window_start`` find it. Each allocation is loaded, quarantined or skipped:

- skipped ``opencost_idle``: ``__idle__`` (capacity no workload used, as OpenCost prices it).
  The warehouse computes idle itself from the bills (capacity paid for minus GPU-hours used),
  so counting OpenCost's idle as usage would hide exactly what ``idle`` should show.
- skipped ``no_gpu_hours``: ``gpuHours`` is 0 (CPU-only pods, ``__unmounted__`` volumes):
  they hold no GPU-hours, and GPU-hours are all the warehouse allocates cost by.
- loaded: every other allocation with ``gpuHours`` > 0, ``__unallocated__`` included (usage
  OpenCost could not attribute to the aggregation key): it is real GPU use, and without
  labels it lands in ``untagged``, where the reports show it.
- quarantined: an allocation that is not an object, or lacks or mangles ``properties.cluster``,
  ``start``, ``end``, ``window`` or ``gpuHours`` (missing, not a number, negative), or ends
  before it starts, or has GPU-hours but no duration. The quarantine row names the file, the
  allocation (``raw_text`` is its JSON, the message starts with its name), the field and the
  value.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from llmledger.ingest.common import (
    FileRejected,
    Parsed,
    Record,
    Rejected,
    RowError,
    parse_timestamp,
    to_scale,
)

PARSER = "opencost_allocation_json"
IDLE = "__idle__"
UNALLOCATED = "__unallocated__"
SKIP_IDLE = "opencost_idle"
SKIP_NO_GPU = "no_gpu_hours"
PROPERTY_TEXT = {
    "cluster": "cluster",
    "node": "node",
    "namespace": "namespace",
    "controller": "controller",
    "controllerKind": "controller_kind",
    "pod": "pod",
    "container": "container",
}
NUMBERS = {
    "minutes": "minutes",
    "gpuCount": "gpu_count",
    "gpuCost": "gpu_cost",
    "cpuCoreHours": "cpu_core_hours",
    "totalCost": "total_cost",
}


@dataclass
class OpenCostParsed(Parsed):
    """:class:`Parsed` plus how many allocations were skipped for which reason."""

    skip_reasons: Counter[str] = field(default_factory=Counter)


def looks_like_opencost(text: str) -> bool:
    """True if ``text`` is an OpenCost allocation response (``{"code", "data": [...]}``)."""
    head = text.lstrip()[:4096]
    return head.startswith("{") and '"data"' in head and ('"code"' in head or '"window"' in head)


def _sets(document: Any) -> list[Any]:
    """The allocation sets of a response, a bare ``data`` list or a single set."""
    if isinstance(document, dict) and "data" in document:
        code = document.get("code")
        if code is not None and code != 200:
            raise FileRejected(
                "opencost_error_response",
                f"the response has code {code!r} (expected 200): "
                f"{str(document.get('message', ''))[:200]}",
            )
        data = document["data"]
    else:
        data = document
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise FileRejected(
            "unrecognised_layout",
            'expected an OpenCost allocation response {"code": 200, "data": [{name: allocation}]}',
        )
    return data


def _text(value: Any, column: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise RowError("bad_value", column, json.dumps(value, default=str), "a text")
    return value.strip()


def _number(value: Any, column: str, required: bool = False) -> Decimal | None:
    expected = "a number >= 0"
    if value is None:
        if required:
            raise RowError("missing_value", column, None, expected)
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise RowError("bad_number", column, json.dumps(value, default=str), expected)
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise RowError("bad_number", column, str(value), expected)
    return to_scale(number)


def _time(value: Any, column: str) -> Any:
    if value is None:
        raise RowError("missing_value", column, None, "an RFC 3339 timestamp")
    if not isinstance(value, str):
        raise RowError("bad_timestamp", column, json.dumps(value, default=str), "a timestamp")
    return parse_timestamp(value, column)


def _string_map(value: Any, column: str) -> str:
    if value is None:
        return "{}"
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise RowError(
            "bad_value", column, json.dumps(value, default=str)[:200], "an object of texts"
        )
    return json.dumps(value, sort_keys=True)


def _record(name: str, alloc: dict[str, Any]) -> dict[str, Any]:
    props = alloc.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise RowError("bad_value", "properties", json.dumps(props, default=str), "an object")
    values: dict[str, Any] = {"allocation_name": name}
    for key, column in PROPERTY_TEXT.items():
        values[column] = _text(props.get(key), f"properties.{key}")
    if values["cluster"] is None:
        raise RowError("missing_value", "properties.cluster", None, "the cluster's name")
    values["labels"] = _string_map(props.get("labels"), "properties.labels")
    values["annotations"] = _string_map(props.get("annotations"), "properties.annotations")
    window = alloc.get("window")
    if not isinstance(window, dict):
        raise RowError(
            "bad_value", "window", json.dumps(window, default=str), "an object with start and end"
        )
    values["window_start"] = _time(window.get("start"), "window.start")
    values["window_end"] = _time(window.get("end"), "window.end")
    values["start_time"] = _time(alloc.get("start"), "start")
    values["end_time"] = _time(alloc.get("end"), "end")
    if values["end_time"] < values["start_time"]:
        raise RowError("end_before_start", "end", alloc.get("end"), "not before start")
    values["gpu_hours"] = _number(alloc.get("gpuHours"), "gpuHours", required=True)
    for key, column in NUMBERS.items():
        values[column] = _number(alloc.get(key), key)
    if values["gpu_hours"] > 0 and values["end_time"] == values["start_time"]:
        raise RowError(
            "zero_duration",
            "end",
            alloc.get("end"),
            "after start when gpuHours > 0",
            f"gpuHours {alloc.get('gpuHours')} in no time (start = end = {alloc.get('end')})",
        )
    return values


def parse(text: str) -> OpenCostParsed:
    """Parse one OpenCost allocation response; see the module docstring for the rules."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise FileRejected("malformed_json", f"not valid JSON: {exc}") from None
    parsed = OpenCostParsed(PARSER)
    ordinal = 0
    for set_index, allocation_set in enumerate(_sets(document), start=1):
        if not isinstance(allocation_set, dict):
            raise FileRejected(
                "unrecognised_layout",
                f"data[{set_index - 1}] is not an allocation set (an object of allocations)",
            )
        for key, alloc in allocation_set.items():
            ordinal += 1
            parsed.rows_read += 1
            raw = json.dumps({key: alloc}, default=str, sort_keys=True)
            name = alloc.get("name", key) if isinstance(alloc, dict) else key
            name = name if isinstance(name, str) and name else key
            try:
                if not isinstance(alloc, dict):
                    raise RowError("bad_json", None, raw[:200], "an allocation object")
                if name == IDLE:
                    parsed.rows_skipped += 1
                    parsed.skip_reasons[SKIP_IDLE] += 1
                    continue
                values = _record(name, alloc)
            except RowError as err:
                err.message = f"allocation {name!r} (set {set_index}): {err.message}"
                parsed.rejected.append(Rejected.from_error(ordinal, raw, err))
                continue
            if values["gpu_hours"] == 0:
                parsed.rows_skipped += 1
                parsed.skip_reasons[SKIP_NO_GPU] += 1
                continue
            parsed.records.append(Record(ordinal, raw, values))
    return parsed
