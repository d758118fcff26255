"""The tables of ``codexkit serve``: what survives a restart.

Times are epoch seconds as floats (the same on SQLite and PostgreSQL, and what the
contract's summaries carry). JSON columns hold the wire shapes as they came, so a later
reader never has to guess what a field meant.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "ClusterSetting",
    "Defaults",
    "JobRow",
    "LeaseRow",
    "ProcessRow",
    "Project",
    "ServerRequestRow",
    "SessionRow",
    "TranscriptEntry",
    "TurnRow",
    "WorkerSessionRow",
]

Json = dict[str, Any]


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class SessionRow(Base):
    """A session: an app-server thread (same id) plus what the control plane keeps."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    cwd: Mapped[str] = mapped_column(Text)
    project_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("projects.id", ondelete="SET NULL"), index=True
    )
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[float | None] = mapped_column(Float)
    system_owned: Mapped[bool] = mapped_column(Boolean, default=False)
    # False until the thread's first turn: before that codex has stored nothing to resume.
    materialized: Mapped[bool] = mapped_column(Boolean, default=False)
    model_provider: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(64), default="appServer")
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # Controls at scope `session` ({model, approvalPolicy, networkAccess,
    # filesystemSandbox}); None means "follow the defaults".
    controls: Mapped[Json | None] = mapped_column(JSON)
    settings: Mapped[Json] = mapped_column(JSON, default=dict)
    dynamic_tools: Mapped[list[Json] | None] = mapped_column(JSON)
    # Decide a pending request after this many seconds (None: wait as long as it takes).
    approval_timeout: Mapped[float | None] = mapped_column(Float)
    approval_timeout_decision: Mapped[str | None] = mapped_column(String(32))


class Defaults(Base):
    """Controls and settings at scope `default`: one row, id 1."""

    __tablename__ = "defaults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    controls: Mapped[Json | None] = mapped_column(JSON)
    settings: Mapped[Json] = mapped_column(JSON, default=dict)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)


class TurnRow(Base):
    __tablename__ = "turns"

    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[float] = mapped_column(Float)
    completed_at: Mapped[float | None] = mapped_column(Float)
    error: Mapped[Json | None] = mapped_column(JSON)


class TranscriptEntry(Base):
    """One message of a session's transcript; ``seq`` keeps their order."""

    __tablename__ = "transcript_entries"
    __table_args__ = (
        Index("ix_transcript_session_message", "session_id", "message_id", unique=True),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(128))
    turn_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    details: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[float | None] = mapped_column(Float)
    completed_at: Mapped[float | None] = mapped_column(Float)


class ServerRequestRow(Base):
    """An approval, a tool-input request or a dynamic tool call the agent asked for.

    ``kind`` is ``approval``, ``tool_input`` or ``tool_call``; ``status`` ``pending``,
    ``resolved`` or ``expired`` (with ``expiry_reason``)."""

    __tablename__ = "server_requests"
    __table_args__ = (Index("ix_server_requests_session_status", "session_id", "status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    turn_id: Mapped[str | None] = mapped_column(String(64))
    item_id: Mapped[str | None] = mapped_column(String(128))
    params: Mapped[Json] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decision: Mapped[Json | None] = mapped_column(JSON)
    actor: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float)
    expiry_reason: Mapped[str | None] = mapped_column(Text)


class JobRow(Base):
    """A job of the orchestrator queue.

    ``state`` is ``queued``, ``running``, ``completed``, ``failed`` or ``canceled``;
    ``project_id`` is its owner (a project id, or ``session:<id>`` for a chat without a
    project). ``attempts`` counts the runs started; a job is not run again once it
    reached ``max_attempts``. ``run_after`` delays a retry."""

    __tablename__ = "orchestrator_jobs"
    __table_args__ = (
        Index("ix_orchestrator_jobs_state_created", "state", "created_at"),
        Index("ix_orchestrator_jobs_project_state", "project_id", "state"),
        Index("ix_orchestrator_jobs_dedupe", "dedupe_key", "state"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[str] = mapped_column(String(200))
    source_session_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str | None] = mapped_column(String(400))
    payload: Mapped[Json] = mapped_column(JSON)
    result: Mapped[Json | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[float] = mapped_column(Float)
    run_after: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float)
    completed_at: Mapped[float | None] = mapped_column(Float)
    #: The ``cluster_processes`` id of the process running it (while ``running``).
    runner_id: Mapped[str | None] = mapped_column(String(64))


class WorkerSessionRow(Base):
    """The system-owned session in which an agent runs the jobs of one owner."""

    __tablename__ = "worker_sessions"

    owner_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    agent: Mapped[str] = mapped_column(String(128), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)


class SuggestedRequestRow(Base):
    """The state of one suggested request of a chat (``requestKey``), as the suggest
    jobs and the upsert route leave it: ``streaming``, ``complete`` (with its
    ``suggestion``), ``error`` (with its ``error``) or ``canceled``."""

    __tablename__ = "suggested_requests"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_key: Mapped[str] = mapped_column(String(400), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    suggestion: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float)


class ProcessRow(Base):
    """One ``codexkit serve`` process of a cluster (PostgreSQL only).

    ``role`` is ``api``, ``runner`` or ``all``; ``url`` is where the others reach it
    (``--advertise-url``); ``host`` names its machine and pid namespace, so a process
    restarted there can tell its killed predecessor is gone. It is alive while
    ``heartbeat_at`` is younger than the lease time and ``stopped_at`` is unset."""

    __tablename__ = "cluster_processes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(400))
    host: Mapped[str] = mapped_column(String(400))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
    stopped_at: Mapped[float | None] = mapped_column(Float)


class LeaseRow(Base):
    """The process that runs a session until ``expires_at`` (renewed by its heartbeat)."""

    __tablename__ = "session_leases"
    __table_args__ = (Index("ix_session_leases_process", "process_id"),)

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    process_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float)
    claimed_at: Mapped[float] = mapped_column(Float)


class ClusterSetting(Base):
    """What every process of a cluster must agree on (``codex_home_id``)."""

    __tablename__ = "cluster_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(400))
