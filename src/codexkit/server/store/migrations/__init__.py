"""Alembic migrations of the control plane's database, applied by ``migrate``."""
