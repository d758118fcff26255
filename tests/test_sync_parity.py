"""The sync client mirrors the async one name for name: every public method, property and
attribute of an async class exists on its sync twin, with the same parameters (names,
kinds, defaults, order), and the sync side never hides its options behind ``**kwargs``.

No server is started: the classes are compared, and instances built without connecting.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast

import pytest

from codexkit._client.account import (
    AsyncAccount,
    AsyncChatGptLogin,
    AsyncDeviceCodeLogin,
    AsyncSettings,
)
from codexkit._client.client import AsyncCodex
from codexkit._client.resources import AsyncThreadListing
from codexkit._client.thread import AsyncThread
from codexkit._client.turn import AsyncTurn
from codexkit._sync.account import (
    Account,
    ChatGptLogin,
    DeviceCodeLogin,
    Settings,
    ThreadListing,
)
from codexkit._sync.client import Codex
from codexkit._sync.mcp import Mcp
from codexkit._sync.thread import Thread, Turn

# Public async names with no sync twin, each with the reason.
ASYNC_ONLY: dict[type, dict[str, str]] = {
    AsyncCodex: {
        name: "a constructor setting kept on the client; read it on codex.async_client"
        for name in (
            "model",
            "cwd",
            "codex_home",
            "config",
            "env",
            "codex_bin",
            "approval_policy",
            "reasoning_effort",
            "additional_directories",
            "network_access",
            "web_search",
            "base_url",
            "mcp_servers",
            "connect",
            "request_timeout",
            "startup_timeout",
            "turn_idle_timeout",
            "max_message_size",
            "max_buffered_events",
        )
    }
    | {
        "connection": "the low-level async connection; sync code sends any request with "
        "codex.request()"
    },
    AsyncTurn: {"next_batch": "the sync Turn's iteration is built on it"},
}

# Public sync names with no async original, each with the reason.
SYNC_ONLY: dict[type, dict[str, str]] = {
    Codex: {"async_client": "the AsyncCodex underneath"},
}

# Async methods that take ``**options``: the sync twin spells out, in place of the
# ``**options``, the keyword-only parameters of the method the options are passed to.
# (Options typed with ``Unpack[SomeTypedDict]`` need no entry: both twins take the same.)
EXPANDED_OPTIONS: dict[tuple[type, str], Callable[..., Any]] = {}

# Protocol methods whose twin has another name.
DUNDER_TWINS = {
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
}

Param = tuple[str, Any, Any]  # name, kind, default


def _instances() -> list[tuple[object, object]]:
    """Each async object with its sync twin, built without a server."""
    codex, acodex = Codex(), AsyncCodex()
    athread = acodex.thread("thread-1")
    thread = Thread(codex._call, athread)
    aturn = AsyncTurn(acodex._router, athread.id, idle_timeout=None, max_buffered_events=None)
    watch = cast(Any, None)  # only stored; no call here reaches it
    router = acodex._router
    chatgpt = AsyncChatGptLogin(router, watch, {"loginId": "l1", "authUrl": "https://login"})
    device = AsyncDeviceCodeLogin(
        router, watch, {"loginId": "l2", "userCode": "ABCD", "verificationUrl": "https://dev"}
    )
    listing = AsyncThreadListing(router, {}, archived=False)
    account, settings = AsyncAccount(router), AsyncSettings(router)
    return [
        (acodex, codex),
        (athread, thread),
        (aturn, Turn(codex._call, aturn)),
        (account, Account(codex._call, account)),
        (settings, Settings(codex._call, settings)),
        (listing, ThreadListing(codex._call, listing)),
        (chatgpt, ChatGptLogin(codex._call, chatgpt)),
        (device, DeviceCodeLogin(codex._call, device)),
        (acodex.mcp, Mcp(codex._call, acodex.mcp)),
    ]


PAIRS = [(type(a), type(s)) for a, s in _instances()]


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def _is_method(cls: type, name: str) -> bool:
    member = inspect.getattr_static(cls, name, None)
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    return inspect.isfunction(member)


def _params(function: Callable[..., Any]) -> list[Param]:
    parameters = list(inspect.signature(function).parameters.values())
    if parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    # A ``**options`` is compared by its annotation: ``Unpack[TurnOptions]`` on both sides.
    return [
        (p.name, p.kind, p.annotation if p.kind is p.VAR_KEYWORD else p.default) for p in parameters
    ]


def _typed(param: Param) -> bool:
    return isinstance(param[2], str) and param[2].startswith("Unpack[")


def _expected_params(cls: type, name: str) -> list[Param]:
    params = _params(getattr(cls, name))
    options = [p for p in params if p[1] is inspect.Parameter.VAR_KEYWORD]
    if not options or _typed(options[0]):
        return params
    source = next(
        (
            fn
            for (owner, method), fn in EXPANDED_OPTIONS.items()
            if method == name and owner in cls.__mro__
        ),
        None,
    )
    if source is None:
        raise AssertionError(
            f"{cls.__name__}.{name} takes **{options[0][0]}: say in EXPANDED_OPTIONS which "
            "method its options go to, so the sync twin can spell them out"
        )
    named = {p[0] for p in params}
    spelled = [
        p for p in _params(source) if p[1] is inspect.Parameter.KEYWORD_ONLY and p[0] not in named
    ]
    return [p for p in params if p[1] is not inspect.Parameter.VAR_KEYWORD] + spelled


def _show(params: list[Param]) -> str:
    return ", ".join(f"{name}:{kind.name}={default!r}" for name, kind, default in params)


def _differences(async_obj: object, sync_obj: object) -> list[str]:
    """What the sync twin lacks or does differently; empty when it mirrors the async."""
    acls, scls = type(async_obj), type(sync_obj)
    exempt = ASYNC_ONLY.get(acls, {})
    problems: list[str] = []
    for name in sorted(_public(async_obj) - exempt.keys()):
        is_method = _is_method(acls, name)
        expected = _expected_params(acls, name) if is_method else []
        if name not in _public(sync_obj):
            problems.append(f"{scls.__name__} lacks {name!r} (of {acls.__name__})")
        elif is_method != _is_method(scls, name):
            kind = "a method" if is_method else "an attribute or property"
            problems.append(f"{scls.__name__}.{name} should be {kind}, as on {acls.__name__}")
        elif is_method and expected != (actual := _params(getattr(scls, name))):
            problems.append(
                f"{scls.__name__}.{name}({_show(actual)}) differs from "
                f"{acls.__name__}.{name}({_show(expected)})"
            )
    for async_name, sync_name in DUNDER_TWINS.items():
        if hasattr(acls, async_name) and not hasattr(scls, sync_name):
            problems.append(f"{scls.__name__} lacks {sync_name} (for {async_name})")
    extra = _public(sync_obj) - _public(async_obj) - SYNC_ONLY.get(scls, {}).keys()
    problems.extend(f"{scls.__name__}.{name} has no async original" for name in sorted(extra))
    return problems


@pytest.mark.parametrize(
    ("async_obj", "sync_obj"),
    _instances(),
    ids=[f"{a.__name__}-{s.__name__}" for a, s in PAIRS],
)
def test_sync_twin_mirrors_the_async_class(async_obj: object, sync_obj: object) -> None:
    assert _differences(async_obj, sync_obj) == []


def test_exemptions_name_real_members_and_give_reasons() -> None:
    instances = dict(_instances())
    by_class = {type(a): a for a in instances}
    for cls, names in ASYNC_ONLY.items():
        for name, reason in names.items():
            assert name in _public(by_class[cls]), f"{cls.__name__}.{name} is gone"
            assert reason
    for (cls, name), source in EXPANDED_OPTIONS.items():
        assert any(p[1] is inspect.Parameter.VAR_KEYWORD for p in _params(getattr(cls, name)))
        assert any(p[1] is inspect.Parameter.KEYWORD_ONLY for p in _params(source))


def test_a_new_async_method_without_a_twin_is_caught() -> None:
    class GrownSettings(AsyncSettings):
        async def export(self, *, path: str) -> None: ...

        async def read(self, *, cwd: str | None = None, fresh: bool = False) -> dict[str, Any]:
            return {}

    codex = Codex()
    grown = GrownSettings(AsyncCodex()._router)
    problems = _differences(grown, Settings(codex._call, grown))
    assert any("lacks 'export'" in problem for problem in problems)
    assert any("Settings.read(" in problem and "fresh" in problem for problem in problems)


def test_a_new_passthrough_without_an_expansion_is_caught() -> None:
    class GrownThread(AsyncThread):
        async def retry(self, **options: Any) -> None: ...

    athread = GrownThread(AsyncCodex()._threads, {"id": "t"})
    with pytest.raises(AssertionError, match="EXPANDED_OPTIONS"):
        _differences(athread, Thread(Codex()._call, athread))


def test_sync_methods_spell_out_or_type_their_options() -> None:
    seen = 0
    for _, scls in PAIRS:
        for name in ["__init__", *sorted(n for n in dir(scls) if not n.startswith("_"))]:
            member = inspect.getattr_static(scls, name, None)
            if not inspect.isfunction(member):
                continue
            seen += 1
            for parameter in inspect.signature(member).parameters.values():
                where = f"{scls.__name__}.{name} takes {parameter}"
                assert parameter.kind is not inspect.Parameter.VAR_POSITIONAL, where
                if parameter.kind is inspect.Parameter.VAR_KEYWORD:  # only typed ones
                    assert str(parameter.annotation).startswith("Unpack["), where
    assert seen > 40
