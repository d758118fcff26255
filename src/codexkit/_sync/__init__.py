"""The synchronous twin of the async client, on a private loop thread."""
