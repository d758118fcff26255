"""What ``codexkit serve`` keeps: SQLAlchemy tables, Alembic migrations, repositories."""

from __future__ import annotations

from .engine import default_url, make_engine, migrate
from .repos import Store, open_store

__all__ = ["Store", "default_url", "make_engine", "migrate", "open_store"]
