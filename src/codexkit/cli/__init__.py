"""The ``codexkit`` command line (``codexkit --help``).

Only the ``codexkit`` console script and ``python -m codexkit.cli`` import this
package: typer and rich stay out of ``import codexkit``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); exits."""
    from ._app import app

    app(args=list(argv) if argv is not None else None, prog_name="codexkit")
