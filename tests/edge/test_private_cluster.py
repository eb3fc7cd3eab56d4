"""The private cluster fixture does what a cluster test needs: three nodes that really form one
cluster, a quorum queue that survives the kill of its leader, a node that comes back, and the
consistent-hash exchange that partitioned intake is built on (SCALE.md D4)."""

from __future__ import annotations

import asyncio
import json
import time

import aio_pika
import pytest

from tests.brokers import PrivateRabbit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

COUNT = 2000
QUEUE = "cluster-proof"


async def publish_confirmed(url: str, bodies: list[bytes], halfway: asyncio.Event) -> None:
    """Publish each body until the broker confirms it. A nack or a broken channel gets a new
    channel: right after a node dies, a channel can be nacked on every publish (SCALE.md §8.2)."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for i, body in enumerate(bodies):
            if i == len(bodies) // 2:
                halfway.set()
            async with asyncio.timeout(60):
                while True:
                    try:
                        await channel.default_exchange.publish(
                            aio_pika.Message(body, message_id=body.decode(), delivery_mode=2),
                            routing_key=QUEUE,
                        )
                        break
                    except (aio_pika.exceptions.DeliveryError, aio_pika.exceptions.AMQPError):
                        channel = await connection.channel(publisher_confirms=True)


async def read_all(url: str, expected: int) -> list[str]:
    """Every message id in the queue, taken until `expected` have come."""
    seen: list[str] = []
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=500)
        queue = await channel.get_queue(QUEUE, ensure=False)
        async with asyncio.timeout(60), queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                seen.append(message.message_id or "")
                if len(seen) >= expected:
                    break
    return seen


def online_members(cluster: PrivateRabbit, asked: int) -> int:
    listed = json.loads(cluster.ctl(asked, "list_queues", "name", "online", "--formatter", "json"))
    return next(len(row["online"]) for row in listed if row["name"] == QUEUE)


async def test_a_quorum_queue_loses_nothing_when_its_leader_is_killed(
    rabbit_cluster: PrivateRabbit,
) -> None:
    """3 members; confirmed publishes through a follower; kill -9 of the leader halfway; every
    message is read back, and the killed node rejoins as a member."""
    cluster = rabbit_cluster
    first = await aio_pika.connect(cluster.urls[0])
    async with first:
        channel = await first.channel()
        await channel.declare_queue(
            QUEUE,
            durable=True,
            arguments={"x-queue-type": "quorum", "x-quorum-initial-group-size": 3},
        )
        await channel.declare_exchange(f"{QUEUE}.hash", "x-consistent-hash", auto_delete=True)
    leader = cluster.leader_of(QUEUE)
    follower = next(node.index for node in cluster.nodes if node.index != leader)
    assert online_members(cluster, follower) == 3

    bodies = [str(i).encode() for i in range(COUNT)]
    halfway = asyncio.Event()
    publishing = asyncio.create_task(publish_confirmed(cluster.urls[follower], bodies, halfway))
    await asyncio.wait_for(halfway.wait(), 60)
    await asyncio.to_thread(cluster.kill, leader)
    killed = time.monotonic()
    await asyncio.wait_for(publishing, 120)
    confirmed = time.monotonic()

    seen = await read_all(cluster.urls[follower], COUNT)
    assert set(seen) == {body.decode() for body in bodies}, "messages were lost"
    restarting = time.monotonic()
    await asyncio.to_thread(cluster.start_node, leader)
    print(
        f"\n{COUNT} confirmed ({confirmed - killed:.1f} s after the kill for the second half),"
        f" {len(set(seen))} read back, {len(seen) - len(set(seen))} twice;"
        f" the killed node restarted in {time.monotonic() - restarting:.1f} s"
    )
    assert cluster.leader_of(QUEUE) in range(3)
    deadline = time.monotonic() + 60
    while online_members(cluster, follower) < 3:
        assert time.monotonic() < deadline, "the restarted node did not rejoin the queue in 60 s"
        await asyncio.sleep(0.2)
