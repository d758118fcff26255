"""The contract models against the contract's OpenAPI document, and the stream helpers."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from codexkit import contract
from codexkit.contract import (
    OPERATIONS,
    CreateSessionRequest,
    SessionSummary,
    app_server_event_type,
    load_openapi,
    parse_stream_command,
    to_wire,
)

REPO = Path(__file__).resolve().parents[1]
DOC = load_openapi()


def _members(annotation: Any) -> list[Any]:
    """The classes a union (possibly ``Annotated``) is made of."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = typing.get_args(annotation)
    return list(args) if args else [annotation]


def _assert_matches(model: Any, schema: dict[str, Any], where: str) -> None:
    """Every property of ``schema`` is a field of ``model`` under its wire name, required
    exactly when the schema requires it (through $ref and oneOf)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        assert getattr(contract, name) is model, where
        return
    if "oneOf" in schema:
        members = _members(model)
        assert len(members) == len(schema["oneOf"]), where
        for index, (member, variant) in enumerate(zip(members, schema["oneOf"], strict=True)):
            _assert_matches(member, variant, f"{where}.oneOf[{index}]")
        return
    if schema.get("type") != "object":
        if "enum" in schema:
            assert set(typing.get_args(model)) == set(schema["enum"]), where
        return
    assert isinstance(model, type), where
    assert issubclass(model, BaseModel), where
    model.model_rebuild()  # the models build lazily; a field's alias is set by the build
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    properties = schema.get("properties", {})
    assert set(fields) == set(properties), where
    required = set(schema.get("required", []))
    assert {wire for wire, info in fields.items() if info.is_required()} == required, where


@pytest.mark.parametrize("name", sorted(DOC["components"]["schemas"]))
def test_every_component_schema_has_its_model(name: str) -> None:
    schema = DOC["components"]["schemas"][name]
    _assert_matches(getattr(contract, name), schema, name)


def test_the_operation_table_covers_every_operation_of_the_document() -> None:
    documented = {
        op["operationId"]: (method.upper(), path)
        for path, ops in DOC["paths"].items()
        for method, op in ops.items()
    }
    assert len(documented) == 71
    assert {k: (o.method, o.path) for k, o in OPERATIONS.items()} == documented


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_every_request_body_query_and_response_has_its_model(operation_id: str) -> None:
    operation = OPERATIONS[operation_id]
    spec = DOC["paths"][operation.path][operation.method.lower()]
    body = spec.get("requestBody")
    if body is None:
        assert operation.body is None
    else:
        assert operation.body_required == bool(body.get("required"))
        schema = body["content"]["application/json"]["schema"]
        if schema.get("type") == "object" and not schema.get("properties"):
            assert operation.body is contract.OpenBody
        else:
            _assert_matches(operation.body, schema, f"{operation_id} body")
    query = {p["name"]: p for p in spec.get("parameters", []) if p["in"] == "query"}
    if query:
        as_schema = {
            "type": "object",
            "properties": {n: p["schema"] for n, p in query.items()},
            "required": [n for n, p in query.items() if p.get("required")],
        }
        _assert_matches(operation.query, as_schema, f"{operation_id} query")
    else:
        assert operation.query is None
    for status, answer in spec["responses"].items():
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        if schema:
            _assert_matches(operation.responses[int(status)], schema, f"{operation_id} {status}")
    assert operation.statuses == tuple(int(status) for status in spec["responses"])


def test_the_generated_module_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate_contract.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_models_speak_wire_names_and_keep_required_nulls() -> None:
    summary = SessionSummary.model_validate(
        {
            "sessionId": "t1",
            "title": "New chat",
            "materialized": False,
            "modelProvider": "mock",
            "approvalPolicy": "never",
            "sessionControls": {
                "model": None,
                "approvalPolicy": "never",
                "networkAccess": "restricted",
                "filesystemSandbox": "read-only",
            },
            "createdAt": 1,
            "updatedAt": 2,
            "cwd": "/tmp",
            "source": "appServer",
            "projectId": None,
        }
    )
    wire = to_wire(summary)
    assert wire["projectId"] is None
    assert wire["sessionControls"]["model"] is None
    assert "settings" not in wire["sessionControls"]
    body = CreateSessionRequest(approval_policy="on-request", cwd="/work")
    assert to_wire(body) == {"approvalPolicy": "on-request", "cwd": "/work"}


def test_bad_input_is_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError) as raised:
        contract.SendSessionMessageRequest.model_validate({"text": ""})
    assert raised.value.errors()[0]["loc"] == ("text",)
    with pytest.raises(ValidationError):  # additionalProperties: false
        contract.DynamicToolDefinition.model_validate(
            {"name": "x", "description": "d", "inputSchema": {}, "extra": 1}
        )


def test_tool_call_content_items_dispatch_on_their_type() -> None:
    body = contract.ToolCallResponseRequest.model_validate(
        {
            "success": True,
            "contentItems": [
                {"type": "inputText", "text": "42"},
                {"type": "inputImage", "imageUrl": "data:image/png;base64,AA=="},
            ],
        }
    )
    assert body.content_items is not None
    assert [type(item).__name__ for item in body.content_items] == [
        "DynamicToolCallTextContentItem",
        "DynamicToolCallImageContentItem",
    ]


@pytest.mark.parametrize(
    ("method", "request_", "expected"),
    [
        (
            "item/fileChange/requestApproval",
            True,
            "app_server.request.item.file_change.request_approval",
        ),
        ("item/tool/call", True, "app_server.request.item.tool.call"),
        ("item/started", False, "app_server.item.started"),
        ("thread/tokenUsage/updated", False, "app_server.thread.token_usage.updated"),
        ("account/rateLimits/updated", False, "app_server.account.rate_limits.updated"),
    ],
)
def test_app_server_frame_types(method: str, request_: bool, expected: str) -> None:
    assert app_server_event_type(method, request=request_) == expected


def test_stream_commands() -> None:
    command = parse_stream_command('{"type":"subscribe","threadId":"t1"}')
    assert isinstance(command, contract.SubscribeCommand)
    assert command.thread_id == "t1"
    assert isinstance(parse_stream_command(b'{"type":"ping"}'), contract.PingCommand)
    for bad in ('{"type":"subscribe"}', '{"type":"dance"}', "not json"):
        with pytest.raises(ValidationError):
            parse_stream_command(bad)
