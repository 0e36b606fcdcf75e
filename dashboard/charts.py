"""Charts drawn on the server as inline SVG: no CDN, no JavaScript, numbers always visible."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

BAR_HEIGHT = 22
BAR_GAP = 6
LABEL_WIDTH = 190
BARS_WIDTH = 300
VALUE_WIDTH = 110
COLUMNS_HEIGHT = 150
COLUMN_WIDTH_MAX = 36
COLUMNS_WIDTH = 640


def bars(title: str, items: list[tuple[str, float, str]], *, chart_id: str) -> SafeString:
    """Horizontal bars: (label, value, value as shown) per row, scaled to the largest value."""
    top = max((value for _, value, _ in items), default=0) or 1
    height = len(items) * (BAR_HEIGHT + BAR_GAP)
    rows = format_html_join(
        "",
        '<g><title>{}: {}</title><text x="{}" y="{}" text-anchor="end" class="chart-label">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="3" class="chart-bar"></rect>'
        '<text x="{}" y="{}" class="chart-value">{}</text></g>',
        (
            (
                label,
                shown,
                LABEL_WIDTH - 8,
                index * (BAR_HEIGHT + BAR_GAP) + 16,
                label,
                LABEL_WIDTH,
                index * (BAR_HEIGHT + BAR_GAP),
                _scaled(value, top, BARS_WIDTH),
                BAR_HEIGHT,
                LABEL_WIDTH + _scaled(value, top, BARS_WIDTH) + 6,
                index * (BAR_HEIGHT + BAR_GAP) + 16,
                shown,
            )
            for index, (label, value, shown) in enumerate(items)
        ),
    )
    return _svg(title, chart_id, LABEL_WIDTH + BARS_WIDTH + VALUE_WIDTH, height, rows)


def columns(title: str, items: list[tuple[str, int]], *, chart_id: str, label_every: int = 1) -> SafeString:
    """Vertical columns (a histogram, a series of days), each with its count above it."""
    top = max((value for _, value in items), default=0) or 1
    slot = COLUMNS_WIDTH / max(len(items), 1)
    width = min(slot * 0.8, COLUMN_WIDTH_MAX)
    cells = format_html_join(
        "",
        '<g><title>{}: {}</title><rect x="{}" y="{}" width="{}" height="{}" rx="2" class="chart-bar"></rect>'
        '<text x="{}" y="{}" text-anchor="middle" class="{}">{}</text>{}</g>',
        (
            (
                label,
                value,
                round(index * slot + (slot - width) / 2, 1),
                20 + COLUMNS_HEIGHT - _scaled(value, top, COLUMNS_HEIGHT),
                round(width, 1),
                _scaled(value, top, COLUMNS_HEIGHT),
                round(index * slot + slot / 2, 1),
                16 + COLUMNS_HEIGHT - _scaled(value, top, COLUMNS_HEIGHT),
                "chart-value" if slot >= 28 else "chart-value chart-value-dense",
                value,
                _axis_label(label, round(index * slot + slot / 2, 1), show=index % label_every == 0),
            )
            for index, (label, value) in enumerate(items)
        ),
    )
    return _svg(title, chart_id, COLUMNS_WIDTH, COLUMNS_HEIGHT + 44, cells)


def _axis_label(label: str, x: float, *, show: bool) -> SafeString:
    if not show:
        return SafeString("")
    return format_html(
        '<text x="{}" y="{}" text-anchor="middle" class="chart-label">{}</text>', x, COLUMNS_HEIGHT + 38, label
    )


def _scaled(value: float, top: float, size: int) -> int:
    return round(size * value / top) if value else 0


def _svg(title: str, chart_id: str, width: float, height: float, body: SafeString) -> SafeString:
    return format_html(
        '<svg role="img" aria-labelledby="{}-title" viewBox="0 0 {} {}" width="100%" class="chart" '
        'preserveAspectRatio="xMinYMin meet"><title id="{}-title">{}</title>{}</svg>',
        chart_id,
        round(width),
        round(height),
        chart_id,
        title,
        body,
    )
