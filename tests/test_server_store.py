"""The control plane's store on real SQLite and a real PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from support.postgres import postgres_cluster, postgres_url  # noqa: F401 (fixtures)

from codexkit.server.store import Store, default_url, make_engine, migrate, open_store
from codexkit.server.store.models import Base, ServerRequestRow, SessionRow, SuggestedRequestRow


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return default_url(tmp_path)
    value: str = request.getfixturevalue("postgres_url")
    return value


@pytest.fixture
async def store(url: str) -> AsyncIterator[Store]:
    opened = await open_store(url)
    yield opened
    await opened.close()


def _schema_diff(connection: Any) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _session(session_id: str, **fields: Any) -> SessionRow:
    now = time.time()
    values: dict[str, Any] = dict(
        id=session_id,
        title="t",
        cwd="/tmp",
        archived=False,
        system_owned=False,
        materialized=False,
        model_provider="mock",
        source="appServer",
        created_at=now,
        updated_at=now,
        settings={},
    )
    values.update(fields)
    return SessionRow(**values)


def _request(request_id: str, session_id: str = "s1") -> ServerRequestRow:
    return ServerRequestRow(
        id=request_id,
        kind="approval",
        method="item/commandExecution/requestApproval",
        session_id=session_id,
        params={"command": "ls"},
        summary="ls",
        status="pending",
        created_at=time.time(),
    )


async def test_a_fresh_database_matches_the_models(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


_OPEN_STORE = """
import asyncio, sys
from codexkit.server.store import open_store

async def main() -> None:
    store = await open_store(sys.argv[1])
    await store.close()

