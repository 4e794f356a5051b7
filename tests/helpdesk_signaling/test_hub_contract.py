"""The hub contract, run on the memory backend and on Redis (two hubs = two server processes)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from helpdesk_signaling.errors import SignalingError
from helpdesk_signaling.hub import CLOSE_REPLACED, Hub, Room
from helpdesk_signaling.protocol import Chat, SignalRelay
from helpdesk_signaling.redis_hub import RedisHub

from .conftest import FakeConn, HubFactory, eventually

A, B, C = "a:1", "s:2", "a:3"


def sig(n: int) -> SignalRelay:
    return SignalRelay.model_validate({"room": "r1", "from": A, "candidate": {"candidate": f"candidate:{n}"}})


async def test_send_reaches_only_a_connected_member(hub_factory: HubFactory) -> None:
    hub = await hub_factory()
    ca = FakeConn()
    await hub.connect(A, ca)
    assert await hub.send(A, {"type": "pong"})
    assert not await hub.send(B, {"type": "pong"})
    await eventually(lambda: ca.types() == ["pong"])
    assert await hub.is_online(A) and not await hub.is_online(B)
    assert await hub.online([A, B, C]) == {A}


async def test_relay_only_between_room_members(hub_factory: HubFactory) -> None:
    hub = await hub_factory()
    ca, cb, cc = FakeConn(), FakeConn(), FakeConn()
    for m, c in ((A, ca), (B, cb), (C, cc)):
        await hub.connect(m, c)
    room = await hub.open_room("r1", (A, B), {"work_order": "wo1"})
    assert room.peer_of(A) == B
    assert await hub.relay("r1", A, sig(1))
    await eventually(lambda: len(cb.texts) == 1)
    assert cb.messages[0]["from"] == A and ca.texts == []
    for room_id in ("r1", "nope"):
        with pytest.raises(SignalingError) as info:
            await hub.relay(room_id, C, sig(2))
        assert info.value.code == "not_in_room"
    assert cc.texts == []
    got = await hub.get_room("r1")
    assert got is not None and got.members == (A, B) and got.metadata == {"work_order": "wo1"}
    assert [r.id for r in await hub.rooms_of(B)] == ["r1"]


async def test_open_room_twice_is_a_conflict_and_close_forgets_it(hub_factory: HubFactory) -> None:
    hub = await hub_factory()
    await hub.open_room("r1", (A, B))
    with pytest.raises(SignalingError) as info:
        await hub.open_room("r1", (A, C))
    assert info.value.code == "conflict"
    closed = await hub.close_room("r1")
    assert closed is not None and closed.members == (A, B)
    assert await hub.close_room("r1") is None
    assert await hub.get_room("r1") is None and await hub.rooms_of(A) == []


async def test_new_socket_taking_over_a_live_one_is_a_drop_and_resume_for_the_peer(hub_factory: HubFactory) -> None:
    """A new page (reload, second tab, or the old socket not yet seen closed) has a new peer
    connection: the peer hears dropped then resumed (and renegotiates); the old socket's late close
    changes nothing."""
    hub = await hub_factory()
    heard = listen(hub)
    old, new, cb = FakeConn(), FakeConn(), FakeConn()
    await hub.connect(B, cb)
    await hub.open_room("r1", (A, B))
    await hub.connect(A, old)
    assert [r.id for r in await hub.connect(A, new)] == ["r1"]
    assert old.closed is not None and old.closed[0] == CLOSE_REPLACED
    assert await hub.disconnect(A, old, now=100.0, grace_s=30) == []  # the old socket's late close
    assert await hub.send(A, {"type": "pong"})
    await eventually(lambda: new.types() == ["pong"])
    await eventually(lambda: cb.types() == ["peer.dropped", "peer.resumed"])
    assert old.texts == [] and heard == [("r1", A, "dropped"), ("r1", A, "resumed")]


def listen(hub: Hub) -> list[tuple[str, str, str]]:
    """Attach a peer listener to the hub; returns what it hears."""
    heard: list[tuple[str, str, str]] = []

    async def on_peer(room: Room, member: str, kind: str) -> None:
        heard.append((room.id, member, kind))

    hub.on_peer = on_peer
    return heard


async def test_drop_then_resume_within_grace(hub_factory: HubFactory) -> None:
    hub = await hub_factory()
    heard = listen(hub)
    ca, cb = FakeConn(), FakeConn()
    await hub.connect(A, ca)
    await hub.connect(B, cb)
    await hub.open_room("r1", (A, B))
    dropped = await hub.disconnect(A, ca, now=100.0, grace_s=30)
    assert [r.id for r in dropped] == ["r1"]
    await eventually(lambda: cb.types() == ["peer.dropped"])
    assert cb.messages[0] == {"type": "peer.dropped", "room": "r1", "grace_s": 30}
    room = await hub.get_room("r1")
    assert room is not None and room.dropped == {A: 130.0}
    assert await hub.expire(129.9) == []
    resumed = await hub.connect(A, FakeConn())
    assert [r.id for r in resumed] == ["r1"]
    await eventually(lambda: cb.types() == ["peer.dropped", "peer.resumed"])
    assert await hub.expire(1000.0) == []  # the deadline was cleared, not just outlived
    room = await hub.get_room("r1")
    assert room is not None and room.dropped == {}
    assert heard == [("r1", A, "dropped"), ("r1", A, "resumed")]


async def test_expire_after_grace_closes_the_room_once(hub_factory: HubFactory) -> None:
    hub = await hub_factory()
    other = await hub_factory()  # on Redis: a second process sweeping at the same time
    ca, cb = FakeConn(), FakeConn()
    await hub.connect(A, ca)
    await hub.connect(B, cb)
    await hub.open_room("r1", (A, B), {"work_order": "wo1"})
    await hub.open_room("r2", (C, "s:9"))
    await hub.disconnect(A, ca, now=100.0, grace_s=30)
    first = await hub.expire(130.0)
    again = await other.expire(131.0)
    assert [(e.room.id, e.dropped, e.room.metadata) for e in first] == [("r1", [A], {"work_order": "wo1"})]
    assert again == []
    assert await hub.get_room("r1") is None and await hub.get_room("r2") is not None
    assert await hub.connect(A, FakeConn()) == []  # too late: nothing to resume


async def test_both_dropped_lists_earliest_first(hub_factory: HubFactory) -> None:
    hub = await hub_factory()
    ca, cb = FakeConn(), FakeConn()
    await hub.connect(A, ca)
    await hub.connect(B, cb)
    await hub.open_room("r1", (A, B))
    await hub.disconnect(B, cb, now=100.0, grace_s=30)
    await hub.disconnect(A, ca, now=105.0, grace_s=30)
    [expired] = await hub.expire(140.0)
    assert expired.dropped == [B, A]


async def test_cross_instance_delivery_keeps_order(hub_factory: HubFactory) -> None:
    """A on one process, B on another: 200 relays arrive in the order they were sent."""
    hub1, hub2 = await hub_factory(), await hub_factory()
    ca, cb = FakeConn(), FakeConn()
    await hub1.connect(A, ca)
    await hub2.connect(B, cb)
    await hub1.open_room("r1", (A, B))
    for n in range(200):
        assert await hub1.relay("r1", A, sig(n))
    await hub1.send(B, Chat(room="r1", text="done"))
    await eventually(lambda: len(cb.texts) == 201)
    assert [m["candidate"]["candidate"] for m in cb.messages[:200]] == [f"candidate:{n}" for n in range(200)]
    batch = [(B, {"type": "pong", "n": n}) for n in range(50)] + [(C, {"type": "pong"})]
    assert await hub1.send_many(batch) == 50  # nobody holds C
    await eventually(lambda: len(cb.texts) == 251)
    assert [m["n"] for m in cb.messages[201:]] == list(range(50))  # one batch, in order
    assert await hub2.relay("r1", B, sig(0))
    await eventually(lambda: len(ca.texts) == 1)


async def test_replacement_across_instances_closes_the_old_socket(hub_factory: HubFactory) -> None:
    hub1, hub2 = await hub_factory(), await hub_factory()
    old, new = FakeConn(), FakeConn()
    await hub1.connect(A, old)
    await hub1.connect(B, FakeConn())
    assert await hub2.online([A, B, C]) == {A, B}  # seen from another process too
    await hub2.connect(A, new)
    await eventually(lambda: old.closed is not None)
    assert await hub1.disconnect(A, old, now=1.0, grace_s=30) == []
    assert await hub1.send(A, {"type": "pong"})
    await eventually(lambda: new.types() == ["pong"])
    assert old.texts == []


@pytest.mark.redis
async def test_members_of_a_dead_process_are_dropped_by_the_sweep(redis_url: str, redis_prefix: str) -> None:
    """Process 1 dies without closing its sockets: process 2's sweep notices the silence."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    dead = RedisHub(client, redis_prefix, owner_ttl_s=60)
    alive = RedisHub(client, redis_prefix, owner_ttl_s=60)
    await alive.start()
    try:
        ca, cb = FakeConn(), FakeConn()
        await dead.connect(A, ca, now=1000.0)  # never started, never closes: a killed process
        await alive.connect(B, cb, now=1000.0)
        await alive.open_room("r1", (A, B))
        heard = listen(alive)
        await alive.touch(B, cb, 1050.0)
        assert await alive.expire(1059.0) == []
        assert cb.texts == []
        assert await alive.expire(1061.0) == []  # A is silent past owner_ttl_s: dropped, grace starts
        await eventually(lambda: cb.types() == ["peer.dropped"])
        room = await alive.get_room("r1")
        assert room is not None and room.dropped == {A: 1091.0}
        assert heard == [("r1", A, "dropped")]  # the process that noticed is the one that records
        [expired] = await alive.expire(1091.0)
        assert expired.dropped == [A]
    finally:
        await alive.close()
        keys = [k async for k in client.scan_iter(match=redis_prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.mark.redis
async def test_return_through_another_process_before_the_sweep_is_a_drop_and_resume(
        redis_url: str, redis_prefix: str) -> None:
    """A's process dies and A reconnects through process 2 at once, before anyone noticed the silence:
    the peer still hears peer.dropped then peer.resumed (its side restarts ICE), and the listener of
    the process that saw it records both."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    dead = RedisHub(client, redis_prefix, owner_ttl_s=60, grace_s=20)
    alive = RedisHub(client, redis_prefix, owner_ttl_s=60, grace_s=20)
    await alive.start()
    try:
        cb = FakeConn()
        await dead.connect(A, FakeConn(), now=1000.0)  # never closes: its process was killed
        await alive.connect(B, cb, now=1000.0)
        await alive.open_room("r1", (A, B))
        heard = listen(alive)
        resumed = await alive.connect(A, FakeConn(), now=1005.0)
        assert [r.id for r in resumed] == ["r1"]
        await eventually(lambda: cb.types() == ["peer.dropped", "peer.resumed"])
        assert cb.messages[0] == {"type": "peer.dropped", "room": "r1", "grace_s": 20}
        assert heard == [("r1", A, "dropped"), ("r1", A, "resumed")]
        assert await alive.expire(1100.0) == []  # A is live again: nothing to sweep
        assert cb.types() == ["peer.dropped", "peer.resumed"]
    finally:
        await alive.close()
        keys = [k async for k in client.scan_iter(match=redis_prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


D, E = "s:4", "s:5"


async def test_rooms_of_up_to_four_members_relay_to_all_or_to_one(hub_factory: HubFactory) -> None:
    """A consult or conference adds members; a signal names its receiver (`to`), anything else goes to
    every other member; a fifth is refused and a member that left hears nothing more."""
    hub = await hub_factory()
    conns = {m: FakeConn() for m in (A, B, C, D, E)}
    for m, c in conns.items():
        await hub.connect(m, c)
    await hub.open_room("r1", (A, B))
    room = await hub.add_member("r1", C)
    assert room.members == (A, B, C) and room.others(A) == [B, C]
    assert (await hub.add_member("r1", C)).members == (A, B, C)  # idempotent
    await hub.add_member("r1", D)
    with pytest.raises(SignalingError) as info:
        await hub.add_member("r1", E)
    assert info.value.code == "conflict"
    assert [r.id for r in await hub.rooms_of(D)] == ["r1"]
    assert await hub.relay("r1", A, sig(1), to=C)
    assert await hub.relay("r1", A, sig(2))
    await eventually(lambda: len(conns[B].texts) == 1 and len(conns[D].texts) == 1 and len(conns[C].texts) == 2)
    with pytest.raises(SignalingError) as info:
        await hub.relay("r1", A, sig(3), to=E)  # not a member
    assert info.value.code == "not_in_room"
    with pytest.raises(SignalingError):
        await hub.relay("r1", A, sig(3), to=A)  # not another member
    room = await hub.remove_member("r1", B)
    assert room.members == (A, C, D) and await hub.rooms_of(B) == []
    with pytest.raises(SignalingError) as info:
        await hub.relay("r1", B, sig(4))
    assert info.value.code == "not_in_room"
    assert set((await hub.add_member("r1", E)).members) == {A, C, D, E}
    await hub.remove_member("r1", E)
    await hub.remove_member("r1", D)
    with pytest.raises(SignalingError) as info:
        await hub.remove_member("r1", C)  # two left: the call ends with a hang-up instead
    assert info.value.code == "conflict"
    closed = await hub.close_room("r1")
    assert closed is not None and set(closed.members) == {A, C}
    assert [await hub.rooms_of(m) for m in (A, B, C, D, E)] == [[]] * 5


async def test_a_drop_in_a_room_of_three_names_the_member_to_both_others(hub_factory: HubFactory) -> None:
    hub = await hub_factory()
    ca, cb, cc = FakeConn(), FakeConn(), FakeConn()
    for m, c in ((A, ca), (B, cb), (C, cc)):
        await hub.connect(m, c)
    await hub.open_room("r1", (A, B))
    await hub.add_member("r1", C)
    await hub.disconnect(C, cc, now=100.0, grace_s=30)
    await eventually(lambda: ca.types() == ["peer.dropped"] and cb.types() == ["peer.dropped"])
    assert ca.messages[0]["member"] == C
    assert await hub.remove_member("r1", C)  # gone for good: no expiry for the others
    assert await hub.expire(200.0) == []
    assert (await hub.get_room("r1")) is not None
