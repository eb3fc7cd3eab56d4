"""A stand-in SMS gateway for the demo: prints each text the router publishes for SMS (§16).

A real gateway subscribes the same way (QoS 1 on `<topic_prefix>/#`), hands each text to its
SMS service, and skips an `id` it has sent already: after a router crash a text may come twice.
It also keeps a persistent session (a fixed client id, clean_session off), so that Mosquitto
holds the texts published while it is away; this stand-in does not, and misses those.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

import aiomqtt

from docex.router.sms_sender import masked


async def listen(host: str, port: int, topic_prefix: str) -> None:
    seen: set[str] = set()
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe(f"{topic_prefix}/#", qos=1)
        print(f"sms gateway listening on {topic_prefix}/# at {host}:{port}", flush=True)
        async for message in client.messages:
            try:
                text = json.loads(message.payload)  # type: ignore[arg-type]
                text_id, name, mobile = str(text["id"]), text["name"], text["mobile"]
            except (TypeError, ValueError, KeyError):
                print(f"not a text on {message.topic.value}: {message.payload!r}", flush=True)
                continue
            if text_id in seen:
                continue
            seen.add(text_id)
            print(f"SMS to {name} {masked(mobile)} ({text['unit']}): {text['text']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--host", default="127.0.0.1", help="the MQTT broker (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=1883, help="its port (default: %(default)s)")
    parser.add_argument(
        "--topic-prefix", default="docex/sms", help="[sms] topic_prefix (default: %(default)s)"
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(listen(args.host, args.port, args.topic_prefix))


if __name__ == "__main__":
    main()
