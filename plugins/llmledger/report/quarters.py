"""Quarter labels (``2026Q3``): parsing, the previous quarter, year to date, date bounds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

_LABEL = re.compile(r"^(\d{4})Q([1-4])$")


class QuarterError(ValueError):
    """A quarter label that is not ``YYYYQn``."""


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter; ``str()`` gives the warehouse's label, e.g. ``2026Q3``."""

    year: int
    q: int

    @classmethod
    def parse(cls, label: str) -> Quarter:
        match = _LABEL.match(label.strip()) if label else None
        if not match:
            raise QuarterError(f"quarter {label!r} is not of the form YYYYQn, e.g. 2026Q3")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date | datetime) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.q}"

    @property
    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.q == 1 else Quarter(self.year, self.q - 1)

    @property
    def year_to_date(self) -> list[Quarter]:
        """The quarters of the same calendar year up to and including this one."""
        return [Quarter(self.year, q) for q in range(1, self.q + 1)]

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.q - 2, 1)

    @property
    def end(self) -> datetime:
        """Exclusive end: the first instant of the next quarter."""
        return (
            datetime(self.year + 1, 1, 1) if self.q == 4 else datetime(self.year, 3 * self.q + 1, 1)
        )
