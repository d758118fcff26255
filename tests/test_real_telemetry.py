"""OpenTelemetry: a span per turn and per tool call, with the real binary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from codexkit import AsyncCodex, TurnFailedError, tool
from codexkit.testing import ScriptedModel, failure, text, tool_call

pytestmark = pytest.mark.real

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


@tool
def double(n: int) -> int:
    """Double a number."""
    return 2 * n


async def test_turns_and_tool_calls_make_spans(
    spans: InMemorySpanExporter, scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([tool_call("double", {"n": 21}), text("42"), failure("down")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, tools=[double]) as codex:
        thread = await codex.start_thread()
        result = await thread.run("double 21")
        with pytest.raises(TurnFailedError):
            await thread.run("again")
    finished: dict[str, list[ReadableSpan]] = defaultdict(list)
    for span in spans.get_finished_spans():
        finished[span.name].append(span)
    [tool_span] = finished["codex.tool_call"]
    assert tool_span.attributes is not None
    assert tool_span.attributes["codex.tool.name"] == "double"
    assert tool_span.attributes["codex.tool.success"] is True
    ok, failed = finished["codex.turn"]
    assert ok.attributes is not None
    assert ok.attributes["codex.turn_id"] == result.turn_id
    assert ok.attributes["codex.turn.status"] == "completed"
    assert ok.attributes["codex.thread_id"] == thread.id
    assert failed.attributes is not None
    assert failed.attributes["codex.turn.status"] == "failed"
    assert not failed.status.is_ok
    # The tool call happened inside the first turn, and traces as its child.
    assert tool_span.parent is not None
    assert tool_span.parent.span_id == ok.context.span_id
