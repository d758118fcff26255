"""The routes of ``codexkit serve``, one module per domain of the contract.

``ROUTERS`` is what ``create_app`` includes, in order: a new domain (sessions,
approvals, projects, the websocket) is one module and one line here. Routes are declared
with ``_common.contract_route``, which takes path, method and statuses from the contract.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import (
    account,
    auth,
    automation,
    catalog,
    commands,
    config,
    controls,
    projects,
    requests,
    sessions,
    stream,
    system,
    turns,
)

__all__ = ["ROUTERS"]

ROUTERS: list[APIRouter] = [
    system.router,
    auth.router,
    account.router,
    config.router,
    catalog.router,
    commands.router,
    automation.router,
    sessions.router,
    turns.router,
    controls.router,
    requests.router,
    projects.router,
    stream.router,
]
