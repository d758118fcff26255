"""The default limits of a client, in one cheap module (clients' signatures read them at
import time, before anything heavy is loaded)."""

#: How many plain callbacks one client runs at the same time.
DEFAULT_CALLBACK_WORKERS = 32

#: The longest message read from a server, in bytes: twice the largest agent reply seen
#: in practice (32 MiB), while a runaway line costs at most a few times this in memory.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024

#: Unread events one turn may buffer: about 10 MB of deltas, and far more than one read
#: from the server brings, so a consumer that keeps up never meets it.
DEFAULT_MAX_BUFFERED_EVENTS = 10_000

#: Codex settings a client starts its app-server with (and ``codex exec`` runs with),
#: under the user's own ``config``. The runtime starts a thread's MCP servers in the
#: background and, unless told to wait, sends the first turn without the tools of those
#: not up yet; wait for them up to 30 s (past its own 10 s start-up timeout, after which
#: it reports a server failed).
DEFAULT_CODEX_SETTINGS = {"mcp_optional_startup_grace_ms": 30_000}
