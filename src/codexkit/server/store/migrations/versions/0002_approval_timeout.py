"""A per-session approval timeout: after it, a pending request is decided the configured
way and the reason recorded."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("approval_timeout", sa.Float, nullable=True))
        batch.add_column(sa.Column("approval_timeout_decision", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("approval_timeout_decision")
        batch.drop_column("approval_timeout")
