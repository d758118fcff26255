"""The ``@tool`` decorator, ``Tool`` and ``ToolRegistry`` (public in :mod:`codexkit.tools`)."""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, overload
from typing import ParamSpec as _ParamSpec
from typing import TypeVar as _TypeVar

from typing_extensions import ParamSpec, TypeVar  # type parameter defaults (PEP 696)

from .._telemetry import tool_span
from .._workers import run_plain
from ._arguments import ArgumentsError, build_arguments
from ._docstrings import parse_docstring
from ._results import ImageContent, ToolResult, image_content

__all__ = ["ImageContent", "Tool", "ToolRegistry", "ToolResult", "image_content", "tool"]

# With defaults, a bare ``Tool`` annotation means ``Tool[..., Any]``.
P = ParamSpec("P", default=...)
R = TypeVar("R", default=Any)
_P = _ParamSpec("_P")
_R = _TypeVar("_R")
Json = dict[str, Any]

_log = logging.getLogger("codexkit.tools")
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"invalid tool name {name!r}: it must match ^[a-zA-Z0-9_-]{{1,64}}$ "
            "(pass name=... to choose one)"
        )
    if name == "mcp" or name.startswith("mcp__"):
        raise ValueError(f"invalid tool name {name!r}: 'mcp' and 'mcp__*' are reserved")
    return name


