"""What the runtime refuses before it asks the app-server anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codexkit.server.runtime.checks import session_directory, thread_params, tool_specs
from codexkit.server.runtime.controls import check_controls
from codexkit.server.runtime.errors import Invalid
from codexkit.server.runtime.requests import tool_result, wire_answer
from codexkit.server.store.models import ServerRequestRow


def test_a_session_directory_must_exist_and_lie_under_an_allowed_root(tmp_path: Path) -> None:
    inside = tmp_path / "root" / "project"
    inside.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    roots = [os.path.realpath(tmp_path / "root")]
    assert session_directory(str(inside), roots) == str(inside)
    with pytest.raises(Invalid) as out:
        session_directory(str(outside), roots)
    assert out.value.body()["issues"][0]["path"] == ["cwd"]
    sneaky = tmp_path / "root" / "link"
    sneaky.symlink_to(outside)
    with pytest.raises(Invalid):
        session_directory(str(sneaky), roots)  # a link out of the root does not count
    with pytest.raises(Invalid):
        session_directory(str(tmp_path / "root-sibling"), roots)
    with pytest.raises(Invalid):
        session_directory(str(tmp_path / "missing"))
    assert session_directory(str(outside)) == str(outside)  # no roots: anywhere


def test_dynamic_tools_are_checked_and_given_the_wire_shape() -> None:
    tool = {"name": "lookup", "description": "d", "inputSchema": {"type": "object"}}
    assert tool_specs([tool]) == [{"type": "function", **tool}]
    assert tool_specs(None) is None
    with pytest.raises(Invalid) as bad:
        tool_specs([tool, {"name": "", "inputSchema": {}}])
    assert bad.value.body()["issues"] == [{"path": ["dynamicTools", 1]}]
    with pytest.raises(Invalid):
        tool_specs([tool] * 129)
    with pytest.raises(Invalid):  # the model's API takes no other function names
        tool_specs([{**tool, "name": "look up!"}])


def test_controls_are_checked_field_by_field() -> None:
    good = {
        "model": None,
        "approvalPolicy": "never",
        "networkAccess": "restricted",
        "filesystemSandbox": "read-only",
    }
    assert check_controls(good) == good
    with pytest.raises(Invalid) as bad:
        check_controls({**good, "approvalPolicy": "always", "networkAccess": 1})
    paths = [issue["path"] for issue in bad.value.body()["issues"]]
    assert paths == [["controls", "approvalPolicy"], ["controls", "networkAccess"]]
    with pytest.raises(Invalid):
        check_controls({"model": "m"})  # the whole tuple is needed
    assert check_controls({"model": "m"}, partial=True) == {"model": "m"}


def test_controls_become_thread_parameters() -> None:
    wire = thread_params(
        {
            "model": "gpt",
            "approvalPolicy": "on-request",
            "networkAccess": "enabled",
            "filesystemSandbox": "workspace-write",
        }
    )
    assert wire == {
        "approvalPolicy": "on-request",
        "sandbox": "workspace-write",
        "model": "gpt",
        "config": {"sandbox_workspace_write.network_access": True},
    }


def test_tool_call_responses_in_both_contract_shapes() -> None:
    items = [{"type": "inputText", "text": "hi"}]
    assert tool_result({"success": True, "text": "hi"}) == {"success": True, "contentItems": items}
    nested = {"response": {"success": False, "contentItems": items}}
    assert tool_result(nested) == {"success": False, "contentItems": items}
    with pytest.raises(Invalid):
        tool_result({"success": True})


def _row(method: str, kind: str = "approval", **params: object) -> ServerRequestRow:
    return ServerRequestRow(
        id="r", kind=kind, method=method, session_id="s", params=dict(params), created_at=0.0
    )


def test_each_request_kind_is_answered_in_the_shape_its_method_expects() -> None:
    command = _row("item/commandExecution/requestApproval")
    assert wire_answer(command, {"decision": "accept"}) == {"decision": "accept"}
    assert wire_answer(command, {"decision": "accept", "scope": "session"}) == {
        "decision": "acceptForSession"
    }
    offered = _row(
        "item/commandExecution/requestApproval", availableDecisions=["accept", "decline"]
    )
    assert wire_answer(offered, {"decision": "accept", "scope": "session"}) == {
        "decision": "accept"  # not offered for the session: the turn's accept instead
    }
    assert wire_answer(command, {"decision": "cancel"}) == {"decision": "cancel"}

    legacy = _row("execCommandApproval")
    assert wire_answer(legacy, {"decision": "accept", "scope": "session"}) == {
        "decision": "approved_for_session"
    }
    assert wire_answer(legacy, {"decision": "decline"}) == {"decision": "denied"}
    assert wire_answer(_row("applyPatchApproval"), {"decision": "cancel"}) == {"decision": "abort"}

    asked = {"network": {"enabled": True}}
    permissions = _row("item/permissions/requestApproval", permissions=asked)
    assert wire_answer(permissions, {"decision": "accept", "scope": "session"}) == {
        "permissions": asked,
        "scope": "session",
    }
    assert wire_answer(permissions, {"decision": "decline"}) == {"permissions": {}, "scope": "turn"}

    question = _row("item/tool/requestUserInput", kind="tool_input")
    assert wire_answer(question, {"decision": "accept", "answers": {"q": "yes"}}) == {
        "answers": {"q": {"answers": ["yes"]}}
    }
    assert wire_answer(question, {"decision": "decline", "answers": {"q": "yes"}}) == {
        "answers": {}
    }
    with pytest.raises(Invalid):
        wire_answer(question, {"decision": "accept", "answers": {"q": {"answers": 3}}})
    with pytest.raises(Invalid):
        wire_answer(command, {"decision": "accept", "scope": "forever"})


def test_on_failure_reaches_codex_as_its_nearest_policy() -> None:
    # codex 0.163 refuses a thread with `on-failure`; the contract still offers it.
    controls = {
        "model": None,
        "approvalPolicy": "on-failure",
        "networkAccess": "restricted",
        "filesystemSandbox": "read-only",
    }
    assert thread_params(controls)["approvalPolicy"] == "on-request"
