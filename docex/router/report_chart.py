"""The chart of `docex report`: who is late, at a glance, beside the CSV's full numbers.

Units are labelled by their Chinese name over their id, in the CJK font docex/fonts.py
finds (fonts-arphic-uming), drawn into the PNG.
"""

from __future__ import annotations

from math import isnan
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from docex.fonts import cjk_font_file
from docex.router.report import UnitStatistics


def write_chart(rows: list[UnitStatistics], period: str, path: Path) -> None:
    """Two bars per unit: receipts on time and work updates on time, in percent. A unit with
    nothing to count in a measure gets no bar for it, rather than a misleading 0 %."""
    font, _ = cjk_font_file()
    chinese = FontProperties(fname=str(font))
    units = [f"{row.name}\n{row.unit}" if row.name else row.unit for row in rows]
    receipts = [_percent(row.received_on_time, row.receipts_expected) for row in rows]
    updates = [_percent(row.work_updates_on_time, row.work_updates_due) for row in rows]
    # A bare Figure, not pyplot: no display backend and no global state on a server.
    figure = Figure(figsize=(max(6.0, 1.2 * len(units)), 4.5))
    axes = figure.subplots()
    positions = range(len(units))
    width = 0.4
    for offset, values, label in (
        (-width / 2, receipts, "按时签收 receipts on time"),
        (width / 2, updates, "工作动态按时报送 work updates on time"),
    ):
        bars = axes.bar([p + offset for p in positions], values, width, label=label)
        # Labelled, so a 0 % (no bar) is told apart from nothing to count (no label).
        axes.bar_label(bars, labels=["" if isnan(v) else f"{v:.0f}%" for v in values])
    axes.set_xticks(list(positions), units, rotation=30, ha="right", fontproperties=chinese)
    axes.set_ylim(0, 110)
    axes.set_ylabel("%")
    axes.set_title(f"电子公文交换统计 docex {period}", fontproperties=chinese)
    axes.legend(loc="upper right", prop=chinese)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # At 100 dpi, text of 10 pt is 14 px, where the font's embedded bitmaps take over from its
    # outlines, and matplotlib draws those as nothing: 200 dpi draws the outlines.
    figure.savefig(path, format="png", dpi=200)


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else float("nan")
