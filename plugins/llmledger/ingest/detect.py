"""Which raw kind a file is: from the landing folder it sits in, else from its header."""

from __future__ import annotations

from pathlib import Path

from llmledger.ingest import billing, focus, gcp, manifest, opencost, sacct, vendor_csv
from llmledger.ingest.common import csv_records, physical_lines

# CLI words (the landing folder names) and raw kinds are both accepted.
KIND_ALIASES = {
    "billing": "focus",
    "invoices": "annotation_invoice",
    "pipeline": "slurm_job",
    "focus": "focus",
    "annotation_invoice": "annotation_invoice",
    "slurm_job": "slurm_job",
    "run_manifest": "run_manifest",
    "opencost_allocation": "opencost_allocation",
}
LANDING_KIND = {"billing": "focus", "invoices": "annotation_invoice", "pipeline": "slurm_job"}
LANDING_FOLDER = {kind: folder for folder, kind in LANDING_KIND.items()}
PARSERS = {
    "focus": focus.PARSER,
    "annotation_invoice": vendor_csv.PARSER,
    "slurm_job": sacct.PARSER,
    "run_manifest": manifest.PARSER,
    "opencost_allocation": opencost.PARSER,
}
# JSON Lines under landing/pipeline/ are run manifests, not sacct dumps.
LANDING_FOLDER["run_manifest"] = "pipeline"
MANIFEST_SUFFIXES = (".jsonl", ".ndjson")
# A JSON document (not JSON Lines) under landing/pipeline/ is an OpenCost allocation response.
LANDING_FOLDER["opencost_allocation"] = "pipeline"
OPENCOST_SUFFIXES = (".json",)


def normalise_kind(kind: str) -> str | None:
    """The raw kind a ``--kind`` value names; None for ``auto``."""
    if kind == "auto":
        return None
    try:
        return KIND_ALIASES[kind]
    except KeyError:
        choices = "billing, invoices, pipeline, auto"
        raise ValueError(f"unknown kind {kind!r}; expected one of {choices}") from None


def kind_from_landing(relative: Path) -> str | None:
    """The kind of a file by its folder under ``landing/`` (``relative`` is inside landing)."""
    if len(relative.parts) < 2:
        return None
    kind = LANDING_KIND.get(relative.parts[0])
    suffix = relative.suffix.lower()
    if suffix == ".gz":  # gzip is a wrapper: the suffix before it says what is inside
        suffix = relative.with_suffix("").suffix.lower()
    if kind == "slurm_job" and suffix in MANIFEST_SUFFIXES:
        return "run_manifest"
    if kind == "slurm_job" and suffix in OPENCOST_SUFFIXES:
        return "opencost_allocation"
    return kind


def sniff_kind(text: str) -> str | None:
    """The kind a file's first non-blank line (its header) says it is, or None."""
    lines = physical_lines(text)
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        return None
    if first.lstrip().startswith("{"):
        if manifest.looks_like_manifest(first):
            return "run_manifest"
        if opencost.looks_like_opencost(text):
            return "opencost_allocation"
        return "focus" if gcp.looks_like_jsonl(first) else None
    if "|" in first:
        return "slurm_job" if sacct.looks_like_sacct(first) else None
    for _, _, fields in csv_records([first]):
        if billing.recognises(fields):
            return "focus"
        if vendor_csv.recognises(fields):
            return "annotation_invoice"
    return None
