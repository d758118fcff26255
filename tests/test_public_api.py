"""The public surface keeps its shape: snake_case names, options keyword-only."""

from __future__ import annotations

import inspect
import re

import codexkit

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
# Public methods that take two leading positional arguments, each with a reason.
TWO_POSITIONAL = {
    "request": "method and params, as in JSON-RPC",
    "notify": "method and params, as in JSON-RPC",
    "wait_for_notification": "the method and what its params must satisfy",
    "write": "a setting's key and its value",
    "write_codex_home": "where, and the model's URL",
}


def _public_classes() -> list[type]:
    found = [getattr(codexkit, name) for name in codexkit.__all__]
    return [obj for obj in found if inspect.isclass(obj) and obj.__module__.startswith("codexkit")]


def _public_methods(cls: type) -> list[tuple[str, inspect.Signature]]:
    methods = []
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or not callable(member) or inspect.isclass(member):
            continue
        try:
            methods.append((name, inspect.signature(member)))
        except (TypeError, ValueError):
            continue
    return methods


def test_public_names_are_snake_case() -> None:
    for cls in _public_classes():
        for name, signature in _public_methods(cls):
            assert SNAKE.match(name), f"{cls.__name__}.{name}"
            for parameter in signature.parameters.values():
                assert SNAKE.match(parameter.name), f"{cls.__name__}.{name}({parameter.name})"


def test_options_are_keyword_only() -> None:
    checked = 0
    for cls in _public_classes():
        for name, signature in _public_methods(cls):
            positional = [
                p
                for p in signature.parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
            ]
            limit = 2 if name in TWO_POSITIONAL else 1
            assert len(positional) <= limit, f"{cls.__name__}.{name}{signature}"
            checked += 1
    assert checked > 100


def test_typed_pass_through_options_match_their_target() -> None:
    from codexkit._client.thread import AsyncThread, ThreadOpener
    from codexkit.options import ThreadOptions, TurnOptions

    def keywords(function: object) -> list[str]:
        parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
        return [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]

    assert list(TurnOptions.__annotations__) == keywords(AsyncThread.turn)
    assert list(ThreadOptions.__annotations__) == keywords(ThreadOpener.params)
