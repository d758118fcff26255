"""One vocabulary of options: the client defaults and thread options both engines take,
checked against the real binary by reading what reached the scripted model."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from codexkit import AsyncCodex, Codex, InvalidArgumentError
from codexkit.exec import ExecCodex
from codexkit.testing import RecordedRequest, ScriptedModel, text

pytestmark = pytest.mark.real


def _web_search(request: RecordedRequest) -> list[dict[str, object]]:
    return [tool for tool in request.body["tools"] if tool.get("type") == "web_search"]


async def test_client_defaults_and_thread_options_reach_the_agent(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    scripted_model.extend([text("defaults"), text("overridden"), text("per turn")])
    async with AsyncCodex(
        codex_home=codex_home,
        cwd=tmp_path,
        reasoning_effort="high",
        additional_directories=[extra],
        network_access=True,
        web_search=True,
    ) as codex:
        thread = await codex.start_thread(sandbox="workspace-write")
        await thread.run("with the client's defaults")
        other = await codex.start_thread(
            sandbox="workspace-write",
            reasoning_effort="low",
            network_access=False,
            web_search=False,
            config={"model_reasoning_effort": "minimal"},  # the typed option wins
        )
        await other.run("with the thread's own")
        await other.run("and one turn's", reasoning_effort="medium")
    defaults, overridden, per_turn = scripted_model.requests
    context = json.dumps(defaults.input)
    assert defaults.body["reasoning"]["effort"] == "high"
    assert f"<root>{extra}</root>" in context
    assert "Network access is enabled" in context
    assert _web_search(defaults) == [{"type": "web_search", "external_web_access": True}]
    assert overridden.body["reasoning"]["effort"] == "low"
    assert "Network access is enabled" not in json.dumps(overridden.input)
    assert _web_search(overridden) == []
    assert per_turn.body["reasoning"]["effort"] == "medium"


def _bare_home(path: Path) -> Path:
    """A CODEX_HOME that leaves codex on its built-in OpenAI provider. With an API key
    codex would look up its models and programs at OpenAI (offline: seconds lost), and
    its shell snapshot runs the login profile, slow on a busy machine."""
    path.mkdir()
    (path / "config.toml").write_text(
        'model = "mock-model"\napproval_policy = "never"\n[features]\n'
        "api_key_model_discovery = false\napi_key_cyber_access_programs = false\n"
        "shell_snapshot = false\n"
    )
    return path


async def test_api_key_and_base_url_reach_the_model(
    scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    home = _bare_home(tmp_path / "home")
    scripted_model.extend([text("explicit"), text("from the environment")])
    async with AsyncCodex(
        codex_home=home, cwd=tmp_path, api_key="sk-explicit", base_url=scripted_model.url
    ) as codex:
        assert await (await codex.start_thread()).ask("hi") == "explicit"
    async with AsyncCodex(
        codex_home=home,
        cwd=tmp_path,
        env={"CODEX_API_KEY": "sk-codex", "OPENAI_API_KEY": "sk-openai"},
        base_url=scripted_model.url,
    ) as codex:
        assert await (await codex.start_thread()).ask("hi") == "from the environment"
    explicit, from_env = scripted_model.requests
    assert explicit.path == "/v1/responses"
    assert explicit.headers.get("authorization") == "Bearer sk-explicit"
    assert from_env.headers.get("authorization") == "Bearer sk-codex"
    assert not (home / "auth.json").exists()  # the key was never written down


def test_the_sync_client_takes_the_same_options(
    scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    home = _bare_home(tmp_path / "home")
    scripted_model.add(text("sync"))
    with Codex(
        codex_home=home,
        cwd=tmp_path,
        env={"OPENAI_API_KEY": "sk-openai"},
        base_url=scripted_model.url,
        reasoning_effort="low",
    ) as codex:
        assert codex.start_thread().ask("hi") == "sync"
    request = scripted_model.requests[0]
    assert request.headers.get("authorization") == "Bearer sk-openai"
    assert request.body["reasoning"]["effort"] == "low"


async def test_the_exec_engine_takes_api_key_and_base_url(
    scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    home = _bare_home(tmp_path / "home")
    scripted_model.add(text("exec"))
    codex = ExecCodex(codex_home=home, api_key="sk-exec", base_url=scripted_model.url)
    result = await codex.start_thread(cwd=tmp_path, reasoning_effort="high").run("hi")
    assert result.final_response == "exec"
    request = scripted_model.requests[0]
    assert request.headers.get("authorization") == "Bearer sk-exec"
    assert request.body["reasoning"]["effort"] == "high"


def test_openai_api_key_does_not_replace_a_stored_sign_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codexkit.options import resolve_api_key

    monkeypatch.delenv("CODEX_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    env = {"OPENAI_API_KEY": "sk-openai"}
    assert resolve_api_key(None, env, tmp_path) == "sk-openai"
    (tmp_path / "auth.json").write_text("{}")
    assert resolve_api_key(None, env, tmp_path) is None
    assert resolve_api_key(None, {**env, "CODEX_API_KEY": "sk-codex"}, tmp_path) == "sk-codex"
    assert resolve_api_key("sk-explicit", env, tmp_path) == "sk-explicit"
    with pytest.raises(InvalidArgumentError, match="connect"):
        AsyncCodex(connect="unix:///nowhere.sock", api_key="sk-explicit")


def test_the_scripted_model_turns_websockets_away_at_once(scripted_model: ScriptedModel) -> None:
    # codex's built-in provider falls back to HTTPS at once on 426 (a 404 costs it ~7 s).
    request = urllib.request.Request(
        f"{scripted_model.url}/responses",
        headers={"Connection": "Upgrade", "Upgrade": "websocket"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 426
