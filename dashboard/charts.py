"""Charts drawn on the server as inline SVG: no CDN, no JavaScript, numbers always visible."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR_HEIGHT = 22
BAR_GAP = 6
LABEL_WIDTH = 190
BARS_WIDTH = 300
VALUE_WIDTH = 110
COLUMNS_HEIGHT = 150
COLUMN_WIDTH_MAX = 36
COLUMNS_WIDTH = 640
COLUMNS_PADDING = 16  # room for the first and last day's label


def bars(title: str, items: list[tuple[str, float, str]], *, chart_id: str) -> SafeString:
    """Horizontal bars: (label, value, value as shown) per row, scaled to the largest value."""
    top = max((value for _, value, _ in items), default=0) or 1
    rows = []
    for index, (label, value, shown) in enumerate(items):
        y, length = index * (BAR_HEIGHT + BAR_GAP), _scaled(value, top, BARS_WIDTH)
        label, shown = escape(label), escape(shown)
        rows.append(
            f"<g><title>{label}: {shown}</title>"
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end" class="chart-label">{label}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" rx="3" class="chart-bar"></rect>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 16}" class="chart-value">{shown}</text></g>'
        )
    height = len(items) * (BAR_HEIGHT + BAR_GAP)
    return _svg(title, chart_id, (0, LABEL_WIDTH + BARS_WIDTH + VALUE_WIDTH, height), "".join(rows))


def columns(title: str, items: list[tuple[str, int]], *, chart_id: str, label_every: int = 1) -> SafeString:
    """Vertical columns (a histogram, a series of days), each with its count above it."""
    top = max((value for _, value in items), default=0) or 1
    slot = COLUMNS_WIDTH / max(len(items), 1)
    width = round(min(slot * 0.8, COLUMN_WIDTH_MAX), 1)
    value_class = "chart-value" if slot >= 28 else "chart-value chart-value-dense"
    cells = []
    for index, (label, value) in enumerate(items):
        height, middle, label = _scaled(value, top, COLUMNS_HEIGHT), round(index * slot + slot / 2, 1), escape(label)
        axis = (
            f'<text x="{middle}" y="{COLUMNS_HEIGHT + 38}" text-anchor="middle" class="chart-label">{label}</text>'
            if index % label_every == 0
            else ""
        )
        cells.append(
            f"<g><title>{label}: {value}</title>"
            f'<rect x="{round(middle - width / 2, 1)}" y="{20 + COLUMNS_HEIGHT - height}" width="{width}" '
            f'height="{height}" rx="2" class="chart-bar"></rect>'
            f'<text x="{middle}" y="{16 + COLUMNS_HEIGHT - height}" text-anchor="middle" class="{value_class}">'
            f"{value}</text>{axis}</g>"
        )
    box = (-COLUMNS_PADDING, COLUMNS_WIDTH + 2 * COLUMNS_PADDING, COLUMNS_HEIGHT + 44)
    return _svg(title, chart_id, box, "".join(cells))


def _scaled(value: float, top: float, size: int) -> int:
    return round(size * value / top) if value else 0


def _svg(title: str, chart_id: str, box: tuple[float, float, float], body: str) -> SafeString:
    """`body` is built from escaped labels and numbers only."""
    left, width, height = box
    return mark_safe(  # noqa: S308 every text in body and the title are escaped
        f'<svg role="img" aria-labelledby="{escape(chart_id)}-title" viewBox="{left} 0 {round(width)} {round(height)}" '
        f'width="100%" class="chart" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>{body}</svg>'
    )
