"""Finding the ``codex`` binary and the PATH entries it expects."""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, field

from ..errors import CodexNotFoundError

__all__ = ["PINNED_VERSION", "CodexBinary", "check_version", "find_codex"]

#: The runtime version codexkit is built and tested against.
PINNED_VERSION = "0.163.0"

ENV_VAR = "CODEXKIT_CODEX_BIN"

_log = logging.getLogger("codexkit")
_VERSION_RE = re.compile(r"/(\d+\.\d+\.\d+[\w.+-]*)")


@dataclass(frozen=True)
class CodexBinary:
    """A resolved binary: where it is, where it came from, and extra PATH entries for it."""

    path: str
    source: str
    path_dirs: tuple[str, ...] = field(default=())

    def child_env(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for a child: ``os.environ`` plus ``env``, with ``path_dirs``
        put in front of ``PATH`` so the binary finds its helpers (``rg``)."""
        merged = dict(os.environ)
        if env:
            merged.update(env)
        if self.path_dirs:
            current = merged.get("PATH", "")
            merged["PATH"] = os.pathsep.join(
                [*self.path_dirs, current] if current else self.path_dirs
            )
        return merged


def find_codex(codex_bin: str | os.PathLike[str] | None = None) -> CodexBinary:
    """Resolve the binary: ``codex_bin``, then ``$CODEXKIT_CODEX_BIN``, then the bundled
    wheel ``openai-codex-cli-bin``, then ``codex`` on ``PATH``.

    Raises :class:`CodexNotFoundError` naming every place tried.
    """
    tried: list[str] = []
    if codex_bin is not None:
        found = _executable(os.fspath(codex_bin))
        if found:
            return CodexBinary(found, "argument")
        tried.append(f"codex_bin={os.fspath(codex_bin)!r} (not an executable file)")
        raise CodexNotFoundError(tried)

    from_env = os.environ.get(ENV_VAR)
    if from_env:
        found = _executable(from_env)
        if found:
            return CodexBinary(found, ENV_VAR)
        tried.append(f"${ENV_VAR}={from_env!r} (not an executable file)")
    else:
        tried.append(f"${ENV_VAR} (not set)")

    bundled = _bundled()
    if isinstance(bundled, CodexBinary):
        return bundled
    tried.append(bundled)

    on_path = shutil.which("codex")
    if on_path:
        return CodexBinary(on_path, "PATH")
    tried.append("`codex` on PATH (not found)")
    raise CodexNotFoundError(tried)


def _executable(candidate: str) -> str | None:
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return os.path.abspath(candidate)
    return shutil.which(candidate) if os.sep not in candidate else None


def _bundled() -> CodexBinary | str:
    """The binary of the ``openai-codex-cli-bin`` wheel, or why it is unavailable."""
    try:
        import codex_cli_bin
    except ImportError:
        return "the bundled runtime (openai-codex-cli-bin is not installed)"
    try:
        path = codex_cli_bin.bundled_codex_path()
    except (FileNotFoundError, OSError) as exc:
        return f"the bundled runtime ({exc})"
    extra = codex_cli_bin.bundled_path_dir()
    return CodexBinary(str(path), "bundled", (str(extra),) if extra else ())


def check_version(user_agent: str, binary: CodexBinary) -> str | None:
    """Parse the server version out of an ``initialize`` user agent and warn (never fail)
    when it is not the pinned one. Returns the version, if found."""
    match = _VERSION_RE.search(user_agent)
    version = match.group(1) if match else None
    if version and version != PINNED_VERSION:
        _log.warning(
            "codex %s at %s is not the pinned version %s; codexkit should work, but the "
            "protocol may differ",
            version,
            binary.path,
            PINNED_VERSION,
        )
    return version
