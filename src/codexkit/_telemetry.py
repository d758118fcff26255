"""OpenTelemetry spans: one per turn, one per tool call.

Active when ``opentelemetry-api`` is installed (``pip install codexkit[otel]``) and not
switched off with ``CODEXKIT_OTEL=0``; the API is imported on the first span, never at
``import codexkit``. Without a configured tracer provider the spans cost next to nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

__all__ = ["end_span", "start_span", "tool_span", "within"]


@functools.lru_cache(maxsize=1)
def _tracer() -> Any:
    if os.environ.get("CODEXKIT_OTEL", "1") == "0":
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    from ._version import __version__

    return trace.get_tracer("codexkit", __version__)


def start_span(name: str, **attributes: Any) -> Any:
    """Start a span (``None`` when tracing is off); end it with :func:`end_span`."""
    tracer = _tracer()
    if tracer is None:
        return None
    return tracer.start_span(name, attributes=_clean(attributes))


def end_span(span: Any, *, error: BaseException | None = None, **attributes: Any) -> None:
    """Record the outcome on ``span`` and end it (nothing when ``span`` is ``None``)."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attributes(_clean(attributes))
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)))
    span.end()


@contextlib.contextmanager
def tool_span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span around one tool call, current while it runs (so the tool's own spans nest)."""
    tracer = _tracer()
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, attributes=_clean(attributes)) as span:
        yield span


@contextlib.contextmanager
def within(span: Any) -> Iterator[None]:
    """Make ``span`` (a turn's) the current one, so spans started inside are its children."""
    if span is None:
        yield
        return
    from opentelemetry import trace

    with trace.use_span(span, end_on_exit=False):
        yield


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if value is not None}
