"""Benchmarks: codexkit vs the official openai-codex SDK vs a raw JSON-RPC client.

Run ``python -m bench`` from the repository root; see ``docs/benchmarks.md``.
"""
