"""The orchestrator's durable job queue and the worker sessions its jobs run in."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orchestrator_jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("project_id", sa.String(200), nullable=False),
        sa.Column("source_session_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("dedupe_key", sa.String(400), nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("timeout", sa.Float, nullable=False),
        sa.Column("run_after", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("completed_at", sa.Float, nullable=True),
    )
    op.create_index(
        "ix_orchestrator_jobs_state_created", "orchestrator_jobs", ["state", "created_at"]
    )
    op.create_index(
        "ix_orchestrator_jobs_project_state", "orchestrator_jobs", ["project_id", "state"]
    )
    op.create_index("ix_orchestrator_jobs_dedupe", "orchestrator_jobs", ["dedupe_key", "state"])
    op.create_table(
        "worker_sessions",
        sa.Column("owner_id", sa.String(200), primary_key=True),
        sa.Column("agent", sa.String(128), primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("worker_sessions")
    op.drop_index("ix_orchestrator_jobs_dedupe", "orchestrator_jobs")
    op.drop_index("ix_orchestrator_jobs_project_state", "orchestrator_jobs")
    op.drop_index("ix_orchestrator_jobs_state_created", "orchestrator_jobs")
    op.drop_table("orchestrator_jobs")
