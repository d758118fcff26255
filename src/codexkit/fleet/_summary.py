"""Figures over a batch's results: counts by status, pass rate, durations and tokens."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._result import TaskResult

__all__ = ["BatchSummary", "summarize"]

STATUSES = ("passed", "failed", "error", "timeout")


@dataclass(frozen=True)
class BatchSummary:
    """What a set of results adds up to."""

    counts: dict[str, int]
    durations_s: list[float] = field(repr=False)
    tokens: list[int] = field(repr=False)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def pass_rate(self) -> float | None:
        """Passed over all tasks with a result (None when there are none)."""
        return self.counts["passed"] / self.total if self.total else None

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens)

    def duration_quantile(self, q: float) -> float | None:
        return _quantile(self.durations_s, q)

    def as_dict(self) -> dict[str, Any]:
        rate = self.pass_rate
        return {
            "total": self.total,
            **self.counts,
            "pass_rate": round(rate, 4) if rate is not None else None,
            "duration_s_p50": _rounded(self.duration_quantile(0.5)),
            "duration_s_p90": _rounded(self.duration_quantile(0.9)),
            "duration_s_max": max(self.durations_s, default=None),
            "total_tokens": self.total_tokens,
        }


def summarize(results: Iterable[TaskResult]) -> BatchSummary:
    counts = dict.fromkeys(STATUSES, 0)
    durations: list[float] = []
    tokens: list[int] = []
    for result in results:
        counts[result.status] += 1
        durations.append(result.duration_s)
        tokens.append(result.usage.total_tokens if result.usage else 0)
    return BatchSummary(counts, durations, tokens)


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[max(0, min(98, round(q * 100) - 1))]


def _rounded(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None
