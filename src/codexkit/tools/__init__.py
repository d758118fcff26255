"""Dynamic tools: Python functions the Codex agent can call.

Decorate a function with :func:`tool`, pass it to a thread, and the model can call it::

    from codexkit.tools import tool

    @tool
    def add(a: int, b: int = 2) -> int:
        \"\"\"Add two numbers.

        Args:
            a: The first number.
            b: The second number.
        \"\"\"
        return a + b

    add.spec()                       # the ``dynamicTools`` entry for ``thread/start``
    await add.invoke({"a": 1})       # ToolResult(success=True, content_items=[... "3" ...])
    add(1, 2)                        # still the plain function

The input schema comes from the signature (type hints, defaults, ``Annotated[...]`` with
:func:`pydantic.Field` or a plain string description) and from the docstring (Google
``Args:``, NumPy ``Parameters`` or reST ``:param x:`` descriptions). Arguments are
validated by pydantic in its default *lax* mode before the call: ``"3"`` for an ``int``
becomes ``3``, while ``"three"`` (or an unknown or missing argument) answers the model with
what was wrong, without calling the function.

What a tool returns becomes the content the model sees:

* ``str``: the text itself; ``None``: the text ``null`` (like any other JSON value);
* a pydantic model: its JSON; anything else JSON-able (dict, list, numbers, bools,
  dataclasses, datetimes, ...): ``json.dumps`` of it;
* image bytes (PNG, JPEG, GIF, WebP) or :func:`image_content`: an image;
* a list holding :func:`image_content` items: several items (strings in it are text);
* a :class:`ToolResult`: sent as is, so a tool can report ``success=False`` itself.

A tool never fails the call: an exception becomes a failed result whose text is
``"ExceptionType: message"`` (logged with its traceback on the ``codexkit.tools`` logger).
Sync tools run on the client's callback threads; async tools are awaited on the event loop.
"""

from __future__ import annotations

from ._arguments import ArgumentsError
from ._results import ImageContent, ToolResult, image_content
from ._tool import Tool, ToolRegistry, tool

__all__ = [
    "ArgumentsError",
    "ImageContent",
    "Tool",
    "ToolRegistry",
    "ToolResult",
    "image_content",
    "tool",
]
