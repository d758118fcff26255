"""The async client: the router, AsyncCodex, threads, turns, resources."""
