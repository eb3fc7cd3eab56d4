"""A connection to a RabbitMQ cluster, given its nodes' URLs.

aio-pika's robust connection reconnects to the one URL it was given (mosquito/aio-pika#141:
no multi-host connect). A router or unit on a cluster must not wait for the node it happened to
use: when the connection has been down for a few seconds, the next reconnect attempt goes to
the next node in the list, round and round until one answers. The robust connection then
restores its channels and consumers there, as after any reconnect; quorum queues live on every
node, so nothing waiting in them is lost.
"""

from __future__ import annotations

import asyncio
import contextlib

import aio_pika
import structlog
import yarl
from aio_pika.abc import AbstractRobustConnection

log = structlog.get_logger("docex.broker")

# Down this long on one node before trying the next: a broker restart or a blip is waited out
# where the consumers were, a dead node is left.
_MOVE_AFTER_S = 5.0
_CHECK_S = 0.5


async def connect(urls: list[str], reconnect_interval: float = 1.0) -> AbstractRobustConnection:
    """The first node in `urls` that answers; raises the last node's error when none does."""
    error: BaseException | None = None
    for index, url in enumerate(urls):
        try:
            connection = await aio_pika.connect_robust(url, reconnect_interval=reconnect_interval)
        except aio_pika.exceptions.ProbableAuthenticationError:
            raise
        except (aio_pika.exceptions.AMQPConnectionError, OSError) as exc:
            error = exc
            continue
        if len(urls) > 1:
            # Ends when the connection is closed on purpose (a robust connection that lost
            # its node is not `is_closed`).
            _following.add(asyncio.get_running_loop().create_task(_follow(connection, urls, index)))
        return connection
    assert error is not None
    raise error


_following: set[asyncio.Task[None]] = set()


async def _follow(connection: AbstractRobustConnection, urls: list[str], index: int) -> None:
    down_for = 0.0
    with contextlib.suppress(asyncio.CancelledError):
        while not connection.is_closed:
            await asyncio.sleep(_CHECK_S)
            if connection.connected.is_set():
                down_for = 0.0
                continue
            down_for += _CHECK_S
            if down_for >= _MOVE_AFTER_S:
                index = (index + 1) % len(urls)
                # Read by the robust connection at its next attempt.
                connection.url = yarl.URL(urls[index])  # type: ignore[attr-defined]
                log.warning("broker_node_changed", node=_where(urls[index]))
                down_for = 0.0
    _following.discard(asyncio.current_task())


def _where(url: str) -> str:
    parsed = yarl.URL(url)
    return f"{parsed.host}:{parsed.port}"
