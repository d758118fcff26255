"""The one-shot engine: every turn is one ``codex exec --json`` process, nothing lives on.

::

    from codexkit.exec import ExecCodex

    codex = ExecCodex()
    thread = codex.start_thread(cwd="/src/project", sandbox="workspace-write")
    result = await thread.run("Fix the failing test")
    print(result.final_response)
    again = await thread.run("Now add a test for it")    # resumes the same thread

Events and results are the app-server client's own types (:mod:`codexkit.events`,
:class:`~codexkit.TurnResult`). exec runs without a human: no approvals, no dynamic tools,
no steering. Use :class:`~codexkit.AsyncCodex` for those; see ``docs/exec.md``.
"""

from __future__ import annotations

from ..errors import ExecError
from ._client import ExecCodex, ExecThread
from ._stream import ExecStream

__all__ = ["ExecCodex", "ExecError", "ExecStream", "ExecThread"]
