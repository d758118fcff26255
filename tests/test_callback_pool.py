"""The threads that run plain callbacks and tools: bounded, never joined at exit."""

from __future__ import annotations

import threading

import pytest

from codexkit import AsyncCodex
from codexkit._workers import CallbackPool, reset_pool, run_plain, using_pool


def _pool_threads(pool_name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(pool_name)]


def test_the_pool_runs_at_most_its_size_at_once_and_its_threads_are_daemons() -> None:
    pool = CallbackPool(2, name="sized-pool")
    release = threading.Event()
    first = [pool.submit(release.wait, 10) for _ in range(2)]
    third = pool.submit(lambda: "ran")
    assert not third.done()  # both threads are busy
    assert all(t.daemon for t in _pool_threads("sized-pool"))
    release.set()
    assert third.result(timeout=10) == "ran"
    assert [f.result(timeout=10) for f in first] == [True, True]
    pool.close()


def test_close_ends_idle_threads_and_the_pool_still_works() -> None:
    pool = CallbackPool(4, name="closing-pool")
    assert [pool.submit(lambda n=n: n).result(timeout=10) for n in range(3)] == [0, 1, 2]
    pool.close()
    for thread in _pool_threads("closing-pool"):
        thread.join(timeout=10)
    assert _pool_threads("closing-pool") == []
    assert pool.submit(lambda: "again").result(timeout=10) == "again"
    pool.close()


def test_a_call_cancelled_before_a_thread_takes_it_never_runs() -> None:
    pool = CallbackPool(1, name="cancel-pool")
    release = threading.Event()
    busy = pool.submit(release.wait, 10)
    ran: list[str] = []
    queued = pool.submit(ran.append, "late")
    assert queued.cancel()
    release.set()
    assert busy.result(timeout=10)
    assert pool.submit(lambda: "after").result(timeout=10) == "after"
    assert ran == []
    pool.close()


async def test_run_plain_uses_the_pool_of_its_context() -> None:
    pool = CallbackPool(1, name="context-pool")
    token = using_pool(pool)
    try:
        name = await run_plain(lambda: threading.current_thread().name)
    finally:
        reset_pool(token)
    assert name.startswith("context-pool")
    pool.close()


@pytest.mark.parametrize(
    ("size", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_callback_workers_must_be_a_positive_integer(size: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="callback_workers"):
        AsyncCodex(callback_workers=size)  # type: ignore[arg-type]
