"""The event hub: filters, bounded subscribers, and replay after a reconnect; a
session's ordered jobs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from codexkit.server.runtime import EventHub, Frame, Subscription
from codexkit.server.runtime.naming import notification_type, request_type
from codexkit.server.runtime.ordered import MAX_BATCH, OrderedJobs


def test_method_names_become_the_contracts_event_types() -> None:
    assert notification_type("item/agentMessage/delta") == "app_server.item.agent_message.delta"
    assert notification_type("thread/tokenUsage/updated") == "app_server.thread.token_usage.updated"
    assert (
        request_type("item/fileChange/requestApproval")
        == "app_server.request.item.file_change.request_approval"
    )
    assert request_type("item/tool/call") == "app_server.request.item.tool.call"


async def test_a_thread_filter_sees_its_thread_and_broadcasts_only() -> None:
    hub = EventHub()
    mine, _ = hub.subscribe("t1")
    everyone, _ = hub.subscribe()
    hub.publish("a", "t1", 1)
    hub.publish("b", "t2", 2)
    hub.publish("c", None, 3)
    hub.publish("account_updated", None, 4, broadcast=True)
    hub.publish("d", "t1", 5, private=True)
    assert [f.type for f in _drain(mine)] == ["a", "account_updated", "d"]
    # Unfiltered: all but the system-owned session's private frame.
    assert [f.type for f in _drain(everyone)] == ["a", "b", "c", "account_updated"]


async def test_a_slow_subscriber_is_dropped_with_a_reason_and_others_go_on() -> None:
    hub = EventHub(queue_size=3)
    slow, _ = hub.subscribe()
    fast, _ = hub.subscribe()
    for n in range(3):
        hub.publish("e", "t", n)
        assert await fast.get(timeout=1) is not None
    hub.publish("e", "t", 3)
    assert slow.dropped is not None
    assert "3 frames waited unread" in slow.dropped
    assert await slow.get(timeout=1) is None  # its stream ends
    assert hub.subscribers == 1
    frame = await fast.get(timeout=1)
    assert frame is not None
    assert frame.payload == 3


async def test_a_reconnecting_client_gets_what_it_missed_in_order() -> None:
    hub = EventHub()
    first, _ = hub.subscribe("t1")
    hub.publish("x", "t1", 1)
    hub.publish("y", "t2", 2)
    last_seen = _drain(first)[-1].seq
    first.close()
    hub.publish("x", "t1", 3)  # while disconnected
    hub.publish("y", "t2", 4)
    hub.publish("account_updated", None, 5, broadcast=True)
    again, replay = hub.subscribe("t1", since=last_seen)
    assert replay is not None
    assert replay.complete
    hub.publish("x", "t1", 6)  # after reconnecting: after the replay, not doubled
    assert [f.payload for f in _drain(again)] == [3, 5, 6]
    seqs = [f.seq for f in replay.frames]
    assert seqs == sorted(seqs)


async def test_a_replay_that_no_longer_reaches_back_says_so() -> None:
    hub = EventHub(replay_per_thread=2)
    for n in range(5):
        hub.publish("x", "t1", n)
    _, replay = hub.subscribe("t1", since=1)
    assert replay is not None
    assert not replay.complete
    assert [f.payload for f in replay.frames] == [3, 4]
    _, recent = hub.subscribe("t1", since=hub.last_seq - 1)
    assert recent is not None
    assert recent.complete


@pytest.mark.parametrize("limit", [1, 2])
async def test_the_replay_log_is_bounded(limit: int) -> None:
    hub = EventHub(replay_per_thread=limit)
    for n in range(10):
        hub.publish("x", "t1", n)
    assert len(hub.replay(0, "t1").frames) == limit


def test_the_replay_logs_of_all_threads_share_one_bound() -> None:
    hub = EventHub(replay_total=5)
    for n in range(4):
        hub.publish("x", "quiet", n)
    for n in range(4):
        hub.publish("x", "busy", n)
    kept = hub.replay(0)
    assert len(kept.frames) == 5
    assert not kept.complete
    assert [f.thread_id for f in kept.frames] == ["quiet"] + ["busy"] * 4  # oldest go first
    recent = hub.replay(hub.last_seq - 4, "busy")
    assert [f.payload for f in recent.frames] == [0, 1, 2, 3]
    assert recent.complete


def _drain(subscription: Subscription) -> list[Frame]:
    return subscription.ready()


def test_a_frame_over_a_mebibyte_goes_out_without_its_params() -> None:
    hub = EventHub()
    envelope = {"method": "item/completed", "requestId": None, "params": {"x": "y" * (2 << 20)}}
    big = hub.publish("app_server.item.completed", "t1", envelope)
    sent = json.loads(big.text())
    assert len(big.text()) < 1 << 20
    assert sent["payload"]["truncated"] is True
    assert sent["payload"]["method"] == "item/completed"
    assert sent["payload"]["params"] is None
    assert sent["seq"] == big.seq
    small = hub.publish("x", "t1", {"params": {"a": 1}})
    assert json.loads(small.text())["payload"] == {"params": {"a": 1}}


# -- a session's jobs -------------------------------------------------------------------


async def test_notifications_that_pile_up_are_handled_in_batches_in_order() -> None:
    """Items given while the session's previous job runs are handed over together, and a
    job given between them splits the batch: everything stays in arrival order."""
    jobs = OrderedJobs()
    release = asyncio.Event()
    seen: list[Any] = []

    async def slow() -> None:
        await release.wait()
        seen.append("slow")

    async def handle(key: str, items: list[Any]) -> None:
        seen.append((key, list(items)))

    async def other() -> None:
        seen.append("other")

    jobs.submit("s", slow)
    for item in (1, 2, 3):
        jobs.submit_batched("s", handle, item)
    jobs.submit("s", other)
    jobs.submit_batched("s", handle, 4)
    jobs.submit_batched("t", handle, 9)  # another session does not wait for this one
    await asyncio.wait_for(jobs.settled("t"), 5)
    assert seen == [("t", [9])]
    release.set()
    await asyncio.wait_for(jobs.settled("s"), 5)
    assert seen == [("t", [9]), "slow", ("s", [1, 2, 3]), "other", ("s", [4])]


async def test_a_batch_is_bounded() -> None:
    jobs = OrderedJobs()
    release = asyncio.Event()
    sizes: list[int] = []

    async def hold() -> None:
        await release.wait()

    async def handle(key: str, items: list[Any]) -> None:
        sizes.append(len(items))

    jobs.submit("s", hold)
    for item in range(MAX_BATCH + 1):
        jobs.submit_batched("s", handle, item)
    release.set()
    await asyncio.wait_for(jobs.settled("s"), 5)
    assert sizes == [MAX_BATCH, 1]


def test_a_tap_sees_every_frame_at_once_and_a_failing_one_stops_nothing() -> None:
    hub = EventHub()
    seen: list[str] = []

    def broken(frame: Frame) -> None:
        raise RuntimeError("a bug in a tap")

    untap = hub.tap(lambda frame: seen.append(frame.type))
    hub.tap(broken)
    hub.publish("one", "t", {})
    hub.publish("two", "private-thread", {}, private=True)
    assert seen == ["one", "two"]  # private frames too, in the publisher's step
    assert hub.subscribers == 0  # a tap is not a subscriber
    untap()
    hub.publish("three", "t", {})
    assert seen == ["one", "two"]


def test_on_a_bus_frames_are_numbered_elsewhere_and_delivered_once_in_order() -> None:
    """On PostgreSQL the hub hands what it publishes to the bus and fans out only what
    the bus delivers, numbered: a frame delivered twice reaches a subscriber once."""
    hub = EventHub()
    relayed: list[Frame] = []
    tapped: list[str] = []
    hub.tap(lambda frame: tapped.append(frame.type))
    hub.relay(relayed.append, since=40)
    subscription, _ = hub.subscribe("t")
    hub.publish("mine", "t", {"n": 1})
    assert [f.type for f in relayed] == ["mine"]
    assert tapped == ["mine"]  # this process's automation sees it at once
    assert subscription.pending() == 0  # not before the bus numbered it
    assert hub.deliver(Frame(42, "mine", "t", {"n": 1}))
    assert hub.deliver(Frame(45, "theirs", "t", {"n": 2}))
    assert not hub.deliver(Frame(45, "theirs", "t", {"n": 2}))
    assert [(f.seq, f.type) for f in _drain(subscription)] == [(42, "mine"), (45, "theirs")]
    assert tapped == ["mine"]  # another process's frame: its automation ran there
    assert hub.last_seq == 45
    assert hub.replay(42, "t").complete
    assert not hub.replay(39, "t").complete  # before this hub listened


def test_frames_the_bus_lost_end_every_subscription_and_every_replay_before() -> None:
    hub = EventHub()
    hub.relay(lambda frame: None, since=0)
    subscription, _ = hub.subscribe()
    hub.deliver(Frame(1, "a", "t", {}))
    hub.lost(7, "events were lost")
    assert subscription.dropped == "events were lost"
    assert subscription.closed
    hub.deliver(Frame(8, "b", "t", {}))
    assert [f.seq for f in hub.replay(7, "t").frames] == [8]
    assert hub.replay(7, "t").complete
    assert not hub.replay(1, "t").complete  # 2..7 may have existed


def test_a_client_ahead_of_this_process_gets_nothing_twice() -> None:
    """Reconnected to a process whose hub has not yet delivered what the client saw on
    another one: the frames up to its ``since`` are not sent again, and ``ready`` does
    not go back (which would read as a server started afresh)."""
    hub = EventHub()
    hub.relay(lambda frame: None, since=0)
    hub.deliver(Frame(1, "a", "t", {}))
    subscription, replay = hub.subscribe("t", since=3)
    assert replay is not None
    assert replay.frames == []
    assert hub.ready_seq(3) == 3
    for seq in (2, 3, 4):
        hub.deliver(Frame(seq, "a", "t", {}))
    assert [f.seq for f in _drain(subscription)] == [4]


def test_without_a_bus_a_since_from_an_earlier_run_still_gets_new_frames() -> None:
    hub = EventHub()  # SQLite: seqs start again at 1 when the server does
    subscription, _ = hub.subscribe("t", since=500)
    assert hub.ready_seq(500) == 0
    hub.publish("a", "t", {})
    assert [f.seq for f in _drain(subscription)] == [1]
