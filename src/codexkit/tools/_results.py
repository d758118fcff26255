"""Tool results: what a tool returns, turned into ``item/tool/call`` content items."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_jsonable_python

__all__ = ["ImageContent", "ToolResult", "image_content", "sniff_image_mime"]

Json = dict[str, Any]

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image_mime(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG, GIF or WebP image bytes; ``None`` for anything else."""
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class ImageContent:
    """An image for the model, by ``https://`` URL or ``data:`` URL. See :func:`image_content`."""

    image_url: str

    def to_wire(self) -> Json:
        return {"type": "inputImage", "imageUrl": self.image_url}


def image_content(
    data: bytes | bytearray | memoryview | None = None,
    mime: str | None = None,
    *,
    url: str | None = None,
) -> ImageContent:
    """An image a tool can return, alone or in a list with text.

    Pass the image's bytes (sent as a ``data:`` URL; ``mime`` is guessed from the bytes
    when left out, defaulting to ``image/png``) or a ``url`` (``https://``, ``http://`` or
    ``data:``).
    """
    if (data is None) == (url is None):
        raise ValueError("image_content() takes either image bytes or url=, not both")
    if url is not None:
        if not url.startswith(("https://", "http://", "data:")):
            raise ValueError(f"image url must be https://, http:// or data:, got {url[:40]!r}")
        return ImageContent(url)
    raw = bytes(data) if data is not None else b""
    mime = mime or sniff_image_mime(raw) or "image/png"
    if not mime.startswith("image/"):
        raise ValueError(f"not an image MIME type: {mime!r}")
    return ImageContent(f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}")


def _text(text: str) -> Json:
    return {"type": "inputText", "text": text}


def _items(value: object) -> list[Json]:
    if isinstance(value, ToolResult):
        return [dict(item) for item in value.content_items]
    if isinstance(value, ImageContent):
        return [value.to_wire()]
    if isinstance(value, str):
        return [_text(value)]
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if sniff_image_mime(raw):
            return [image_content(raw).to_wire()]
        try:
            return [_text(raw.decode("utf-8"))]
        except UnicodeDecodeError:
            raise TypeError(
                f"the tool returned {len(raw)} bytes that are neither an image "
                "(PNG, JPEG, GIF, WebP) nor UTF-8 text"
            ) from None
    if isinstance(value, (list, tuple)) and any(
        isinstance(v, (ImageContent, ToolResult)) for v in value
    ):
        return [item for v in value for item in _items(v)]
    if isinstance(value, BaseModel):
        return [_text(value.model_dump_json())]
    try:
        return [_text(json.dumps(to_jsonable_python(value), ensure_ascii=False))]
    except (PydanticSerializationError, TypeError, ValueError):
        return [_text(str(value))]


@dataclass(frozen=True)
class ToolResult:
    """The outcome of a tool call, as the app-server wants it.

    A tool may return one itself, e.g. ``ToolResult.error("no such city")``, to report a
    failure without raising.
    """

    success: bool = True
    content_items: list[Json] = field(default_factory=list)

    @classmethod
    def from_value(cls, value: object, *, success: bool = True) -> ToolResult:
        """Convert a tool's return value (see :func:`codexkit.tools.tool`) to a result.

        A ``ToolResult`` comes back unchanged; ``TypeError`` for bytes that are neither an
        image nor UTF-8 text.
        """
        if isinstance(value, ToolResult):
            return value
        return cls(success=success, content_items=_items(value))

    @classmethod
    def error(cls, message: str) -> ToolResult:
        """A failed result whose one text item tells the model what went wrong."""
        return cls(success=False, content_items=[_text(message)])

    @classmethod
    def from_exception(cls, exc: BaseException) -> ToolResult:
        """A failed result saying ``"ExceptionType: message"`` (the type alone when the
        message is empty): how a tool's exception reaches the model."""
        message = str(exc)
        name = type(exc).__name__
        return cls.error(f"{name}: {message}" if message else name)

    @property
    def text(self) -> str:
        """The text items, joined by newlines."""
        return "\n".join(
            str(item.get("text", ""))
            for item in self.content_items
            if item.get("type") == "inputText"
        )

    def to_wire(self) -> Json:
        """The ``item/tool/call`` response: ``{"success": ..., "contentItems": [...]}``."""
        return {"success": self.success, "contentItems": [dict(i) for i in self.content_items]}
