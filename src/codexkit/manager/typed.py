"""The contract's request and response models, for ``cm.typed`` (``from
codexkit.manager.typed import CreateSessionRequest``, as codex-manager's client has
them): the same classes as :mod:`codexkit.contract`, the server's own."""

from __future__ import annotations

from ..contract import *  # noqa: F403
from ..contract import __all__ as __all__
