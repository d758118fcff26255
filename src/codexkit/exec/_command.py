"""The command line of one ``codex exec`` turn, and the private files it points at.

Layout (checked against the pinned binary): the options only ``codex exec`` knows (``-C``,
``-s``, ``--add-dir``) come before the ``resume`` subcommand, which still honours them;
the options both know come after it, because ``resume`` reads ``-i`` only on its own side.
``--`` then ends the options, so the thread id and the ``-`` that makes codex read the
prompt from stdin are never taken for option values (``exec -i`` takes several files).
"""

from __future__ import annotations

import base64
import contextlib
import mimetypes
import os
import tempfile
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._runtime.config import config_overrides
from ..errors import InvalidArgumentError, InvalidInputError
from ..options import StrPath, thread_settings
from ..types import InputLike, normalize_input

__all__ = ["ExecThreadSettings", "TurnFiles", "exec_argv", "split_input"]

Json = dict[str, Any]


@dataclass(frozen=True)
class ExecThreadSettings:
    """What every turn of an :class:`~codexkit.exec.ExecThread` passes to ``codex exec``."""

    cwd: str | None = None
    model: str | None = None
    sandbox: str | None = None
    reasoning_effort: str | None = None
    additional_directories: tuple[str, ...] = ()
    network_access: bool | None = None
    web_search: bool | str | None = None
    approval_policy: str | None = "never"
    skip_git_repo_check: bool = True
    ephemeral: bool = False
    config: Mapping[str, Any] = field(default_factory=dict)

    def settings(self) -> Json:
        """The options that have no flag of their own, as codex config settings (the
        additional directories have one: ``--add-dir``)."""
        settings = thread_settings(
            reasoning_effort=self.reasoning_effort,
            network_access=self.network_access,
            web_search=self.web_search,
        )
        if self.approval_policy is not None:
            settings["approval_policy"] = self.approval_policy
        return settings


def exec_argv(
    binary: str,
    options: ExecThreadSettings,
    *,
    model: str | None,
    config: Mapping[str, Any],
    thread_id: str | None,
    images: Sequence[str],
    schema_path: str | None,
) -> list[str]:
    """The command that runs one turn, reading its prompt from stdin.

    ``model`` and ``config`` are the client's defaults; the thread's own ``model`` wins
    and its ``config`` and typed options come later on the line, so they win too.
    """
    argv = [binary, "exec"]
    if options.cwd is not None:
        argv += ["-C", options.cwd]
    if options.sandbox is not None:
        argv += ["-s", options.sandbox]
    for directory in options.additional_directories:
        argv += ["--add-dir", directory]
    if thread_id is not None:
        argv.append("resume")
    argv.append("--json")
    if options.skip_git_repo_check:
        argv.append("--skip-git-repo-check")
    if options.ephemeral:
        argv.append("--ephemeral")
    chosen_model = options.model or model
    if chosen_model:
        argv += ["-m", chosen_model]
    for settings in (config, options.config, options.settings()):
        argv += config_overrides(settings)
    for image in images:
        argv += ["-i", image]
    if schema_path is not None:
        argv += ["--output-schema", schema_path]
    argv.append("--")
    if thread_id is not None:
        argv.append(thread_id)
    argv.append("-")
    return argv


class TurnFiles:
    """Files a turn hands to codex (its output schema, inline images): created readable
    by the owner only (``mkstemp`` makes them 0600) and removed by :meth:`remove`."""

    def __init__(self) -> None:
        self._paths: list[str] = []

    def write(self, data: bytes, suffix: str = "") -> str:
        fd, path = tempfile.mkstemp(prefix="codexkit-exec-", suffix=suffix)
        self._paths.append(path)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        return path

    def remove(self) -> None:
        while self._paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._paths.pop())


def split_input(
    input: InputLike, images: Sequence[StrPath], files: TurnFiles
) -> tuple[str, list[str]]:
    """The prompt text (text parts joined by newlines) and the image files to attach:
    local images by their absolute path, ``data:`` URLs written to private files."""
    texts: list[str] = []
    paths: list[str] = []
    for part in normalize_input(input):
        if part["type"] == "text":
            texts.append(part["text"])
        elif part["type"] == "localImage":
            paths.append(part["path"])
        elif part["type"] == "image" and "url" in part:
            paths.append(files.write(*_decode_data_url(part["url"])))
        else:
            raise InvalidInputError(
                f"codex exec takes text and images only, not a {part['type']!r} input "
                "(use AsyncCodex for it)"
            )
    paths += [os.path.abspath(os.fspath(path)) for path in images]
    return "\n".join(texts), paths


def _decode_data_url(url: str) -> tuple[bytes, str]:
    """The bytes of a ``data:`` URL and a file suffix for its media type."""
    if not url.startswith("data:") or "," not in url:
        raise InvalidArgumentError(
            "codex exec attaches image files only: pass a LocalImageInput, a path in "
            f"images=, or an ImageInput with a data: URL, not {url[:40]!r}"
        )
    header, payload = url[len("data:") :].split(",", 1)
    media_type, *params = header.split(";")
    if "base64" in params:
        data = base64.b64decode(payload, validate=True)
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    return data, mimetypes.guess_extension(media_type or "") or ""
