"""Inline SVG charts drawn in Python: no JavaScript, no network, they open from disk.

Every label is escaped here (it may be a vendor or dataset name from an input file); the
template inserts the finished SVG as markup. Values arrive as Decimal and are converted to
float only for geometry: the numbers a reader sees come from the table beside the chart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape
from typing import Any

WIDTH = 760
LABEL_W = 190
VALUE_W = 110
ROW_H = 22
TOP = 28
PALETTE = ("#1f5fa8", "#9bbbe0", "#d9822b", "#6b8e23", "#8e44ad", "#7f8c8d")


def _f(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _svg(chart_id: str, title: str, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _legend(names: Sequence[str]) -> list[str]:
    out, x = [], LABEL_W
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="16">{escape(name)}</text>')
        x += 28 + 7 * len(name)
    return out


def _clip(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bars(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Any]]],
    value_text: Callable[[Any], str],
) -> str:
    """Horizontal grouped bars, one group per label, one bar per series. Negative values
    grow left of a zero line, so movers read as a diverging chart."""
    values = [_f(v) for _, vals in series for v in vals]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    plot_w = WIDTH - LABEL_W - VALUE_W

    def x(v: float) -> float:
        return LABEL_W + (v - low) / span * plot_w

    group_h = ROW_H * len(series) + 8
    height = TOP + group_h * len(labels) + 8
    body = _legend([name for name, _ in series]) if len(series) > 1 else []
    zero = x(0.0)
    body.append(
        f'<line x1="{zero:.1f}" y1="{TOP - 4}" x2="{zero:.1f}" y2="{height - 4}" stroke="#444"/>'
    )
    for i, label in enumerate(labels):
        y0 = TOP + i * group_h
        body.append(
            f'<text x="{LABEL_W - 8}" y="{y0 + group_h / 2 + 2:.1f}" text-anchor="end">'
            f"{escape(_clip(str(label)))}</text>"
        )
        for j, (name, vals) in enumerate(series):
            v = _f(vals[i])
            left, right = sorted((x(0.0), x(v)))
            y = y0 + j * ROW_H + 4
            colour = PALETTE[j % len(PALETTE)]
            body.append(
                f'<rect class="bar" x="{left:.1f}" y="{y}" width="{max(right - left, 0.5):.1f}" '
                f'height="{ROW_H - 6}" fill="{colour}"><title>{escape(str(label))}, '
                f"{escape(name)}: {escape(value_text(vals[i]))}</title></rect>"
            )
            body.append(
                f'<text x="{WIDTH - VALUE_W + 6}" y="{y + ROW_H - 10}" fill="#222">'
                f"{escape(value_text(vals[i]))}</text>"
            )
    return _svg(chart_id, title, int(height), body)


def shares(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    actual: Sequence[Decimal | None],
    target: Sequence[Decimal | None],
    break_even: Sequence[Decimal | None],
    value_text: Callable[[Any], str],
) -> str:
    """Data share per generation as bars on a 0-100 % scale, with the target share as a dark
    tick and the break-even share as an orange tick on each bar."""
    plot_w = WIDTH - LABEL_W - VALUE_W
    group_h = ROW_H + 14
    height = TOP + group_h * len(labels) + 24

    def x(v: Any) -> float:
        return LABEL_W + max(0.0, min(1.0, _f(v))) * plot_w

    body = [
        f'<rect x="{LABEL_W}" y="6" width="12" height="12" fill="{PALETTE[0]}"/>',
        f'<text x="{LABEL_W + 16}" y="16">data share</text>',
        f'<rect x="{LABEL_W + 110}" y="4" width="3" height="16" fill="#111"/>',
        f'<text x="{LABEL_W + 118}" y="16">target</text>',
        f'<rect x="{LABEL_W + 180}" y="4" width="3" height="16" fill="{PALETTE[2]}"/>',
        f'<text x="{LABEL_W + 188}" y="16">break-even (1 - 1/m)</text>',
    ]
    for tick in range(0, 101, 20):
        tx = LABEL_W + tick / 100 * plot_w
        body.append(
            f'<line x1="{tx:.1f}" y1="{TOP}" x2="{tx:.1f}" y2="{height - 20}" stroke="#ddd"/>'
            f'<text x="{tx:.1f}" y="{height - 6}" text-anchor="middle">{tick} %</text>'
        )
    for i, label in enumerate(labels):
        y = TOP + i * group_h + 6
        body.append(
            f'<text x="{LABEL_W - 8}" y="{y + ROW_H / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(_clip(str(label)))}</text>"
        )
        body.append(
            f'<rect class="bar" x="{LABEL_W}" y="{y}" width="{x(actual[i]) - LABEL_W:.1f}" '
            f'height="{ROW_H}" fill="{PALETTE[0]}"><title>{escape(str(label))}: '
            f"{escape(value_text(actual[i]))}</title></rect>"
        )
        body.append(
            f'<text x="{WIDTH - VALUE_W + 6}" y="{y + ROW_H / 2 + 4:.1f}">'
            f"{escape(value_text(actual[i]))}</text>"
        )
        for value, colour, name in (
            (target[i], "#111", "target"),
            (break_even[i], PALETTE[2], "break-even"),
        ):
            if value is None:
                continue
            body.append(
                f'<rect class="marker" x="{x(value) - 1.5:.1f}" y="{y - 4}" width="3" '
                f'height="{ROW_H + 8}" fill="{colour}"><title>{escape(name)}: '
                f"{escape(value_text(value))}</title></rect>"
            )
    return _svg(chart_id, title, int(height), body)


def stacked(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    parts: Sequence[tuple[str, Sequence[Any]]],
    value_text: Callable[[Any], str],
) -> str:
    """One horizontal 100 % bar per label, split into ``parts`` (e.g. tagged, untagged, idle)."""
    plot_w = WIDTH - LABEL_W - VALUE_W
    height = TOP + (ROW_H + 8) * len(labels) + 8
    body = _legend([name for name, _ in parts])
    for i, label in enumerate(labels):
        y = TOP + i * (ROW_H + 8)
        total = sum(max(_f(vals[i]), 0.0) for _, vals in parts) or 1.0
        body.append(
            f'<text x="{LABEL_W - 8}" y="{y + ROW_H / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(_clip(str(label)))}</text>"
        )
        left = float(LABEL_W)
        for j, (name, vals) in enumerate(parts):
            w = max(_f(vals[i]), 0.0) / total * plot_w
            body.append(
                f'<rect class="bar" x="{left:.1f}" y="{y}" width="{w:.1f}" height="{ROW_H}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(str(label))}, '
                f"{escape(name)}: {escape(value_text(vals[i]))}</title></rect>"
            )
            left += w
    return _svg(chart_id, title, int(height), body)
