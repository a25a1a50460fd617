"""LLM Ledger: what model generations really cost, data versus training."""

__version__ = "0.1.0"
