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