asyncio.run(main())
"""


async def test_servers_starting_at_once_on_a_fresh_postgresql_database_all_open_it(
    request: pytest.FixtureRequest,
) -> None:
    # Four processes migrate a fresh database at the same moment: they take turns.
    url: str = request.getfixturevalue("postgres_url")
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _OPEN_STORE, url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(4)
    ]
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(process.communicate() for process in processes)), 120
    )
    failed = [
        err.decode()[-500:] for (_, err), p in zip(outcomes, processes, strict=True) if p.returncode
    ]
    assert failed == []
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


async def test_an_upgraded_database_matches_the_models_and_keeps_its_rows(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine, "0001")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO sessions (id, title, cwd, archived, system_owned, materialized,"
                    " model_provider, source, created_at, updated_at, settings) VALUES"
                    " ('old', 'kept', '/tmp', false, false, true, 'mock', 'appServer', 1, 1,"
                    " '{}')"
                )
            )
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_diff) == []
        store = Store(engine)
        row = await store.sessions.get("old")
        assert row is not None
        assert row.title == "kept"
        assert row.approval_timeout is None
    finally:
        await engine.dispose()


async def test_reopening_applies_nothing_twice(url: str) -> None:
    first = await open_store(url)
    await first.sessions.add(_session("s1"))
    await first.close()
    second = await open_store(url)
    try:
        assert [s.id for s in await second.sessions.list()] == ["s1"]
    finally:
        await second.close()


async def test_sessions_list_filters_and_soft_delete(store: Store) -> None:
    await store.sessions.add(_session("a", created_at=1))
    await store.sessions.add(_session("b", created_at=2))
    await store.sessions.add(_session("c", created_at=3, archived=True))
    assert [s.id for s in await store.sessions.list()] == ["b", "a"]
    assert [s.id for s in await store.sessions.list(archived=True)] == ["c"]
    updated = await store.sessions.update("a", deleted_at=5.0, settings={"x": {"y": 1}})
    assert updated is not None
    assert updated.settings == {"x": {"y": 1}}
    assert [s.id for s in await store.sessions.list()] == ["b"]
    assert await store.sessions.update("nope", title="x") is None


async def test_a_request_is_resolved_exactly_once_under_a_race(store: Store) -> None:
    await store.requests.add(_request("r1"))
    wins = await asyncio.gather(
        *(
            store.requests.resolve("r1", {"decision": d}, actor=d, source="test")
            for d in ("accept", "decline", "cancel", "accept")
        )
    )
    assert sorted(wins) == [False, False, False, True]
    row = await store.requests.get("r1")
    assert row is not None
    assert row.status == "resolved"
    assert row.decision is not None
    assert row.actor == row.decision["decision"]
    assert not await store.requests.expire("r1", "too late")


async def test_the_first_reads_of_the_defaults_race_without_failing(store: Store) -> None:
    """A fresh database: many requests at once each find no defaults row and make it."""
    rows = await asyncio.gather(*(store.defaults.get() for _ in range(20)))
    assert {(row.id, row.locked) for row in rows} == {(1, False)}


async def test_expiring_pending_requests_records_the_reason(store: Store) -> None:
    for request_id in ("r1", "r2", "r3"):
        await store.requests.add(_request(request_id))
    assert await store.requests.resolve("r2", {"decision": "accept"}, actor=None, source=None)
    expired = await store.requests.expire_pending("the app-server that asked is gone")
    assert sorted(expired) == ["r1", "r3"]
    assert await store.requests.list("s1", "approval") == []
    rows = {r.id: r for r in await store.requests.list("s1", "approval", status=None)}
    assert rows["r1"].status == "expired"
    assert rows["r1"].expiry_reason == "the app-server that asked is gone"
    assert rows["r2"].status == "resolved"
    assert rows["r2"].expiry_reason is None


async def test_projects_names_are_unique_and_deleting_unassigns(store: Store) -> None:
    project = await store.projects.add("p1", "alpha")
    assert project is not None
    assert await store.projects.add("p2", "alpha") is None
    await store.sessions.add(_session("s1", project_id="p1"))
    assert [s.id for s in await store.sessions.in_project("p1")] == ["s1"]
    assert await store.projects.remove("p1")
    row = await store.sessions.get("s1")
    assert row is not None
    assert row.project_id is None
    assert not await store.projects.remove("p1")


async def test_transcript_entries_update_in_place_and_keep_order(store: Store) -> None:
    await store.sessions.add(_session("s1"))
    common = dict(turn_id="t1", type="agentMessage", details=None)
    await store.transcript.put("s1", "u1", role="user", content="hi", status="complete", **common)
    await store.transcript.put(
        "s1", "m1", role="assistant", content="", status="streaming", **common
    )
    await store.transcript.put("s1", "m1", content="hello", status="complete")
    entries = await store.transcript.list("s1")
    assert [(e.message_id, e.content, e.status) for e in entries] == [
        ("u1", "hi", "complete"),
        ("m1", "hello", "complete"),
    ]


async def test_turns_record_status_and_defaults_lock(store: Store) -> None:
    await store.sessions.add(_session("s1"))
    await store.turns.put("s1", "t1", "inProgress")
    assert [t.id for t in await store.turns.unfinished()] == ["t1"]
    await store.turns.put("s1", "t1", "completed", completed_at=time.time())
    turn = await store.turns.get("s1", "t1")
    assert turn is not None
    assert turn.status == "completed"
    assert turn.completed_at is not None
    assert (await store.defaults.get()).locked is False
    assert (await store.defaults.update(locked=True)).locked is True
    assert (await store.defaults.get()).locked is True


async def test_a_write_batch_is_all_or_nothing_and_says_when_it_committed(store: Store) -> None:
    """What a batch wrote is kept only if it commits, and only then are the ones that
    remember it outside the database told (a cache must not run ahead of the store)."""
    await store.sessions.add(_session("s1"))
    told: list[str] = []

    async def failing_batch() -> None:
        async with store.writes() as writes:
            await writes.start_turn("s1", "t1")
            await writes.update_session("s1", materialized=True)
            writes.on_commit(lambda: told.append("rolled back"))
            raise RuntimeError("a later write of the batch failed")

    with pytest.raises(RuntimeError):
        await failing_batch()
    assert await store.turns.unfinished("s1") == []
    row = await store.sessions.get("s1")
    assert row is not None
    assert row.materialized is False
    assert told == []
    async with store.writes() as writes:
        await writes.start_turn("s1", "t1")
        await writes.update_session("s1", materialized=True)
        writes.on_commit(lambda: told.append("committed"))
        assert told == []  # not before the commit
    assert told == ["committed"]
    assert [t.id for t in await store.turns.unfinished("s1")] == ["t1"]
    row = await store.sessions.get("s1")
    assert row is not None
    assert row.materialized is True


async def test_reads_see_a_batch_only_once_it_commits_and_a_refused_write_is_typed(
    store: Store,
) -> None:
    """A session read while a batch is open sees what was committed before it (on SQLite
    the batch and the reads use connections of their own), and a statement the database
    refuses raises SQLAlchemy's error type, whichever path ran it."""
    await store.sessions.add(_session("s1"))
    async with store.writes() as writes:
        await writes.update_session("s1", title="renamed")
        await writes.put_entry(
            "s1", "m1", turn_id="t1", role="user", type="userMessage", status="complete"
        )
        seen = await store.sessions.get("s1")
        assert seen is not None
        assert seen.title == "t"
    row = await store.sessions.get("s1")
    assert row is not None
    assert row.title == "renamed"
    [entry] = await store.transcript.list("s1")
    assert (entry.message_id, entry.content) == ("m1", "")  # the column's default
    with pytest.raises(IntegrityError):  # no such session: the foreign key refuses it
        async with store.writes() as writes:
            await writes.start_turn("no-such-session", "t1")
    assert await store.turns.unfinished() == []


