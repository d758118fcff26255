"""Run the real Codex agent in tests, offline, against a scripted model.

The agent talks to its model over the OpenAI Responses API. `ScriptedModel` is a
local HTTP server that fakes that API: you queue one `Reply` per model request,
point codex at the server through a ``CODEX_HOME`` whose ``config.toml`` selects
it as the model provider, and assert on the requests the agent sent::

    import subprocess
    from codexkit import find_codex
    from codexkit.testing import ScriptedModel, shell, text

    def test_agent_runs_a_command(tmp_path):
        codex = find_codex()
        with ScriptedModel() as model:
            model.add(shell("echo hi"))          # first model call: run a command
            model.add(text("It printed hi."))    # second call, after the command ran
            home = model.codex_home(tmp_path / "home")
            subprocess.run(
                [codex.path, "exec", "--skip-git-repo-check", "-C", tmp_path, "say hi"],
                env=codex.child_env({"CODEX_HOME": str(home)}),
                stdin=subprocess.DEVNULL,
                check=True,
            )
        first, second = model.requests
        assert first.last_user_text == "say hi"
        assert "hi" in second.function_call_outputs()[0]["output"]

Replies: `text`, `json_reply`, `shell`, `apply_patch`, `tool_call`, `failure`, `stall`; join
them with ``+`` to send several items in one response. A request that finds no
reply gets ``response.failed``, so a turn never hangs on a missing reply.

With pytest, the ``scripted_model`` and ``codex_home`` fixtures come from the
``codexkit`` plugin. Outside Python, ``python -m codexkit.testing --script FILE``
serves a JSON script (see `load_script`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the real imports happen in __getattr__
    from codexkit.testing._home import write_codex_home as write_codex_home
    from codexkit.testing._recorded import RecordedRequest as RecordedRequest
    from codexkit.testing._replies import Matcher as Matcher
    from codexkit.testing._replies import Reply as Reply
    from codexkit.testing._replies import Usage as Usage
    from codexkit.testing._replies import apply_patch as apply_patch
    from codexkit.testing._replies import failure as failure
    from codexkit.testing._replies import json_reply as json_reply
    from codexkit.testing._replies import mcp_tool_call as mcp_tool_call
    from codexkit.testing._replies import shell as shell
    from codexkit.testing._replies import stall as stall
    from codexkit.testing._replies import text as text
    from codexkit.testing._replies import tool_call as tool_call
    from codexkit.testing._script import load_script as load_script
    from codexkit.testing._server import NO_REPLY_MESSAGE as NO_REPLY_MESSAGE
    from codexkit.testing._server import ScriptedModel as ScriptedModel

# Public name -> private module. Imported on first use (PEP 562) because the
# pytest plugin imports this package in every test run of every user.
_EXPORTS = {
    "NO_REPLY_MESSAGE": "_server",
    "Matcher": "_replies",
    "RecordedRequest": "_recorded",
    "Reply": "_replies",
    "ScriptedModel": "_server",
    "Usage": "_replies",
    "apply_patch": "_replies",
    "failure": "_replies",
    "json_reply": "_replies",
    "load_script": "_script",
    "mcp_tool_call": "_replies",
    "shell": "_replies",
    "stall": "_replies",
    "text": "_replies",
    "tool_call": "_replies",
    "write_codex_home": "_home",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
