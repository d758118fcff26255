"""``codexkit.manager`` against a real ``codexkit serve`` (real binary, scripted model):
construction from the profile the server writes, the passthrough domains, errors with
the contract's status and body, the typed facade in each validation mode, hooks, header
providers and a custom request executor."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support.serve import ServeProcess

from codexkit.contract import GetHealthResponse, WriteConfigValueRequest
from codexkit.manager import (
    AsyncCodexManager,
    AuthError,
    CodexManager,
    ConflictError,
    ManagerConfig,
    ManagerRequest,
    ManagerResponse,
    NotFoundError,
    RequestContext,
    ValidationError,
)
from codexkit.testing import ScriptedModel

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModel]:
    with ScriptedModel() as scripted:
        yield scripted


@pytest.fixture(scope="module")
def server(
    model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("serve-manager")
    with ServeProcess(
        data_dir=root / "data",
        codex_home=model.codex_home(root / "codex-home"),
        config_home=root / "config",
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def profile_home(server: ServeProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the server wrote its `local` profile, as a user's own config dir."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(server.config_home))


def test_bare_constructor_and_from_profile_reach_the_server_with_its_token(
    server: ServeProcess,
) -> None:
    # No setup: `codexkit serve` wrote the profile on start, with its port and token.
    with CodexManager() as cm:
        assert cm.connection_config.base_url == server.url
        health = cm.system.health()
        assert health["status"] == "ok"
        assert health["auth"]["likelyUnauthenticated"] in (True, False)
        assert cm.system.info()["name"] == "codexkit serve"  # needs the token
    with CodexManager.from_profile("local") as cm:
        assert cm.models.list(limit=2)["data"]


async def test_async_client_from_profile_and_from_env(
    server: ServeProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AsyncCodexManager.from_profile("local") as cm:
        assert (await cm.system.info())["name"] == "codexkit serve"
        assert {m["mode"] for m in (await cm.system.collaboration_modes())["data"]} >= {"plan"}
    monkeypatch.setenv("CODEX_MANAGER_API_BASE", server.url)
    monkeypatch.setenv("CODEXKIT_MANAGER_BEARER_TOKEN", server.token)
    async with AsyncCodexManager.from_env() as cm:
        assert (await cm.account.get())["requiresOpenaiAuth"] is False


def test_errors_carry_the_contracts_status_code_and_body(server: ServeProcess) -> None:
    with CodexManager(server.url, bearer_token="wrong") as cm:
        with pytest.raises(AuthError) as denied:
            cm.system.info()
        assert denied.value.status == 401
        assert cm.system.health()["status"] == "ok"  # open without a token
    with CodexManager() as cm:
        with pytest.raises(ValidationError) as invalid:
            cm.account.login_start({"type": "password"})
        assert (invalid.value.status, invalid.value.code) == (400, "invalid_request")
        assert invalid.value.body["issues"]
        with pytest.raises(NotFoundError) as missing:
            cm.account.login_cancel(login_id="no-such-login")
        assert "invalid login id" in missing.value.body["message"]
        cm.config.set(key_path="model_reasoning_effort", value="low")
        with pytest.raises(ConflictError) as stale:
            cm.config.set(key_path="model_reasoning_effort", value="high", expected_version=1)
        assert (stale.value.status, stale.value.code) == (409, "invalid_state")


def test_config_domain_reads_and_writes(server: ServeProcess) -> None:
    with CodexManager() as cm:
        assert cm.config.get(include_layers=True)["layers"]
        cm.config.set(key_path=["model_reasoning_effort"], value="medium")
        assert cm.config.get()["config"]["model_reasoning_effort"] == "medium"
        cm.config.batch_set(
            edits=[
                {"keyPath": ["model_reasoning_effort"], "mergeStrategy": "replace", "value": "high"}
            ]
        )
        assert cm.config.get()["config"]["model_reasoning_effort"] == "high"
        assert "requirements" in cm.config.requirements()


def test_typed_facade_in_each_validation_mode(server: ServeProcess) -> None:
    with CodexManager() as cm:  # typed-only: typed calls checked both ways, dicts as they come
        health = cm.typed.system.health()
        assert isinstance(health, GetHealthResponse)
        assert health.status == "ok"
        written = cm.typed.config.set(
            WriteConfigValueRequest(
                key_path=["model"], merge_strategy="replace", value="mock-model"
            )
        )
        assert written["status"] == "ok"  # the contract has no model for this answer
        sent = cm.requests_sent
        with pytest.raises(ValidationError) as refused:
            cm.typed.config.set(key_path=[], merge_strategy="replace", value=1)
        assert refused.value.status == 0  # refused here: nothing went out
        assert cm.requests_sent == sent
        assert isinstance(cm.system.health(), dict)
    with CodexManager(validation_mode="off") as cm:
        assert isinstance(cm.typed.system.health(), dict)
        # Nothing checked on this side: the server's 400 is what says no.
        with pytest.raises(ValidationError) as server_said:
            cm.typed.config.set(key_path=[], merge_strategy="replace", value=1)
        assert server_said.value.status == 400
    with CodexManager(validation_mode="strict") as cm:
        assert isinstance(cm.system.health(), dict)  # checked, still a dict


class BreakingExecutor:
    """A custom request executor: httpx underneath, and health answers corrupted on the
    way back once ``broken`` is set (the real server never answers off-contract)."""

    def __init__(self) -> None:
        self.client = httpx.AsyncClient()
        self.seen: list[str] = []
        self.broken = False

    async def __call__(self, request: ManagerRequest) -> ManagerResponse:
        self.seen.append(request.operation)
        answer = await self.client.request(
            request.method, request.url, headers=request.headers, params=request.query
        )
        body = answer.json()
        if request.operation == "getHealth" and self.broken:
            body.pop("status")
        return ManagerResponse(answer.status_code, body)


async def test_custom_executor_and_strict_validation(server: ServeProcess) -> None:
    executor = BreakingExecutor()
    async with AsyncCodexManager(validation_mode="strict", request_executor=executor) as cm:
        assert (await cm.system.health())["status"] == "ok"
        assert (await cm.system.info())["name"] == "codexkit serve"
        executor.broken = True
        with pytest.raises(ValidationError, match="does not match the contract"):
            await cm.system.health()
    async with AsyncCodexManager(request_executor=executor) as cm:  # typed-only: dicts pass
        assert "status" not in await cm.system.health()
    await executor.client.aclose()
    assert executor.seen == ["getHealth", "getApiInfo", "getHealth", "getHealth"]


def test_hooks_see_every_attempt_and_may_edit_the_request(server: ServeProcess) -> None:
    seen: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    class Audit:  # middleware: an object with hook methods
        def after(self, context: RequestContext, response: ManagerResponse) -> None:
            seen.append((context.request.operation, response.status))

        def on_error(self, context: RequestContext, error: BaseException) -> None:
            errors.append(error)

    with CodexManager(config=ManagerConfig(base_url=server.url)) as cm:
        cm.use_middleware(Audit())

        @cm.before
        def sign(context: RequestContext) -> None:
            context.request.headers["Authorization"] = f"Bearer {server.token}"

        assert cm.system.info()["name"] == "codexkit serve"
        cm.hooks.before_hooks.remove(sign)
        with pytest.raises(AuthError):
            cm.system.info()
    assert seen == [("getApiInfo", 200)]
    assert [type(error) for error in errors] == [AuthError]


def test_header_provider_carries_the_token(server: ServeProcess) -> None:
    calls: list[int] = []

    def provide() -> dict[str, str]:
        calls.append(1)
        return {"Authorization": f"Bearer {server.token}"}

    # No token in the config: only the provider's header can open the door.
    with CodexManager(config=ManagerConfig(base_url=server.url), header_provider=provide) as cm:
        assert cm.connection_config.bearer_token is None
        assert cm.system.info()["name"] == "codexkit serve"
    assert calls == [1]
