"""JSON-RPC over a transport: requests, notifications, server requests."""
