"""The first schema: projects, sessions, defaults, turns, transcript, server requests."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("cwd", sa.Text, nullable=False),
        sa.Column(
            "project_id",
            sa.String(64),
            sa.ForeignKey("projects.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("deleted_at", sa.Float, nullable=True),
        sa.Column("system_owned", sa.Boolean, nullable=False),
        sa.Column("materialized", sa.Boolean, nullable=False),
        sa.Column("model_provider", sa.String(200), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("controls", sa.JSON, nullable=True),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("dynamic_tools", sa.JSON, nullable=True),
    )
    op.create_index("ix_sessions_project_id", "sessions", ["project_id"])
    op.create_table(
        "defaults",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("controls", sa.JSON, nullable=True),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("locked", sa.Boolean, nullable=False),
    )
    op.create_table(
        "turns",
        sa.Column(
            "session_id",
            sa.String(64),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("completed_at", sa.Float, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
    )
    op.create_table(
        "transcript_entries",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "session_id",
            sa.String(64),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("turn_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("details", sa.Text, nullable=True),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("completed_at", sa.Float, nullable=True),
    )
    op.create_index(
        "ix_transcript_session_message",
        "transcript_entries",
        ["session_id", "message_id"],
        unique=True,
    )
    op.create_table(
        "server_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("method", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("turn_id", sa.String(64), nullable=True),
        sa.Column("item_id", sa.String(128), nullable=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decision", sa.JSON, nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("source", sa.String(200), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float, nullable=True),
        sa.Column("expiry_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_server_requests_session_id", "server_requests", ["session_id"])
    op.create_index(
        "ix_server_requests_session_status", "server_requests", ["session_id", "status"]
    )


def downgrade() -> None:
    for table in (
        "server_requests",
        "transcript_entries",
        "turns",
        "defaults",
        "sessions",
        "projects",
    ):
        op.drop_table(table)