def _target(fn: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _is_async(fn: Callable[..., Any]) -> bool:
    target = _target(fn)
    if inspect.isroutine(target) or inspect.isclass(target):
        return inspect.iscoroutinefunction(target)
    return inspect.iscoroutinefunction(type(target).__call__)


class Tool(Generic[P, R]):
    """A function the model can call, with its name, description and input schema.

    Still callable like the function it wraps (a sync function stays sync, an async one
    stays async). Build one with the :func:`tool` decorator or :meth:`from_function`.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        if isinstance(fn, Tool):
            fn = fn.fn
        target = _target(fn)
        if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
            raise TypeError(f"{fn!r}: generator functions can't be tools; return a value")
        functools.update_wrapper(self, fn, updated=())
        self.fn: Callable[P, R] = fn
        self._name = _check_name(name if name is not None else getattr(target, "__name__", None))
        self.is_async = _is_async(fn)
        doc_description, param_docs = parse_docstring(inspect.getdoc(target))
        self._description = doc_description if description is None else description
        self._arguments = build_arguments(fn, self._name, param_docs)

    @classmethod
    def from_function(
        cls,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Tool[P, R]:
        """Make a tool of ``fn`` without the decorator; see :func:`tool`."""
        return cls(fn, name=name, description=description)

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._description

    @property
    def input_schema(self) -> Json:
        """The JSON Schema of the arguments (a copy)."""
        return copy.deepcopy(self._arguments.schema)

    def spec(self) -> Json:
        """The ``dynamicTools`` entry of ``thread/start`` for this tool."""
        return {
            "type": "function",
            "name": self._name,
            "description": self._description,
            "inputSchema": self.input_schema,
        }

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    async def run(self, arguments: Mapping[str, Any] | None = None) -> Any:
        """Validate ``arguments`` (the model's JSON object) and call the tool: its value
        as returned. Raises :class:`ArgumentsError` (a ``ValueError``) for arguments the
        signature refuses, and whatever the function raises. Sync functions run on the
        callback threads, async ones on the loop. :meth:`invoke` is this plus the
        conversion of the outcome to what the model sees."""
        call: Callable[..., Any] = self.fn
        args, kwargs = self._arguments.bind(arguments)
        if self.is_async:
            return await call(*args, **kwargs)
        value = await run_plain(functools.partial(call, *args, **kwargs))
        return await value if inspect.isawaitable(value) else value

    async def invoke(self, arguments: Mapping[str, Any] | None = None) -> ToolResult:
        """Validate ``arguments`` (the model's JSON object), call the tool, convert the result.

        Never raises, except :class:`asyncio.CancelledError`: bad arguments and exceptions
        come back as a failed :class:`ToolResult` telling the model what went wrong.
        """
        try:
            return ToolResult.from_value(await self.run(arguments))
        except ArgumentsError as exc:
            _log.info("tool %s: %s", self._name, exc)
            return ToolResult.error(str(exc))
        except Exception as exc:
            _log.warning("tool %s failed", self._name, exc_info=exc)
            return ToolResult.from_exception(exc)

    def __repr__(self) -> str:
        return f"<Tool {self._name!r} wrapping {self.fn!r}>"


@overload
def tool(fn: Callable[_P, _R], /) -> Tool[_P, _R]: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[_P, _R]], Tool[_P, _R]]: ...


def tool(
    fn: Callable[_P, _R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Tool[_P, _R] | Callable[[Callable[_P, _R]], Tool[_P, _R]]:
    """Make ``fn`` a :class:`Tool`: ``@tool`` or ``@tool(name=..., description=...)``.

    The name defaults to the function's (it must match ``^[a-zA-Z0-9_-]{1,64}$``, else
    ``ValueError``) and the description to its docstring minus the parameter sections.
    ``*args``/``**kwargs`` and a leading ``self``/``cls`` parameter raise ``TypeError``;
    unannotated parameters accept any JSON value.
    """
    if fn is not None:
        return Tool(fn, name=name, description=description)

    def decorate(fn: Callable[_P, _R]) -> Tool[_P, _R]:
        return Tool(fn, name=name, description=description)

    return decorate


AnyTool = Tool[..., Any]


def _as_tool(item: AnyTool | Callable[..., Any]) -> AnyTool:
    return item if isinstance(item, Tool) else Tool(item)


class ToolRegistry:
    """Tools by name; answers the app-server's ``item/tool/call`` requests.

    Plain functions are accepted too and made tools with their defaults.
    """

    def __init__(self, tools: Iterable[AnyTool | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, AnyTool] = {}
        for item in tools:
            self.add(item)

    def add(self, tool: AnyTool | Callable[..., Any]) -> AnyTool:
        """Register ``tool`` and return it; ``ValueError`` if its name is taken."""
        tool = _as_tool(tool)
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def get(self, name: str) -> AnyTool | None:
        return self._tools.get(name)

    def specs(self) -> list[Json]:
        """The ``dynamicTools`` list for ``thread/start``."""
        return [tool.spec() for tool in self._tools.values()]

    def merged(self, other: ToolRegistry | Iterable[AnyTool | Callable[..., Any]]) -> ToolRegistry:
        """A new registry with this one's tools and ``other``'s; ``other`` wins a name clash."""
        merged = ToolRegistry()
        merged._tools = dict(self._tools)
        for item in other:
            tool = _as_tool(item)
            merged._tools[tool.name] = tool
        return merged

    async def call(self, params: Mapping[str, Any]) -> Json:
        """Answer ``item/tool/call`` (``params`` as received) with its wire response.

        Never raises, except :class:`asyncio.CancelledError`; an unknown tool gets a failed
        result that lists the available ones.
        """
        name = params.get("tool") if isinstance(params, Mapping) else None
        tool = self._tools.get(name) if isinstance(name, str) else None
        if tool is None:
            available = ", ".join(self._tools) or "none"
            _log.warning("the model called unknown tool %r", name)
            message = f"Unknown tool {name!r}. Available tools: {available}."
            return ToolResult.error(message).to_wire()
        attributes = {
            "codex.tool.name": name,
            "codex.thread_id": params.get("threadId"),
            "codex.turn_id": params.get("turnId"),
            "codex.tool.call_id": params.get("callId"),
        }
        with tool_span("codex.tool_call", **attributes) as span:
            result = await tool.invoke(params.get("arguments"))
            if span is not None:
                span.set_attribute("codex.tool.success", result.success)
        return result.to_wire()

    def __iter__(self) -> Iterator[AnyTool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Tool):
            return self._tools.get(item.name) is item
        return item in self._tools

    def __repr__(self) -> str:
        return f"ToolRegistry([{', '.join(self._tools)}])"
