"""Several ``codexkit serve`` processes on one database: who runs (``cluster_processes``),
which process runs each session (``session_leases``), the id of the shared
``CODEX_HOME`` (``cluster_settings``), and which process runs each job
(``orchestrator_jobs.runner_id``)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_processes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("url", sa.String(400), nullable=False),
        sa.Column("host", sa.String(400), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
        sa.Column("stopped_at", sa.Float, nullable=True),
    )
    op.create_table(
        "session_leases",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("process_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("claimed_at", sa.Float, nullable=False),
    )
    op.create_index("ix_session_leases_process", "session_leases", ["process_id"])
    op.create_table(
        "cluster_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(400), nullable=False),
    )
    op.add_column("orchestrator_jobs", sa.Column("runner_id", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("orchestrator_jobs", "runner_id")
    op.drop_table("cluster_settings")
    op.drop_index("ix_session_leases_process", "session_leases")
    op.drop_table("session_leases")
    op.drop_table("cluster_processes")
