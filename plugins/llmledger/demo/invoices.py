"""Monthly invoices of the demo lab's two annotation vendors, in two formats.

labelforge writes SFT data (per item, with a percentage platform fee), red-teams by the hour,
and now and then credits items rejected in QA; its invoices are CSV in the built-in layout.
prefpair, a managed workforce, sells preference comparisons per pair and charges a flat
monthly platform fee on its own line; its invoices are JSON documents read through the
mapping :data:`PREFPAIR_MAPPING` (``config/vendors/prefpair.yaml``).
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from llmledger.owned_hardware import add_months
from llmledger.vendor_mappings import DEFAULT_CSV_COLUMNS

COLUMNS = DEFAULT_CSV_COLUMNS
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Invoice:
    """One vendor invoice for one service month."""

    vendor: str
    invoice_id: str
    file_name: str
    text: str
    total: Decimal


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


class _Builder:
    def __init__(self, invoice_id: str, month: date) -> None:
        self.invoice_id = invoice_id
        self.month = month
        self.lines: list[list[str]] = []
        self.total = Decimal(0)

    def line(
        self,
        project: str,
        description: str,
        unit_type: str,
        quantity: int,
        unit_price: str,
        fee: Decimal = Decimal(0),
        credit: Decimal = Decimal(0),
    ) -> None:
        price = Decimal(unit_price)
        total = quantity * price + fee - credit
        self.total += total
        last_day = add_months(self.month, 1) - timedelta(days=1)
        self.lines.append(
            [
                self.invoice_id,
                (last_day + timedelta(days=5)).isoformat(),
                str(len(self.lines) + 1),
                project,
                description,
                unit_type,
                str(quantity),
                str(price),
                str(fee),
                str(credit),
                str(total),
                "USD",
                self.month.isoformat(),
                last_day.isoformat(),
            ]
        )

    def invoice(self, vendor: str, file_name: str) -> Invoice:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(self.lines)
        return Invoice(vendor, self.invoice_id, file_name, buffer.getvalue(), self.total)


PREFPAIR_MAPPING = """\
# prefpair: managed workforce, one JSON document per monthly invoice, in USD.
format: json
lines: items
invoice_fields:
  vendor: vendor
  invoice_id: invoice.number
  invoice_date: invoice.date
  currency: invoice.currency
  service_period_start: invoice.period.from
  service_period_end: invoice.period.to
  invoice_total: invoice.total_due
fields:
  line_id: line
  line_kind: kind
  project_code: project
  description: description
  unit_type: unit
  quantity: quantity
  unit_price: unit_price
  platform_fee: fee
  credit: credit
  line_total: amount
line_kinds:
  service: work
  platform_fee: fee
"""


def _json_invoice(builder: _Builder, vendor: str, file_name: str) -> Invoice:
    """The builder's lines as a managed-workforce JSON invoice (amounts as decimal text)."""
    col = {name: i for i, name in enumerate(COLUMNS)}
    first = builder.lines[0]
    items = []
    for line in builder.lines:
        is_fee = line[col["unit_type"]] == "platform_fee"
        item = {"line": line[col["line_id"]], "kind": "platform_fee" if is_fee else "service"}
        item["project"] = line[col["project_code"]]
        item["description"] = line[col["description"]]
        if not is_fee:
            item["unit"] = line[col["unit_type"]]
            item["quantity"] = line[col["quantity"]]
            item["unit_price"] = line[col["unit_price"]]
        if Decimal(line[col["platform_fee"]]):
            item["fee"] = line[col["platform_fee"]]
        if Decimal(line[col["credit"]]):
            item["credit"] = line[col["credit"]]
        item["amount"] = line[col["line_total"]]
        items.append(item)
    document = {
        "vendor": vendor,
        "invoice": {
            "number": builder.invoice_id,
            "date": first[col["invoice_date"]],
            "currency": "USD",
            "period": {
                "from": first[col["service_period_start"]],
                "to": first[col["service_period_end"]],
            },
            "total_due": str(builder.total),
        },
        "items": items,
    }
    text = json.dumps(document, indent=2) + "\n"
    return Invoice(vendor, builder.invoice_id, file_name, text, builder.total)


def _months(first: date, last: date) -> list[date]:
    out, month = [], first
    while month <= last:
        out.append(month)
        month = add_months(month, 1)
    return out


def labelforge(rng: random.Random) -> list[Invoice]:
    """SFT writing per item (+6 % platform fee), red-team hours, occasional QA credits."""
    invoices = []
    for n, month in enumerate(_months(date(2025, 2, 1), date(2026, 7, 1))):
        b = _Builder(f"LF-INV-{month:%Y-%m}", month)
        items = rng.randint(900, 2600)
        price = Decimal("38.00")
        rejected = rng.randint(20, 90) if n % 4 == 3 else 0
        b.line(
            "LF-SFT-GENERAL",
            "SFT writing: general instructions",
            "item",
            items,
            "38.00",
            fee=_cents(items * price * Decimal("0.06")),
            credit=rejected * price,
        )
        if month >= date(2025, 9, 1):
            code_items = rng.randint(300, 900)
            b.line(
                "LF-SFT-CODE",
                "SFT writing: code",
                "item",
                code_items,
                "52.00",
                fee=_cents(code_items * Decimal("52.00") * Decimal("0.06")),
            )
        if n % 2 == 0:
            b.line("LF-REDTEAM", "Red-team sessions", "hour", rng.randint(120, 420), "95.00")
        invoices.append(b.invoice("labelforge", f"labelforge_{month:%Y-%m}.csv"))
    return invoices


def prefpair(rng: random.Random) -> list[Invoice]:
    """Preference comparisons per pair, a monthly platform fee line, a rare goodwill credit."""
    invoices = []
    for n, month in enumerate(_months(date(2025, 6, 1), date(2026, 8, 1))):
        b = _Builder(f"PP-{40117 + n:06d}", month)
        pairs = rng.randint(8_000, 30_000)
        credit = Decimal("750.00") if n == 5 else Decimal(0)
        b.line(
            "PP-PREF-CHAT", "Pairwise comparisons: chat", "comparison", pairs, "2.75", credit=credit
        )
        if month >= date(2025, 10, 1):
            b.line(
                "PP-PREF-CODE",
                "Pairwise comparisons: code",
                "comparison",
                rng.randint(3_000, 12_000),
                "4.10",
            )
        b.line("PP-PREF-CHAT", "Platform fee", "platform_fee", 1, "0.00", fee=Decimal("3500.00"))
        invoices.append(_json_invoice(b, "prefpair", f"prefpair_{b.invoice_id}.json"))
    return invoices
