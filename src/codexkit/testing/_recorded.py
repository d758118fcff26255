"""What the scripted model saw: one `RecordedRequest` per ``POST /v1/responses``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Codex adds text parts to user messages that the user did not type: context
# (the environment, AGENTS.md files, skills...), each one known tag wrapping the
# whole text or the AGENTS.md heading, and the tags around attached images.
# `last_user_text` leaves them out.
_CONTEXT_TAGS = (
    "environment_context",
    "user_instructions",
    "user_shell_command",
    "turn_aborted",
    "skill",
    "subagent_notification",
    "apps_instructions",
    "plugins_instructions",
    "skills_instructions",
    "permissions instructions",
    "model_switch",
    "context_window_guidance",
    "multi_agent_mode",
    "rollout_budget",
)
_ADDED_TEXT = re.compile(
    r"\A\s*(?:# AGENTS\.md instructions"
    r"|<(?:" + "|".join(map(re.escape, _CONTEXT_TAGS)) + r")>"
    r"|<image\b[^>]*>\s*\Z|</image>\s*\Z)"
)


def _is_added_by_codex(text: str) -> bool:
    """Tell whether a user-message text part is codex's addition, not the user's."""
    return _ADDED_TEXT.match(text) is not None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the agent sent to the scripted model, as received.

    `body` is the parsed JSON body of ``POST {base_url}/responses``: the whole
    conversation so far (``input``), the tools offered (``tools``), the model
    name and, when the turn has an output schema, ``text.format``. The helpers
    below read the parts tests usually assert on.
    """

    body: dict[str, Any]
    path: str = "/v1/responses"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def input(self) -> list[dict[str, Any]]:
        """The conversation items (messages, function calls, their outputs)."""
        items = self.body.get("input")
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    @property
    def model(self) -> str | None:
        """The model slug the agent asked for."""
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    def user_texts(self) -> list[str]:
        """Every ``input_text`` part of every user message, in order.

        Includes what codex adds to user messages (see `last_user_text`).
        """
        return [t for item in self._user_items() for t in _parts(item, "input_text", "text")]

    @property
    def last_user_text(self) -> str | None:
        """What the user wrote in the latest user message, or None.

        Leaves out the text codex adds (``<environment_context>``, AGENTS.md
        instructions, the ``<image>`` tags around attachments); several text
        inputs of one message are joined by newlines. On the request that
        follows a tool call this is still the prompt of the turn, since tool
        calls and their outputs are not user messages.
        """
        for item in reversed(self._user_items()):
            texts = [t for t in _parts(item, "input_text", "text") if not _is_added_by_codex(t)]
            if texts:
                return "\n".join(texts)
        return None

    def function_call_outputs(self) -> list[dict[str, Any]]:
        """The ``function_call_output`` items: ``{"call_id", "output", ...}``."""
        return [i for i in self.input if i.get("type") == "function_call_output"]

    def function_calls(self) -> list[dict[str, Any]]:
        """The ``function_call`` items the model made earlier in the conversation."""
        return [i for i in self.input if i.get("type") == "function_call"]

    @property
    def tools(self) -> list[str]:
        """Names of the tools offered to the model.

        A namespace of tools counts as one, by its name; unnamed built-ins (such
        as ``web_search``) appear by their type.
        """
        tools = self.body.get("tools")
        if not isinstance(tools, list):
            return []
        return [str(t.get("name") or t.get("type")) for t in tools if isinstance(t, dict)]

    @property
    def output_schema(self) -> dict[str, Any] | None:
        """The JSON schema the final answer must follow, when the turn set one."""
        text = self.body.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
        if not isinstance(fmt, dict):
            return None
        schema = fmt.get("schema")
        return schema if isinstance(schema, dict) else None

    def images(self) -> list[str]:
        """The URLs (often ``data:`` URLs) of the images in user messages, in order."""
        return [u for item in self._user_items() for u in _parts(item, "input_image", "image_url")]

    def _user_items(self) -> list[dict[str, Any]]:
        return [
            i
            for i in self.input
            if i.get("type", "message") == "message" and i.get("role") == "user"
        ]


def _parts(item: dict[str, Any], part_type: str, key: str) -> list[str]:
    """The `key` strings of the content parts of type `part_type` in a message."""
    content = item.get("content")
    if isinstance(content, str):  # the API also allows a bare string as content
        return [content] if part_type == "input_text" else []
    if not isinstance(content, list):
        return []
    return [
        p[key]
        for p in content
        if isinstance(p, dict) and p.get("type") == part_type and isinstance(p.get(key), str)
    ]
