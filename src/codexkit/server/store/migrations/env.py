"""Alembic's entry point, run by :func:`codexkit.server.store.engine.migrate` with the
connection it opened (never from a command line URL: the server owns its database)."""

from __future__ import annotations

from alembic import context

from codexkit.server.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
