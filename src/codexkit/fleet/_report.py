"""The HTML report of a results file: one self-contained page (inline CSS and SVG, no
script, nothing fetched) with the pass rate, the counts, histograms of duration and
tokens, and a row per task."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime, timezone

from ._result import TaskResult
from ._summary import STATUSES, BatchSummary, summarize

__all__ = ["Histogram", "histogram", "render_report"]

_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "error": "#6a1b9a", "timeout": "#ef6c00"}
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} .muted{color:#666}
.cards{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:7em}
.card b{display:block;font-size:1.6em}
.charts{display:flex;gap:2em;flex-wrap:wrap} figure{margin:0}
table{border-collapse:collapse;width:100%;margin-top:1.5em}
td,th{border-bottom:1px solid #eee;padding:.3em .5em;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{font-weight:600} pre{margin:0;white-space:pre-wrap;max-width:40em}
"""


class Histogram:
    """Counts of values in equal-width bins from ``low`` to ``high``."""

    def __init__(self, low: float, high: float, counts: list[int]) -> None:
        self.low = low
        self.high = high
        self.counts = counts

    @property
    def width(self) -> float:
        return (self.high - self.low) / len(self.counts) if self.counts else 0.0


def histogram(values: Sequence[float], bins: int = 10) -> Histogram:
    """``values`` in at most ``bins`` equal bins (one bin when they are all equal)."""
    if not values:
        return Histogram(0.0, 0.0, [])
    low, high = min(values), max(values)
    if math.isclose(low, high):
        return Histogram(low, high, [len(values)])
    counts = [0] * bins
    step = (high - low) / bins
    for value in values:
        counts[min(bins - 1, int((value - low) / step))] += 1
    return Histogram(low, high, counts)


def render_report(results: Sequence[TaskResult], *, title: str = "Batch report") -> str:
    """The report page as HTML text."""
    summary = summarize(results)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>{summary.total} tasks · written "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by codexkit</p>",
        _cards(summary),
        "<div class='charts'>",
        _chart("Duration (s)", histogram(summary.durations_s), "#1565c0"),
        _chart("Tokens", histogram([float(t) for t in summary.tokens]), "#00838f"),
        "</div>",
        _table(results),
        "</body></html>\n",
    ]
    return "\n".join(parts)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _cards(summary: BatchSummary) -> str:
    rate = summary.pass_rate
    shown = f"{100 * rate:.1f}%" if rate is not None else "-"
    cards = [f"<div class='card'>pass rate<b id='pass-rate'>{shown}</b></div>"]
    for status in STATUSES:
        cards.append(
            f"<div class='card' style='color:{_COLOURS[status]}'>{status}"
            f"<b id='count-{status}'>{summary.counts[status]}</b></div>"
        )
    cards.append(f"<div class='card'>tokens<b>{summary.total_tokens:,}</b></div>")
    return f"<div class='cards'>{''.join(cards)}</div>"


def _chart(label: str, hist: Histogram, colour: str) -> str:
    """A bar chart as inline SVG, each bar titled with its range and count."""
    width, height, pad = 460, 220, 30
    bars = []
    tallest = max(hist.counts, default=0) or 1
    slot = (width - 2 * pad) / max(1, len(hist.counts))
    for index, count in enumerate(hist.counts):
        bar = (height - 2 * pad) * count / tallest
        start = hist.low + index * hist.width
        end = start + hist.width if hist.width else hist.high
        x = pad + index * slot
        bars.append(
            f"<rect class='bar' x='{x + 1:.1f}' y='{height - pad - bar:.1f}' "
            f"width='{max(1.0, slot - 2):.1f}' height='{bar:.1f}' fill='{colour}'>"
            f"<title>{start:.4g}-{end:.4g}: {count}</title></rect>"
        )
    axis = (
        f"<text x='{pad}' y='{height - 8}' font-size='11'>{hist.low:.4g}</text>"
        f"<text x='{width - pad}' y='{height - 8}' font-size='11' text-anchor='end'>"
        f"{hist.high:.4g}</text>"
        f"<text x='{pad - 4}' y='{pad}' font-size='11' text-anchor='end'>{tallest}</text>"
        f"<line x1='{pad}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' "
        "stroke='#999'/>"
    )
    return (
        f"<figure><figcaption>{_e(label)}</figcaption>"
        f"<svg width='{width}' height='{height}' "
        f"role='img' aria-label='{_e(label)} histogram'>{''.join(bars)}{axis}</svg></figure>"
    )


def _table(results: Sequence[TaskResult]) -> str:
    rows = []
    for result in sorted(results, key=lambda r: (STATUSES.index(r.status), r.id)):
        tokens = result.usage.total_tokens if result.usage else 0
        check = "" if result.check is None else f"exit {result.check.exit_code}"
        rows.append(
            "<tr>"
            f"<td>{_e(result.id)}</td>"
            f"<td class='status' style='color:{_COLOURS[result.status]}'>{result.status}</td>"
            f"<td class='num'>{result.duration_s:.2f}</td>"
            f"<td class='num'>{tokens}</td>"
            f"<td>{_e(check)}</td>"
            f"<td><pre>{_e(result.error or '')}</pre></td>"
            "</tr>"
        )
    head = (
        "<tr><th>task</th><th>status</th><th>seconds</th><th>tokens</th><th>check</th>"
        "<th>error</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
