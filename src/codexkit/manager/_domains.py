"""The dict domains: one method per contract operation, in codex-manager's client's names.

Every method returns the server's JSON body as it came (a dict), or, on the async
client, a coroutine of it. Keyword arguments are snake_case; ``None`` means "not sent".
"""

from __future__ import annotations

from typing import Any, Literal

from ._bridge import Bridge, body, local_path

__all__ = [
    "AccountApi",
    "ApprovalsApi",
    "AppsApi",
    "ConfigApi",
    "ExtensionsApi",
    "FeedbackApi",
    "McpApi",
    "ModelsApi",
    "OrchestratorApi",
    "ProjectsApi",
    "RawApi",
    "RuntimeApi",
    "SkillsApi",
    "SystemApi",
    "ToolCallsApi",
    "ToolInputApi",
]

Decision = Literal["accept", "decline", "cancel"]


class _Domain:
    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge
        self._call = bridge.call


class RawApi(_Domain):
    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str = "raw.request",
        query: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        allow_statuses: tuple[int, ...] = (),
    ) -> Any:
        """Any request under the API prefix (``path`` like ``/sessions``); its JSON body.
        Statuses in ``allow_statuses`` come back as bodies instead of errors."""

        async def send() -> Any:
            answer = await self._bridge.core.send(
                operation,
                method,
                path,
                query=query,
                body=body,
                headers=headers,
                allow_statuses=allow_statuses,
            )
            return answer.body

        return self._bridge.run(send())


class SystemApi(_Domain):
    def health(self) -> Any:
        return self._call("getHealth")

    def info(self) -> Any:
        return self._call("getApiInfo")

    def capabilities(self, *, refresh: bool | None = None) -> Any:
        return self._call("getCapabilities", query={"refresh": refresh})

    def experimental_features(self, *, cursor: str | None = None, limit: int | None = None) -> Any:
        return self._call("listExperimentalFeatures", query={"cursor": cursor, "limit": limit})

    def collaboration_modes(self, *, cursor: str | None = None, limit: int | None = None) -> Any:
        return self._call("listCollaborationModes", query={"cursor": cursor, "limit": limit})


class ModelsApi(_Domain):
    def list(self, *, cursor: str | None = None, limit: int | None = None) -> Any:
        return self._call("listModels", query={"cursor": cursor, "limit": limit})


class AppsApi(_Domain):
    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        thread_id: str | None = None,
        force_refetch: bool | None = None,
    ) -> Any:
        query = {"cursor": cursor, "limit": limit, "threadId": thread_id}
        return self._call("listApps", query={**query, "forceRefetch": force_refetch})


class SkillsApi(_Domain):
    def list(self, *, force_reload: bool | None = None, cwd: str | None = None) -> Any:
        query = {"forceReload": force_reload, "cwd": local_path(cwd)}
        return self._call("listSkills", query=query)

    def set_config(self, *, path: str, enabled: bool) -> Any:
        return self._call("writeSkillConfig", body=body(path=path, enabled=enabled))

    def remote_get(self) -> Any:
        return self._call("readRemoteSkills")

    def remote_set(self, *, hazelnut_id: str, is_preload: bool) -> Any:
        return self._call(
            "writeRemoteSkills", body=body(hazelnut_id=hazelnut_id, is_preload=is_preload)
        )


class McpApi(_Domain):
    def reload(self) -> Any:
        return self._call("reloadMcpConfig")

    def servers(self, *, cursor: str | None = None, limit: int | None = None) -> Any:
        return self._call("listMcpServers", query={"cursor": cursor, "limit": limit})

    def oauth_login(
        self, *, server_name: str, scopes: list[str] | None = None, timeout_secs: int | None = None
    ) -> Any:
        return self._call(
            "startMcpOauthLogin",
            params={"serverName": server_name},
            body=body(scopes=scopes, timeout_secs=timeout_secs),
        )


class AccountApi(_Domain):
    def get(self) -> Any:
        return self._call("readAccount")

    def login_start(self, payload: dict[str, Any]) -> Any:
        return self._call("startAccountLogin", body=payload)

    def login_start_api_key(self, api_key: str) -> Any:
        return self.login_start({"type": "apiKey", "apiKey": api_key})

    def login_start_chatgpt(self) -> Any:
        return self.login_start({"type": "chatgpt"})

    def login_start_chatgpt_auth_tokens(
        self,
        *,
        access_token: str,
        chatgpt_account_id: str,
        chatgpt_plan_type: str | None = None,
    ) -> Any:
        return self.login_start(
            {
                "type": "chatgptAuthTokens",
                **body(
                    access_token=access_token,
                    chatgpt_account_id=chatgpt_account_id,
                    chatgpt_plan_type=chatgpt_plan_type,
                ),
            }
        )

    def login_cancel(self, *, login_id: str) -> Any:
        return self._call("cancelAccountLogin", body=body(login_id=login_id))

    def logout(self) -> Any:
        return self._call("logoutAccount", body={})

    def rate_limits(self) -> Any:
        return self._call("readAccountRateLimits")


