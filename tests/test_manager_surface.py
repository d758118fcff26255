"""``codexkit.manager`` without a server: every contract operation has a method, the two
clients mirror each other, configuration sources, and the extension points that the
real server cannot exercise on demand (a 503 to retry, a malformed error body)."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic.alias_generators import to_snake

from codexkit.contract import OPERATIONS
from codexkit.manager import (
    TYPED_OPERATIONS,
    AsyncCodexManager,
    CodexManager,
    ManagerConfig,
    ManagerRequest,
    ManagerResponse,
    RetryPolicy,
    ServerError,
    SessionSkills,
)

DOMAINS = [
    "system",
    "account",
    "models",
    "apps",
    "skills",
    "mcp",
    "config",
    "runtime",
    "feedback",
    "extensions",
    "orchestrator",
    "projects",
    "sessions",
    "approvals",
    "tool_input",
    "tool_calls",
    "raw",
    "wait",
    "stream",
    "typed",
]


class Recorder:
    """A request executor that answers each request from a script and keeps them all."""

    def __init__(self, *answers: ManagerResponse) -> None:
        self.sent: list[ManagerRequest] = []
        self._answers = list(answers)

    def __call__(self, request: ManagerRequest) -> ManagerResponse:
        self.sent.append(request)
        if self._answers:
            return self._answers.pop(0)
        return ManagerResponse(200, {"status": "ok"})


def _dummy(parameter: inspect.Parameter) -> Any:
    annotation = str(parameter.annotation)
    if "list" in annotation:
        return ["x"]
    if annotation.startswith("dict"):
        return {"k": "v"}
    if annotation.startswith("bool"):
        return True
    if annotation.startswith("int"):
        return 1
    if "Literal" in annotation:
        return annotation.split("'")[1]
    return "x"


def _call_everything(domain: object) -> None:
    for name, method in inspect.getmembers(domain, inspect.ismethod):
        if name.startswith("_"):
            continue
        parameters = inspect.signature(method).parameters.values()
        required = {
            p.name: _dummy(p)
            for p in parameters
            if p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
        if name == "request":  # raw: any path
            required = {"method": "GET", "path": "/health"}
        if name == "settings_set":  # settings or key/value: one of them
            required["key"] = "k"
        positional = [
            required.pop(p.name)
            for p in inspect.signature(method).parameters.values()
            if p.kind == p.POSITIONAL_OR_KEYWORD and p.name in required
        ]
        method(*positional, **required)


def test_every_contract_operation_has_a_dict_method_and_a_typed_one() -> None:
    recorder = Recorder()
    with CodexManager("http://127.0.0.1:9", request_executor=recorder) as cm:
        for domain in DOMAINS:
            if domain not in ("wait", "stream", "typed"):
                _call_everything(getattr(cm, domain))
    called = {request.operation for request in recorder.sent}
    # The websocket is `cm.stream` (and `cm.wait`), tested against the real server.
    assert set(OPERATIONS) - {"connectEventStream"} <= called
    typed = {op for methods in TYPED_OPERATIONS.values() for op in methods.values()}
    assert typed == set(OPERATIONS) - {"connectEventStream"}
    for domain, methods in TYPED_OPERATIONS.items():
        for name in methods:
            assert callable(getattr(getattr(cm, domain), name)), (domain, name)


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


async def test_sync_and_async_clients_mirror_each_other_name_for_name() -> None:
    # One set of domain classes serves both; what differs is how a call is carried out.
    answer = ManagerResponse(200, {"status": "ok"})
    with CodexManager("http://h", request_executor=Recorder(answer)) as sync_cm:
        async with AsyncCodexManager("http://h", request_executor=Recorder(answer)) as async_cm:
            assert _public(sync_cm) == _public(async_cm)
            for domain in DOMAINS:
                assert type(getattr(sync_cm, domain)) is type(getattr(async_cm, domain))
            assert sync_cm.session("s").settings.get() == {"status": "ok"}
            pending = async_cm.session("s").settings.get()
            assert inspect.iscoroutine(pending)
            assert await pending == {"status": "ok"}
    for name in ("__init__", "from_profile", "from_env"):
        assert inspect.signature(getattr(CodexManager, name)).parameters.keys() == (
            inspect.signature(getattr(AsyncCodexManager, name)).parameters.keys()
        )


def _write_profile(config_home: Path, profile: dict[str, Any]) -> None:
    path = config_home / "codex-manager" / "cli" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"currentProfile": "local", "profiles": {"local": profile}}))


def test_config_sources_profile_env_and_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert ManagerConfig.default() == ManagerConfig()  # no profile: 127.0.0.1:3001
    assert ManagerConfig().api_url == "http://127.0.0.1:3001/api"
    _write_profile(
        tmp_path,
        {
            "baseUrl": "https://example.test:8443",
            "apiPrefix": "/api",
            "timeoutMs": 2500,
            "headers": {"X-Team": "a"},
            "auth": {"bearer": "tok"},
        },
    )
    profile = ManagerConfig.default()
    assert (profile.base_url, profile.timeout, profile.bearer_token) == (
        "https://example.test:8443",
        2.5,
        "tok",
    )
    assert profile.stream_url == "wss://example.test:8443/api/stream"
    with pytest.raises(KeyError):
        ManagerConfig.from_profile("staging")

    env = {
        "CODEX_MANAGER_API_BASE": "http://a:1",
        "CODEX_MANAGER_BEARER_TOKEN": "old",
        "CODEXKIT_MANAGER_BEARER_TOKEN": "new",
        "CODEX_MANAGER_TIMEOUT_MS": "500",
        "CODEX_MANAGER_API_PREFIX": "/v2",
    }
    from_env = ManagerConfig.from_env(env)
    assert (from_env.api_url, from_env.bearer_token, from_env.timeout) == (
        "http://a:1/v2",
        "new",
        0.5,
    )


def test_retry_policy_retries_only_what_it_allows() -> None:
    flaky = ManagerResponse(503, {"status": "error", "code": "busy", "message": "m"})
    malformed = ManagerResponse(502, {"detail": "proxy"})  # no `status`: malformed
    recorder = Recorder(flaky, malformed, ManagerResponse(200, {"status": "ok"}))
    policy = RetryPolicy(backoff_seconds=0.0)
    with CodexManager("http://h", request_executor=recorder, retry_policy=policy) as cm:
        assert cm.system.health() == {"status": "ok"}
        assert [r.operation for r in recorder.sent] == ["getHealth"] * 3
        # A POST changes state: not retried unless named.
        recorder = Recorder(flaky)
        cm._core._executor = recorder
        with pytest.raises(ServerError) as failed:
            cm.projects.create(name="p")
        assert (failed.value.status, failed.value.code, len(recorder.sent)) == (503, "busy", 1)
    named = RetryPolicy(backoff_seconds=0.0, retryable_operations=frozenset({"createProject"}))
    recorder = Recorder(flaky)
    with CodexManager("http://h", request_executor=recorder, retry_policy=named) as cm:
        assert cm.projects.create(name="p") == {"status": "ok"}
        assert len(recorder.sent) == 2


async def test_async_executor_and_query_booleans_on_the_wire() -> None:
    sent: list[ManagerRequest] = []

    async def executor(request: ManagerRequest) -> ManagerResponse:
        sent.append(request)
        return ManagerResponse(200, {"data": []})

    async with AsyncCodexManager("http://h", request_executor=executor) as cm:
        await cm.sessions.list(archived=False, limit=5)
        await cm.sessions.settings_unset(session_id="a/b", key="k")
    assert sent[0].query == {"archived": "false", "limit": "5"}
    assert sent[1].url == "http://h/api/sessions/a%2Fb/settings/k"
    assert sent[1].query == {"scope": "session"}


def test_plugins_set_up_the_client() -> None:
    class Tracing:
        def setup(self, client: Any) -> None:
            client.use_middleware(self)
            self.seen: list[str] = []

        def before(self, context: Any) -> None:
            self.seen.append(context.request.operation)

    plugin = Tracing()
    labelled: list[Any] = []
    with CodexManager(
        "http://h", request_executor=Recorder(), plugins=[plugin, labelled.append]
    ) as cm:
        cm.models.list()
        assert plugin.seen == ["listModels"]
        assert labelled == [cm]


def test_every_typed_operation_reaches_its_path() -> None:
    recorder = Recorder()
    with CodexManager("http://h", request_executor=recorder, validation_mode="off") as cm:
        for domain, methods in TYPED_OPERATIONS.items():
            for name, operation_id in methods.items():
                names = re.findall(r"\{(\w+)\}", OPERATIONS[operation_id].path)
                params = {to_snake(n): f"{n}-1" for n in names}
                getattr(getattr(cm.typed, domain), name)(**params)
    for request in recorder.sent:
        expected = re.sub(r"\{(\w+)\}", r"\1-1", OPERATIONS[request.operation].path)
        assert request.url == "http://h" + expected
        assert request.method == OPERATIONS[request.operation].method
    assert {r.operation for r in recorder.sent} == set(OPERATIONS) - {"connectEventStream"}


def test_remote_skills_send_their_tools_in_the_contracts_shape_and_refuse_bad_input() -> None:
    created = ManagerResponse(200, {"session": {"sessionId": "s1"}})
    recorder = Recorder(created, ManagerResponse(202, {"status": "accepted", "turnId": "t1"}))

    def register(skills: SessionSkills) -> None:
        @skills.skill(timeout_seconds=5)
        def greet(name: str, polite: bool = True) -> str:
            return f"hello {name}"

        with pytest.raises(ValueError, match="already registered"):
            skills.register(greet)
        with pytest.raises(ValueError, match="positive number"):
            skills.skill(timeout_seconds=0)(lambda: None)

    with CodexManager("http://h", request_executor=recorder) as cm:
        _, skills = cm.remote_skills.create_session(register=register, cwd="/w")
        assert skills.session_id == "s1"
        skills.send("hi")
        [tool] = recorder.sent[0].json["dynamicTools"]
        assert tool == {
            "name": "greet",
            "description": "The greet skill.",  # no docstring: the contract wants one
            "inputSchema": tool["inputSchema"],
        }
        assert tool["inputSchema"]["required"] == ["name"]
        assert recorder.sent[1].json["dynamicTools"] == [tool]  # with every message

        async def late(skills: SessionSkills) -> None:
            return None

        with pytest.raises(TypeError, match="plain"):
            cm.remote_skills.create_session(register=late)

        async def enter_async() -> None:
            async with cm.remote_skills.lifecycle(register=register):
                pass

        with pytest.raises(TypeError, match="`with` goes with CodexManager"):
            asyncio.run(enter_async())
    assert len(recorder.sent) == 2  # nothing sent for the refused ones
