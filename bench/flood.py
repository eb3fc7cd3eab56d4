"""How long one unit's document waits while another unit floods the exchange.

A flooding unit publishes `--flood` submits (5,000) as fast as the broker takes them; while
the router works through that backlog, another unit sends a probe document every
`--probe-every` seconds to a third unit, and this prints how long each probe took from send to
delivery, next to the same probe measured on an idle exchange, and the flood's backlog when
each probe arrived. With every unit's intake queue taken in turn (docex/router/intake.py) the probe
waits about one batch, not behind the flood.

The router runs as operators run it (a subprocess); everything is made for the run and removed
after it, as in bench/route.py, whose setup this shares.

    .venv/bin/python -m bench.flood              # about a minute
    .venv/bin/python -m bench.flood --flood 1000 # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import sys
import time

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from bench.route import (
    DEFAULT_AMQP_URL,
    BenchError,
    Cleanup,
    Document,
    Workspace,
    log_tail,
    seal_documents,
    set_up,
    start_router,
    wait_until_consuming,
)
from docex import wire
from docex.ids import uuid7

FLOODER, FLOODED, PROBER, PROBED = "flooder", "flooded", "prober", "probed"
UNITS = {
    FLOODER: "基准测试刷量单位",
    FLOODED: "基准测试被刷单位",
    PROBER: "基准测试发文单位",
    PROBED: "基准测试收文单位",
}
SIZE = 1024


class Unit:
    """A unit's own broker connection: it publishes as that unit, as its client does."""

    def __init__(self, workspace: Workspace, unit_id: str) -> None:
        self.workspace, self.unit_id = workspace, unit_id

    async def __aenter__(self) -> Unit:
        self.connection = await aio_pika.connect(self.workspace.unit_url(self.unit_id))
        channel = await self.connection.channel(publisher_confirms=True)
        self.exchange = await channel.get_exchange(
            self.workspace.names.inbound(self.unit_id), ensure=False
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.connection.close()

    async def publish(self, body: bytes) -> None:
        message = aio_pika.Message(
            body,
            message_id=uuid7(),
            user_id=self.workspace.unit_user(self.unit_id),
            type="submit",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self.exchange.publish(message, routing_key="")


class Arrivals:
    """Deliveries reaching a unit's queue, by envelope id."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        arrived = time.perf_counter()
        # What is due to a unit together comes as one batch (docex/wire.py).
        for item in wire.unpack(message.message_id or "", message.type or "", message.body):
            decoded = wire.decode_router_message(item.body)
            if isinstance(decoded, wire.Deliver):
                self.at[decoded.envelope.id] = arrived
                self.changed.set()
        await message.ack()

    async def wait_for(self, doc_id: str, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while doc_id not in self.at:
            self.changed.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise BenchError(f"document {doc_id} not delivered within {timeout:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return self.at[doc_id]


async def listen(
    workspace: Workspace, unit_id: str, arrivals: Arrivals
) -> AbstractRobustConnection:
    connection = await aio_pika.connect_robust(workspace.unit_url(unit_id))
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=1000)
    queue = await channel.get_queue(workspace.names.unit_queue(unit_id))
    await queue.consume(arrivals.on_message)
    return connection


async def probe(prober: Unit, probed: Arrivals, document: Document) -> float:
    sent = time.perf_counter()
    await prober.publish(document.body)
    return await probed.wait_for(document.key, 60) - sent


async def measure(workspace: Workspace, flood: int, probes: int, every: float) -> None:
    flood_docs = seal_documents(workspace.seals[FLOODER], SIZE, flood, FLOODER, FLOODED)
    probe_docs = seal_documents(workspace.seals[PROBER], SIZE, 2 * probes, PROBER, PROBED)
    flooded, probed = Arrivals(), Arrivals()
    async with (
        await listen(workspace, FLOODED, flooded),
        await listen(workspace, PROBED, probed),
        Unit(workspace, FLOODER) as flooder,
        Unit(workspace, PROBER) as prober,
    ):
        idle = [await probe(prober, probed, document) for document in probe_docs[:probes]]
        started = time.perf_counter()

        async def push() -> None:
            for start in range(0, flood, 500):
                chunk = flood_docs[start : start + 500]
                await asyncio.gather(*(flooder.publish(document.body) for document in chunk))

        pushing = asyncio.create_task(push())
        busy: list[tuple[float, int]] = []
        for document in probe_docs[probes:]:
            await asyncio.sleep(every)
            waited = await probe(prober, probed, document)
            busy.append((waited, flood - len(flooded.at)))
        await pushing
        pushed = time.perf_counter() - started
        await flooded.wait_for(flood_docs[-1].key, 300)
        drained = time.perf_counter() - started
    print(
        f"\nflood: {flood} submits from one unit, published in {pushed:.1f} s,"
        f" all delivered {drained:.1f} s after the first"
    )
    print(
        f"probe on an idle exchange:   p50 {ms(statistics.median(idle))} ms,"
        f" max {ms(max(idle))} ms ({len(idle)} probes)"
    )
    during = [waited for waited, backlog in busy if backlog > 0]
    if during:
        print(
            f"probe behind the flood:      p50 {ms(statistics.median(during))} ms,"
            f" max {ms(max(during))} ms ({len(during)} probes)"
        )
    for waited, backlog in busy:
        print(f"  {ms(waited):>7} ms   flood still undelivered: {backlog}")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=5000, help="submits the flooder sends")
    parser.add_argument("--probes", type=int, default=10, help="probes, idle and during")
    parser.add_argument("--probe-every", type=float, default=0.5, help="seconds between probes")
    parser.add_argument("--amqp-url", default=DEFAULT_AMQP_URL)
    args = parser.parse_args(argv)
    cleanup = Cleanup(f"bench{secrets.token_hex(5)}", args.amqp_url)
    print(f"run {cleanup.prefix}: setting up a CA, seals, broker users and the router…")
    workspace: Workspace | None = None
    try:
        # The router's own default prefetch, as an exchange would run it.
        workspace = set_up(cleanup, UNITS, prefetch=None)
        router = start_router(workspace, "warning", cleanup)

        async def run() -> None:
            assert workspace is not None
            admin = await aio_pika.connect(workspace.amqp_url)
            async with admin:
                queue = workspace.names.intake_queue(FLOODER)
                await wait_until_consuming(admin, queue, router, workspace.directory / "router.log")
            await measure(workspace, args.flood, args.probes, args.probe_every)

        asyncio.run(run())
    except BenchError as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        if workspace is not None:
            print(f"router log (tail):\n{log_tail(workspace.directory / 'router.log')}")
        return 1
    finally:
        cleanup.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
