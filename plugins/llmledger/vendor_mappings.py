"""Per-vendor invoice mappings: ``<home>/config/vendors/<vendor>.yaml``, validated on load.

A mapping tells the one CSV parser and the one JSON parser (:mod:`llmledger.ingest.invoices`)
where a vendor's invoice carries each value of ``raw_schema.ANNOTATION_INVOICE``, so adding a
vendor needs a mapping, not code. Invoices in ``landing/invoices/<vendor>/`` use the mapping
named after the folder; a vendor without one uses :data:`DEFAULT_MAPPING`, the built-in
column layout of docs/CONTRACTS.md.

Keys (every key but ``format`` and ``fields`` is optional)::

    format: csv | json
    delimiter: ","              # csv: field separator
    decimal_separator: "."      # "." or ","  (1.234,56 with "," and thousands ".")
    thousands_separator: ""     # "", ",", ".", " " or "'"
    date_format: "%Y-%m-%d"     # strptime format of every date field; default ISO / M/D/YYYY
    currency: USD               # when no currency field (or an empty one)
    invoices: "invoices"        # json: path to the list of invoices (or one invoice object)
    lines: "items"              # json: path, inside an invoice, to its list of lines
    invoice_fields: {target: path}  # json: values read from the invoice object
    fields: {target: column or path}  # csv: header names; json: paths inside a line
    constants: {target: value}  # values the files never state (e.g. a platform fee rate)
    unit_types: {vendor word: task | comparison | example | hour | item}
    line_kinds: {vendor word: work | fee | tax | discount | credit | minimum | total}
    document_types: {vendor word: invoice | credit_note}

Targets: the raw columns plus ``platform_fee_rate``, ``tax_rate``, ``discount_rate`` (percent
of the line's quantity x unit price; tax of the line after fee and discount), and
``line_total`` (the line amount as stated, checked to the cent). A line of kind ``total`` is
not a line: its ``line_total`` (or ``invoice_total``) is the invoice total stated for its
currency.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

VENDORS_FOLDER = "vendors"
FORMATS = ("csv", "json")
UNIT_TYPES = ("task", "comparison", "example", "hour", "item")
LINE_KINDS = ("work", "fee", "tax", "discount", "credit", "minimum", "total")
DOCUMENT_TYPES = ("invoice", "credit_note")
TARGETS = (
    "vendor",
    "invoice_id",
    "invoice_date",
    "line_id",
    "project_code",
    "description",
    "unit_type",
    "quantity",
    "unit_price",
    "platform_fee",
    "platform_fee_rate",
    "tax",
    "tax_rate",
    "discount",
    "discount_rate",
    "credit",
    "line_total",
    "currency",
    "service_period_start",
    "service_period_end",
    "line_kind",
    "document_type",
    "references_invoice",
    "revision",
    "invoice_total",
)
KEYS = (
    "format",
    "delimiter",
    "decimal_separator",
    "thousands_separator",
    "date_format",
    "currency",
    "invoices",
    "lines",
    "invoice_fields",
    "fields",
    "constants",
    "unit_types",
    "line_kinds",
    "document_types",
)
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class VendorMapping:
    """How one vendor's invoice files map onto the raw annotation-invoice columns."""

    vendor: str
    format: str
    fields: dict[str, str]
    invoice_fields: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","
    decimal_separator: str = "."
    thousands_separator: str = ""
    date_format: str | None = None
    currency: str | None = None
    invoices: str | None = None
    lines: str | None = None
    unit_types: dict[str, str] | None = None
    line_kinds: dict[str, str] | None = None
    document_types: dict[str, str] | None = None
    source: str = "built-in"  # the file it came from, for messages
    # The built-in layout predates line kinds: a negative quantity there is an error (the raw
    # suite rejects it); a mapped vendor's negative quantity is a credit.
    negative_quantity_is_credit: bool = True

    @property
    def parser(self) -> str:
        """The parser name recorded in the ingest log."""
        return "vendor_csv" if self is DEFAULT_MAPPING else f"vendor_{self.format}:{self.vendor}"


# The built-in layout (docs/CONTRACTS.md); `vendor` may also come from the landing folder.
DEFAULT_CSV_COLUMNS = (
    "invoice_id",
    "invoice_date",
    "line_id",
    "project_code",
    "description",
    "unit_type",
    "quantity",
    "unit_price",
    "platform_fee",
    "credit",
    "line_total",
    "currency",
    "service_period_start",
    "service_period_end",
)

DEFAULT_MAPPING = VendorMapping(
    vendor="",
    format="csv",
    fields={name: name for name in ("vendor", *DEFAULT_CSV_COLUMNS)},
    negative_quantity_is_credit=False,
)


@dataclass(frozen=True)
class MappingIssue:
    """One problem in a mapping file: the file, the key (dotted), the value, what was expected."""

    file: str
    key: str | None
    value: str | None
    expected: str


def mapping_path(config_dir: Path, vendor: str) -> Path:
    return config_dir / VENDORS_FOLDER / f"{vendor}.yaml"


