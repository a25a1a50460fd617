"""JSONL run manifests (one JSON object per line) -> ``raw_schema.RUN_MANIFEST`` rows.

Training and data frameworks write one record per run. Schema (README "Run manifests"):

=================== ======== ==========================================================
key                 required value
=================== ======== ==========================================================
``run_id``          yes      text, unique per run
``cluster``         yes      text, as billing tags and sacct name the cluster
``gpus``            yes      integer > 0
``start``           yes      ISO-8601 timestamp; without an offset it is UTC
``end``             no       ISO-8601 timestamp, not before ``start``; null while running
``stage``           yes      an activity of the taxonomy (``training.pretrain`` ...) or
                             ``rollout`` / ``ablation`` (attributed by policy)
``model_generation`` no      text
``dataset_produced`` no      text (a dataset version)
``datasets_consumed`` no     list of texts (dataset versions)
``tokens``          no       integer >= 0: tokens processed (trained on, or produced)
``parameters``      no       integer > 0: model parameter count N
``gpu_type``        no       text, e.g. h100 (else the cluster's, from clusters.csv)
``job_id``          no       the scheduler's job id, when the run was a Slurm job
=================== ======== ==========================================================

Other keys are kept, as JSON, in ``extra``. A line that is not a JSON object, or breaks a rule
above, is quarantined with the key, the value and what was expected.
"""

from __future__ import annotations

import json
from typing import Any

from llmledger.ingest.common import (
    Parsed,
    Record,
    Rejected,
    RowError,
    parse_timestamp,
    physical_lines,
    strip_terminator,
)
from llmledger.taxonomy import TAGGABLE_ACTIVITIES

PARSER = "run_manifest_jsonl"
POLICY_STAGES = ("rollout", "ablation")
STAGES = TAGGABLE_ACTIVITIES + POLICY_STAGES
KNOWN_KEYS = (
    "run_id",
    "cluster",
    "gpus",
    "start",
    "end",
    "stage",
    "model_generation",
    "dataset_produced",
    "datasets_consumed",
    "tokens",
    "parameters",
    "gpu_type",
    "job_id",
)


def looks_like_manifest(first_line: str) -> bool:
    """True if a file's first line is a JSON object with a ``run_id`` key."""
    try:
        value = json.loads(first_line)
    except ValueError:
        return False
    return isinstance(value, dict) and "run_id" in value


def _text(obj: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError("missing_value", key, None, "a non-empty text")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RowError("bad_value", key, json.dumps(value), "a text")
    return str(value).strip()


def _int(obj: dict[str, Any], key: str, minimum: int, required: bool = False) -> int | None:
    value = obj.get(key)
    expected = f"an integer >= {minimum}"
    if value is None:
        if required:
            raise RowError("missing_value", key, None, expected)
        return None
    # JSON writers often emit large counts as 2e12 or "2000000000000": accept exact integers.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise RowError("bad_value", key, json.dumps(value), expected)
    return value


def _record(obj: dict[str, Any]) -> dict[str, Any]:
    stage = _text(obj, "stage", required=True)
    if stage not in STAGES:
        raise RowError("bad_stage", "stage", stage, "an activity or one of rollout, ablation")
    start = parse_timestamp(_text(obj, "start", required=True), "start")
    end = parse_timestamp(_text(obj, "end"), "end")
    if end is not None and end < start:
        raise RowError("end_before_start", "end", obj.get("end"), "not before start")
    consumed = obj.get("datasets_consumed")
    if consumed is not None and (
        not isinstance(consumed, list) or not all(isinstance(v, str) and v for v in consumed)
    ):
        raise RowError(
            "bad_value", "datasets_consumed", json.dumps(consumed), "a list of dataset versions"
        )
    extra = {k: v for k, v in obj.items() if k not in KNOWN_KEYS}
    gpu_type = _text(obj, "gpu_type")
    return {
        "run_id": _text(obj, "run_id", required=True),
        "cluster": _text(obj, "cluster", required=True),
        "job_id": _text(obj, "job_id"),
        "gpus": _int(obj, "gpus", 1, required=True),
        "gpu_type": gpu_type.lower() if gpu_type else None,
        "start_time": start,
        "end_time": end,
        "stage": stage,
        "model_generation": _text(obj, "model_generation"),
        "dataset_produced": _text(obj, "dataset_produced"),
        "datasets_consumed": json.dumps(consumed) if consumed else None,
        "tokens": _int(obj, "tokens", 0),
        "parameters": _int(obj, "parameters", 1),
        "extra": json.dumps(extra, sort_keys=True, default=str),
    }


def parse(text: str) -> Parsed:
    """Parse a JSONL manifest file; blank lines are not rows; each bad line is quarantined."""
    parsed = Parsed(PARSER)
    for number, line in enumerate(physical_lines(text), start=1):
        raw = strip_terminator(line)
        if not raw.strip():
            continue
        parsed.rows_read += 1
        try:
            try:
                obj = json.loads(raw)
            except ValueError as exc:
                raise RowError(
                    "bad_json", None, raw[:200], "a JSON object", f"not valid JSON: {exc}"
                ) from None
            if not isinstance(obj, dict):
                raise RowError("bad_json", None, raw[:200], "a JSON object")
            parsed.records.append(Record(number, raw, _record(obj)))
        except RowError as err:
            parsed.rejected.append(Rejected.from_error(number, raw, err))
    return parsed
