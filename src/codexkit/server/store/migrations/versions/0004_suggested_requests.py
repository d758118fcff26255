"""The state of each chat's suggested requests, kept across restarts."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suggested_requests",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("request_key", sa.String(400), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("suggestion", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("suggested_requests")