def mapping_files(config_dir: Path) -> list[Path]:
    """Every ``config/vendors/*.yaml`` (and ``.yml``), sorted."""
    folder = config_dir / VENDORS_FOLDER
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def read_mapping(path: Path) -> tuple[VendorMapping | None, list[MappingIssue]]:
    """Parse and validate one mapping file; the mapping is None when there are issues."""
    file = f"{VENDORS_FOLDER}/{path.name}"
    issues: list[MappingIssue] = []

    def add(key: str | None, value: Any, expected: str) -> None:
        issues.append(MappingIssue(file, key, None if value is None else str(value), expected))

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        add(None, None, f"valid YAML ({exc})")
        return None, issues
    if not isinstance(doc, dict):
        add(None, None, "a mapping of key: value")
        return None, issues
    for key in doc:
        if key not in KEYS:
            add(str(key), None, "one of the keys " + ", ".join(KEYS))

    fmt = doc.get("format")
    if fmt not in FORMATS:
        add("format", fmt, "one of " + ", ".join(FORMATS))

    def text(key: str, default: str | None, choices: tuple[str, ...] | None = None) -> str | None:
        value = doc.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            add(key, value, "a single text value")
            return default
        value = str(value)
        if choices is not None and value not in choices:
            add(key, value, "one of " + ", ".join(repr(c) for c in choices))
            return default
        return value

    def targets(key: str, required: bool) -> dict[str, str]:
        value = doc.get(key)
        if value is None:
            if required:
                add(key, None, "a mapping of target: column or path")
            return {}
        if not isinstance(value, dict):
            add(key, value, "a mapping of target: column or path")
            return {}
        out = {}
        for target, source in value.items():
            if target not in TARGETS:
                add(f"{key}.{target}", None, "a target among " + ", ".join(TARGETS))
            elif not isinstance(source, str | int | float) or isinstance(source, bool):
                add(f"{key}.{target}", source, "a column name, path or value")
            else:
                out[str(target)] = str(source)
        return out

    def words(key: str, allowed: tuple[str, ...]) -> dict[str, str] | None:
        value = doc.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            add(key, value, "a mapping of vendor word: " + " | ".join(allowed))
            return None
        out = {}
        for word, meaning in value.items():
            if meaning not in allowed:
                add(f"{key}.{word}", meaning, "one of " + ", ".join(allowed))
            else:
                out[str(word).strip().lower()] = str(meaning)
        return out

    delimiter = text("delimiter", ",")
    if delimiter is not None and len(delimiter) != 1:
        add("delimiter", delimiter, "one character, e.g. ',' or ';'")
    decimal = text("decimal_separator", ".", (".", ","))
    thousands = text("thousands_separator", "", ("", ",", ".", " ", "'"))
    if decimal == thousands:
        add("thousands_separator", thousands, "a character other than the decimal separator")
    date_format = text("date_format", None)
    if date_format is not None:
        try:
            datetime.now().strftime(date_format)
            if "%" not in date_format:
                raise ValueError
        except ValueError:
            add("date_format", date_format, "a strptime format such as %d.%m.%Y")
    currency = text("currency", None)
    if currency is not None and not _CURRENCY.fullmatch(currency):
        add("currency", currency, "a three-letter ISO 4217 code, e.g. EUR")
    fields_ = targets("fields", True)
    invoice_fields = targets("invoice_fields", False)
    constants = targets("constants", False)
    if fmt == "csv" and invoice_fields:
        add("invoice_fields", None, "no invoice_fields for csv (every value is a column)")
    if fmt == "json" and not doc.get("lines"):
        add("lines", None, "the path to an invoice's list of lines (json)")
    for needed in ("invoice_id",):
        if needed not in fields_ and needed not in invoice_fields and needed not in constants:
            add(f"fields.{needed}", None, f"a column or path for {needed}")
    if not any(t in {**fields_, **invoice_fields} for t in ("quantity", "line_total")):
        add("fields.quantity", None, "a column or path for quantity or line_total")
    mapping = VendorMapping(
        vendor=path.stem,
        format=fmt if fmt in FORMATS else "csv",
        fields=fields_,
        invoice_fields=invoice_fields,
        constants=constants,
        delimiter=delimiter or ",",
        decimal_separator=decimal or ".",
        thousands_separator=thousands or "",
        date_format=date_format,
        currency=currency,
        invoices=text("invoices", None),
        lines=text("lines", None),
        unit_types=words("unit_types", UNIT_TYPES),
        line_kinds=words("line_kinds", LINE_KINDS),
        document_types=words("document_types", DOCUMENT_TYPES),
        source=f"config/{file}",
    )
    return (None if issues else mapping), issues


def load_mappings(config_dir: Path) -> tuple[dict[str, VendorMapping], list[MappingIssue]]:
    """Every vendor mapping in ``config_dir/vendors/``, keyed by vendor (the file stem)."""
    mappings: dict[str, VendorMapping] = {}
    issues: list[MappingIssue] = []
    for path in mapping_files(config_dir):
        mapping, found = read_mapping(path)
        issues += found
        if mapping is not None:
            mappings[mapping.vendor] = mapping
    return mappings, issues


def mapping_for(config_dir: str | os.PathLike[str], vendor: str | None) -> VendorMapping:
    """The mapping of ``vendor`` (its file, else the built-in default).

    Raises :class:`llmledger.config.ConfigError` when the vendor's file is invalid: a bad
    mapping is fixed in config, and the invoice is ingested afterwards, not quarantined.
    """
    if vendor:
        for path in mapping_files(Path(config_dir)):
            if path.stem == vendor:
                mapping, issues = read_mapping(path)
                if issues:
                    from llmledger.config import ConfigError, ConfigIssue

                    raise ConfigError(
                        [ConfigIssue(i.file, None, i.key, i.value, i.expected) for i in issues]
                    )
                assert mapping is not None
                return mapping
    return DEFAULT_MAPPING
