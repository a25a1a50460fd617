"""Finance formatting for the report, and the safety rules for text that came from input files.

Money: rounded half up to the cent, thousands separators, negatives in parentheses
(``(1,234.56)``) everywhere in the HTML. Shares and changes: percentages with one decimal,
negatives in parentheses too. Extracts (CSV, XLSX) carry the same rounded values as numbers.

Text from input files (vendor names, job names, tags, dataset names) is escaped in HTML by the
template engine (autoescape) and, in CSV and XLSX cells, neutralised when it would start a
formula: a leading ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a ``'`` in front, as
OWASP recommends, so a spreadsheet shows the text instead of evaluating it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
MISSING = "–"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# Column kinds: how a value is shown, and how it goes into an extract.
TEXT, MONEY, SHARE, CHANGE, NUMBER, INTEGER, BOOL = (
    "text",
    "money",
    "share",
    "change",
    "number",
    "integer",
    "bool",
)
NUMERIC_KINDS = (MONEY, SHARE, CHANGE, NUMBER, INTEGER)


def to_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _negative(text: str, negative: bool) -> str:
    return f"({text})" if negative else text


def money(value: Any) -> str:
    """``1,234.56``; negatives ``(1,234.56)``; missing ``–``."""
    amount = to_decimal(value)
    if amount is None:
        return MISSING
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return _negative(f"{abs(rounded):,}", rounded < 0)


def share(value: Any) -> str:
    """A 0..1 ratio as ``61.9 %``; negatives in parentheses."""
    ratio = to_decimal(value)
    if ratio is None:
        return MISSING
    percent = (ratio * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return _negative(f"{abs(percent):,} %", percent < 0)


def change(value: Any) -> str:
    """A relative change (0.125 -> ``+12.5 %``, -0.2 -> ``(20.0 %)``)."""
    ratio = to_decimal(value)
    if ratio is None:
        return MISSING
    text = share(ratio)
    return text if ratio < 0 or text.startswith("0.0") else f"+{text}"


def number(value: Any) -> str:
    amount = to_decimal(value)
    if amount is None:
        return MISSING
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return _negative(f"{abs(rounded):,}", rounded < 0)


def integer(value: Any) -> str:
    if value is None:
        return MISSING
    whole = int(value)
    return _negative(f"{abs(whole):,}", whole < 0)


def display(value: Any, kind: str) -> str:
    """How a cell of ``kind`` is shown in the HTML (before escaping)."""
    if kind == MONEY:
        return money(value)
    if kind == SHARE:
        return share(value)
    if kind == CHANGE:
        return change(value)
    if kind == NUMBER:
        return number(value)
    if kind == INTEGER:
        return integer(value)
    if kind == BOOL:
        return MISSING if value is None else ("yes" if value else "no")
    return "" if value is None else str(value)


def neutralise(text: str) -> str:
    """Text that a spreadsheet would read as a formula, made inert with a leading ``'``."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def extract_value(value: Any, kind: str) -> Any:
    """The value written to CSV/XLSX: numbers rounded as displayed (money to the cent, ratios
    to 1e-6), text neutralised."""
    if value is None:
        return None
    if kind in (MONEY, NUMBER):
        return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    if kind in (SHARE, CHANGE):
        return to_decimal(value).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    if kind == INTEGER:
        return int(value)
    if kind == BOOL:
        return bool(value)
    return neutralise(str(value))