async def test_suggested_requests_outlive_the_store_and_a_chat_keeps_its_latest(url: str) -> None:
    first = await open_store(url)
    try:
        await first.suggestions.put(_suggestion("k1", "streaming", 1.0))
        await first.suggestions.put(_suggestion("k1", "complete", 2.0, suggestion="Run it"))
    finally:
        await first.close()
    second = await open_store(url)
    try:
        kept = await second.suggestions.get("s1", "k1")
        assert kept is not None
        assert (kept.status, kept.suggestion, kept.updated_at) == ("complete", "Run it", 2.0)
        limit = second.suggestions.PER_SESSION
        for n in range(limit):
            await second.suggestions.put(_suggestion(f"n{n}", "canceled", 10.0 + n))
        assert await second.suggestions.get("s1", "k1") is None  # the oldest went
        assert await second.suggestions.get("s1", "n0") is not None
    finally:
        await second.close()


def _suggestion(key: str, status: str, at: float, **fields: Any) -> SuggestedRequestRow:
    return SuggestedRequestRow(
        session_id="s1", request_key=key, status=status, updated_at=at, **fields
    )


async def test_of_processes_claiming_one_lease_at_once_exactly_one_wins(store: Store) -> None:
    from sqlalchemy import update

    from codexkit.server.store.models import ProcessRow

    now = time.time()
    for name in ("a", "b", "c", "d"):
        await store.cluster.register(
            ProcessRow(id=name, role="all", url=f"http://{name}", host="h", pid=1,
                       started_at=now, heartbeat_at=now, stopped_at=None)
        )  # fmt: skip
    holders = await asyncio.gather(
        *(store.cluster.claim("s1", name, 30.0) for name in ("a", "b", "c", "d"))
    )
    [winner] = set(holders)  # every claimer sees the same holder
    assert (await store.cluster.lease("s1")).process_id == winner  # type: ignore[union-attr]
    # A live holder keeps it; once the holder is gone, the lease is free before expiry.
    other = next(name for name in ("a", "b", "c", "d") if name != winner)
    assert await store.cluster.claim("s1", other, 30.0) == winner
    async with store.engine.begin() as db:  # the winner's heartbeat stops: 100 s old
        await db.execute(
            update(ProcessRow).where(ProcessRow.id == winner).values(heartbeat_at=now - 100)
        )
    assert [lease.session_id for lease in await store.cluster.lapsed(30.0)] == ["s1"]
    assert await store.cluster.claim("s1", other, 30.0) == other
