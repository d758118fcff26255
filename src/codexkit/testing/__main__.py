"""``python -m codexkit.testing``: serve a scripted model until interrupted.

Prints the provider base URL on the first line of stdout (so scripts can read
it), optionally writes a ``CODEX_HOME`` pointing at it, and runs until SIGINT or
SIGTERM, then exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from codexkit.testing._script import load_script
from codexkit.testing._server import ScriptedModel


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m codexkit.testing",
        description="Serve a fake OpenAI Responses API that answers from a JSON script.",
    )
    parser.add_argument("--script", required=True, help="JSON list of replies (see load_script)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--codex-home", help="also write DIR/config.toml pointing codex here")
    parser.add_argument("--approval-policy", default="never")
    parser.add_argument("--sandbox", default="read-only", help="sandbox_mode for config.toml")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        replies = load_script(args.script)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Installed before the URL is printed: a caller may signal as soon as it reads it.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with ScriptedModel(host=args.host, port=args.port) as model:
        model.extend(replies)
        if args.codex_home:
            home = model.codex_home(
                args.codex_home, approval_policy=args.approval_policy, sandbox_mode=args.sandbox
            )
            print(f"CODEX_HOME={home}", file=sys.stderr)
        print(model.url, flush=True)
        # Wait in slices: a bare wait() would not let signal handlers run on Windows.
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