class ConfigApi(_Domain):
    def get(self, *, cwd: str | None = None, include_layers: bool | None = None) -> Any:
        query = {"cwd": local_path(cwd), "includeLayers": include_layers}
        return self._call("readConfig", query=query)

    def requirements(self) -> Any:
        return self._call("readConfigRequirements")

    def set(
        self,
        *,
        key_path: str | list[str],
        value: Any,
        merge_strategy: Literal["replace", "upsert"] = "replace",
        expected_version: int | None = None,
        file_path: str | None = None,
    ) -> Any:
        """Write one value; ``key_path`` is a list of keys or a dotted string."""
        sent = body(
            key_path=key_path.split(".") if isinstance(key_path, str) else key_path,
            merge_strategy=merge_strategy,
            expected_version=expected_version,
            file_path=file_path,
        )
        return self._call("writeConfigValue", body={**sent, "value": value})

    def batch_set(
        self,
        *,
        edits: list[dict[str, Any]],
        expected_version: int | None = None,
        file_path: str | None = None,
    ) -> Any:
        sent = body(edits=edits, expected_version=expected_version, file_path=file_path)
        return self._call("writeConfigBatch", body=sent)


class RuntimeApi(_Domain):
    def exec(
        self, *, command: list[str], cwd: str | None = None, timeout_ms: int | None = None
    ) -> Any:
        return self._call(
            "executeCommand", body=body(command=command, cwd=local_path(cwd), timeout_ms=timeout_ms)
        )


class FeedbackApi(_Domain):
    def submit(
        self,
        *,
        classification: str,
        include_logs: bool,
        reason: str | None = None,
        thread_id: str | None = None,
    ) -> Any:
        sent = body(
            classification=classification,
            include_logs=include_logs,
            reason=reason,
            thread_id=thread_id,
        )
        return self._call("uploadFeedback", body=sent)


class ExtensionsApi(_Domain):
    def list(self) -> Any:
        return self._call("listAgentExtensions")

    def reload(self) -> Any:
        return self._call("reloadAgentExtensions", body={})


class OrchestratorApi(_Domain):
    def get(self, *, job_id: str) -> Any:
        return self._call("getOrchestratorJob", params={"jobId": job_id})

    def list(self, *, project_id: str, state: str | None = None) -> Any:
        return self._call(
            "listProjectOrchestratorJobs", params={"projectId": project_id}, query={"state": state}
        )

    def cancel(self, *, job_id: str) -> Any:
        return self._call("cancelOrchestratorJob", params={"jobId": job_id}, body={})


class ProjectsApi(_Domain):
    def list(self) -> Any:
        return self._call("listProjects")

    def create(self, *, name: str) -> Any:
        return self._call("createProject", body=body(name=name))

    def rename(self, *, project_id: str, name: str) -> Any:
        return self._call("renameProject", params={"projectId": project_id}, body=body(name=name))

    def delete(self, *, project_id: str) -> Any:
        return self._call("deleteProject", params={"projectId": project_id})

    def list_agent_sessions(self, *, project_id: str) -> Any:
        return self._call("listProjectAgentSessions", params={"projectId": project_id})

    def move_all_chats(self, *, project_id: str, destination: str) -> Any:
        return self._call(
            "moveProjectChats",
            params={"projectId": project_id},
            body=body(destination=destination),
        )

    def delete_all_chats(self, *, project_id: str) -> Any:
        return self._call("deleteProjectChats", params={"projectId": project_id}, body={})

    def orchestrator_jobs(self, *, project_id: str, state: str | None = None) -> Any:
        return self._call(
            "listProjectOrchestratorJobs", params={"projectId": project_id}, query={"state": state}
        )


class ApprovalsApi(_Domain):
    def decide(
        self,
        *,
        approval_id: str,
        decision: Decision,
        scope: Literal["turn", "session"] | None = None,
    ) -> Any:
        """Decide a pending approval. One already decided (404, or 409 ``in_flight``)
        counts as success: its body comes back instead of an error."""
        return self._call(
            "decideApproval",
            params={"approvalId": approval_id},
            body=body(decision=decision, scope=scope),
            idempotent_decision=True,
        )


class ToolInputApi(_Domain):
    def decide(
        self,
        *,
        request_id: str,
        decision: Decision,
        answers: dict[str, dict[str, list[str]]] | None = None,
        response: Any = None,
    ) -> Any:
        """Answer a tool-input request (``answers``: question id to ``{"answers": [...]}``);
        idempotent like approvals."""
        return self._call(
            "decideToolInput",
            params={"requestId": request_id},
            body=body(decision=decision, answers=answers, response=response),
            idempotent_decision=True,
        )


class ToolCallsApi(_Domain):
    def respond(
        self,
        *,
        request_id: str,
        success: bool = True,
        text: str | None = None,
        content_items: list[dict[str, Any]] | None = None,
        response: dict[str, Any] | None = None,
    ) -> Any:
        """Answer a dynamic tool call: ``text`` (or ``content_items``, or a whole
        ``response``); idempotent like approvals."""
        sent = (
            {"response": response}
            if response is not None
            else body(success=success, text=text, content_items=content_items)
        )
        return self._call(
            "respondToolCall",
            params={"requestId": request_id},
            body=sent,
            idempotent_decision=True,
        )
