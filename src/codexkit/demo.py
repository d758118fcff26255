"""The offline demo of the real agent: ``python -m codexkit.demo``.

The same as ``codexkit demo`` (see :mod:`codexkit.cli._demo`): the bundled ``codex`` does
a short task against the built-in scripted model, with no network and no credentials,
and the turn is shown live. Options are those of ``codexkit demo``
(``--interactive``, ``--keep``).
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``codexkit demo`` with this process's arguments; exits."""
    from .cli import main as cli_main

    cli_main(["demo", *sys.argv[1:]])


if __name__ == "__main__":
    main()
