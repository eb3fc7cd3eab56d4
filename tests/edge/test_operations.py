"""What operators rely on: reload by SIGHUP (§8, §9), metrics, probes, systemd."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aio_pika
import pytest
import pytest_asyncio

from docex import wire
from docex.config import Config, load_config
from docex.ledger.location import is_postgresql
from docex.ledger.open import open_ledger
from docex.router.provision import provision
from docex.router.reload import compare
from docex.router.service import Router
from docex.topology import Names
from docex.unit.client import UnitClient
from tests.command_line import docex_process
from tests.conftest import FakeClock, Pki, UnitClientFactory, eventually
from tests.documents import sealed_envelope, submit

REPO = Path(__file__).resolve().parents[2]


def edit(config_file: Path, old: str, new: str) -> None:
    text = config_file.read_text()
    assert old in text, old
    config_file.write_text(text.replace(old, new, 1))


def unit_block(unit: str) -> str:
    return f'[[units]]\nid = "{unit}"\n'


async def sender_news(client: UnitClient, doc_id: str, state: str) -> wire.Status:
    return await client.wait_for(
        lambda: next((s for s in client.mailbox.statuses(doc_id) if s.state == state), None),
        timeout=10,
    )


async def send(units: dict[str, UnitClient], pki: Pki, **headers: object) -> wire.Envelope:
    envelope = sealed_envelope(pki.signing["gov-office"], **headers)  # type: ignore[arg-type]
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    return envelope


async def test_revoking_a_unit_returns_its_pending_documents_to_senders(
    revokes_units: None, units: dict[str, UnitClient], pki: Pki, router: Router, config_file: Path
) -> None:
    """§9(二): a revoked unit's documents go back to their senders; it gets nothing more."""
    pending = await send(units, pki, to=["education"])
    edit(config_file, unit_block("education"), unit_block("education") + 'status = "revoked"\n')
    assert await router.reload()

    news = await sender_news(units["gov-office"], pending.id, "recipient_revoked")
    assert news.recipient == "education"
    assert router.ledger.delivery(pending.id, "education").state == "recipient_revoked"  # type: ignore[union-attr]
    late = await units["gov-office"].request(
        submit(sealed_envelope(pki.signing["gov-office"], to=["education"]))
    )
    assert isinstance(late, wire.Status) and late.reason == "recipient_revoked"
    still = await send(units, pki, to=["finance"])
    assert still.id


async def test_merging_moves_pending_documents_to_the_successor(
    revokes_units: None, units: dict[str, UnitClient], pki: Pki, router: Router, config_file: Path
) -> None:
    """§9(三): units merged away name the survivor; their pending documents go there."""
    pending = await send(units, pki, to=["education"], print_quota={"education": 2})
    edit(
        config_file,
        unit_block("education"),
        unit_block("education") + 'status = "revoked"\nsuccessor = "finance"\n',
    )
    assert await router.reload()
    moved = await units["finance"].wait_for(
        lambda: units["finance"].mailbox.delivery(pending.id), timeout=10
    )
    assert (moved.deliver.role, moved.deliver.print_quota) == ("main", 2)
    news = await sender_news(units["gov-office"], pending.id, "forwarded")
    assert news.recipient == "education" and "finance" in news.message


async def test_a_revoked_unit_can_no_longer_connect_or_read(
    revokes_units: None,
    units: dict[str, UnitClient],
    pki: Pki,
    router: Router,
    config_file: Path,
    unit_client_for: UnitClientFactory,
    config: Config,
) -> None:
    """§9(二)(三): merged away, a unit's broker user loses its permissions on reload: its open
    connection is closed, it cannot connect again nor read its queue, whose copies are
    dropped; what waited for it goes to its successor."""
    waiting = await send(units, pki, to=["education"])
    await units["education"].wait_for(
        lambda: units["education"].mailbox.delivery(waiting.id), timeout=10
    )
    education = units["education"]._connection
    assert education is not None and education.connected.is_set()
    # A second copy waits in the queue: the unit's client is not there to take it.
    names = Names(config.router.prefix)
    async with await aio_pika.connect(config.router.amqp_url) as admin:
        channel = await admin.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(b"left over"), routing_key=names.unit_queue("education")
        )
    edit(
        config_file,
        unit_block("education"),
        unit_block("education") + 'status = "revoked"\nsuccessor = "finance"\n',
    )
    assert await router.reload()

    await eventually(lambda: not education.connected.is_set() or None, "education cut off")
    with pytest.raises(aio_pika.exceptions.AMQPError):  # refused the vhost, so its queue
        async with unit_client_for("education"):
            pass
    forwarded = await units["finance"].wait_for(
        lambda: units["finance"].mailbox.delivery(waiting.id), timeout=10
    )
    assert forwarded.deliver.envelope.id == waiting.id
    async with await aio_pika.connect(config.router.amqp_url) as admin:
        channel = await admin.channel()
        queue = await channel.declare_queue(names.unit_queue("education"), passive=True)
        assert queue.declaration_result.message_count == 0
    revoked = {"result": "success"}
    assert router.metrics.registry.get_sample_value("docex_unit_revocations_total", revoked) == 1


async def test_provisioning_takes_the_permissions_of_revoked_units(
    revokes_units: None,
    config_file: Path,
    broker_users: Path,
    unit_client_for: UnitClientFactory,
    empty_queues: None,
) -> None:
    """§9(二): where the router could not run rabbitmqctl, `docex units provision` shuts the
    revoked unit out: it can no longer connect."""
    edit(config_file, unit_block("education"), unit_block("education") + 'status = "revoked"\n')
    report = provision(load_config(config_file), broker_users)
    assert any(o.unit == "education" and o.action == "revoked" for o in report), report
    with pytest.raises(aio_pika.exceptions.AMQPError):
        async with unit_client_for("education"):
            pass
    async with unit_client_for("finance"):
        pass


async def test_rename_keeps_the_id_and_the_old_name_on_record(
    units: dict[str, UnitClient], pki: Pki, router: Router, config_file: Path
) -> None:
    """§9(一): a renamed unit keeps its id and its documents keep flowing."""
    edit(config_file, 'name = "市财政局"', 'name = "市财政和国资局"')
    assert await router.reload()
    assert [row[:2] for row in router.ledger.unit_names("finance")] == [
        ("市财政局", "市财政和国资局")
    ]
    await send(units, pki, to=["finance"])


async def test_a_new_unit_gets_its_queue_and_its_documents(
    units: dict[str, UnitClient], pki: Pki, router: Router, config: Config, config_file: Path
) -> None:
    """§8: a newly registered unit can be sent documents at once."""
    config_file.write_text(
        config_file.read_text()
        + '\n[[units]]\nid = "health"\nname = "市卫生健康委"\namqp_user = "nobody-yet"\n'
    )
    assert await router.reload()
    envelope = await send(units, pki, to=["health"])
    connection = await aio_pika.connect(config.router.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(Names(config.router.prefix).unit_queue("health"))
        message = await _first_message(queue)
    deliver = wire.decode_router_message(message.body)
    assert isinstance(deliver, wire.Deliver) and deliver.envelope.id == envelope.id


async def _first_message(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    arrived: asyncio.Future[aio_pika.abc.AbstractIncomingMessage] = (
        asyncio.get_running_loop().create_future()
    )

    async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await message.ack()
        if not arrived.done():
            arrived.set_result(message)

    tag = await queue.consume(take)
    try:
        return await asyncio.wait_for(arrived, timeout=10)
    finally:
        await queue.cancel(tag)


async def test_a_bad_config_changes_nothing_and_says_everything(
    units: dict[str, UnitClient], pki: Pki, router: Router, config_file: Path
) -> None:
    """Every problem listed at once; the old config keeps running; messages keep flowing."""
    good = config_file.read_text()
    config_file.write_text(
        good.replace(unit_block("finance"), unit_block("gov-office"), 1).replace(
            'status = "revoked"', 'status = "revoked"\nsuccessor = "nowhere"', 1
        )
        + "\n[router2]\n"
    )
    before = router.config
    assert not await router.reload()
    assert router.config is before
    failures = router.metrics.registry.get_sample_value(
        "docex_config_reload_total", {"result": "failure"}
    )
    assert failures == 1
    await send(units, pki, to=["finance"])

    config_file.write_text(good.replace(unit_block("finance"), unit_block("gov-office"), 1))
    with pytest.raises(Exception) as raised:
        load_config(config_file)
    assert "duplicate unit id 'gov-office'" in str(raised.value)


def test_settings_that_need_a_restart_are_named(config_file: Path) -> None:
    old = load_config(config_file)
    edit(config_file, "max_document_bytes = 262144", "max_document_bytes = 262144\nprefetch = 10")
    change = compare(old, load_config(config_file))
    assert change.restart_needed == ["router.prefetch"]
    assert (change.added, change.renamed, change.gone) == ([], [], [])


@pytest_asyncio.fixture
async def observed(
    config_file: Path,
    clock: FakeClock,
    empty_queues: None,
    free_port: int,
    unit_client_for: UnitClientFactory,
) -> AsyncIterator[tuple[Router, UnitClient]]:
    edit(config_file, "metrics_port = 0", f"metrics_port = {free_port}")
    router = Router(load_config(config_file), clock, config_path=config_file)
    await router.start()
    async with unit_client_for("gov-office") as client:
        yield router, client
    await router.stop(flush_timeout=2)


async def get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    response = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    head, _, body = response.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def histogram_count(metrics: str, name: str) -> int:
    """How many observations /metrics reports for a histogram; 0 when it is missing."""
    found = re.search(rf"^{name}_count (\S+)$", metrics, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


async def readiness(port: int, status: int, timeout: float = 10) -> str:
    """/readyz's body, once it answers `status`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # not listening yet
            answer, body = await get(port, "/readyz")
            if answer == status:
                return body
        await asyncio.sleep(0.05)
    pytest.fail(f"/readyz did not answer {status} within {timeout:.0f} s")


async def test_metrics_and_probes(
    observed: tuple[Router, UnitClient], pki: Pki, free_port: int
) -> None:
    router, office = observed
    assert await get(free_port, "/healthz") == (200, "ok\n")
    status, body = await get(free_port, "/readyz")
    assert (status, body.splitlines()[0]) == (200, "ready")
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    await office.request(submit(envelope))
    await office.request(submit(sealed_envelope(pki.signing["gov-office"], to=["gov-office"])))
    await office.wait_for(
        lambda: next(
            (s for s in office.mailbox.statuses(envelope.id) if s.state == "delivered"), None
        ),
        timeout=10,
    )
    status, metrics = await get(free_port, "/metrics")
    assert status == 200
    assert "docex_documents_accepted_total 1.0" in metrics
    assert 'docex_commands_rejected_total{reason="self_send"} 1.0' in metrics
    assert 'docex_deliveries{state="delivered"} 1.0' in metrics
    assert 'docex_pending_receipts{unit="finance"} 1.0' in metrics
    assert "docex_send_to_deliver_seconds_count 1.0" in metrics
    # Where that time went: both commands (and any heartbeat) waited in the intake and were
    # committed, and the broker confirmed at least the delivery.
    assert histogram_count(metrics, "docex_intake_wait_seconds") >= 2
    assert histogram_count(metrics, "docex_intake_commit_seconds") >= 1
    assert histogram_count(metrics, "docex_publish_confirm_seconds") >= 1
    assert "docex_broker_up 1.0" in metrics
    # A SQLite ledger's write-ahead log, which its checkpoints keep from growing without end.
    log_bytes = re.search(r"^docex_ledger_log_bytes (\S+)$", metrics, re.MULTILINE)
    if is_postgresql(router.config.router.ledger):
        assert log_bytes is None
    else:
        assert log_bytes and float(log_bytes[1]) >= 0
    # SMS is off here: no gauge for a gateway nobody meant to have, so no alert on it.
    assert "docex_sms_gateway_up" not in metrics
    assert re.search(r'docex_build_info\{version="[^"]+"\} 1.0', metrics)


def test_the_systemd_unit_verifies() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = Path("/tmp") / f"docex-router-{os.getpid()}.service"
    text = (REPO / "systemd" / "docex-router.service").read_text()
    unit.write_text(
        text.replace("/opt/docex/.venv/bin/docex", str(Path(sys.executable).parent / "docex"))
    )
    try:
        done = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", "--recursive-errors=no", str(unit)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        unit.unlink()
    assert (done.returncode, done.stderr) == (0, "")


async def test_readiness_watchdog_and_reload_reach_systemd(
    config_file: Path, empty_queues: None, tmp_path: Path
) -> None:
    """READY after the topology is declared, WATCHDOG from the loop, RELOADING/READY on SIGHUP."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.setblocking(False)
    loop = asyncio.get_running_loop()
    process = await docex_process(
        "router",
        "run",
        "--config",
        str(config_file),
        env={**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    seen: list[str] = []

    async def until(state: str) -> None:
        while state not in seen:
            datagram = await asyncio.wait_for(loop.sock_recv(notify, 4096), timeout=30)
            seen.extend(datagram.decode().splitlines())

    try:
        await until("READY=1")
        await until("WATCHDOG=1")
        process.send_signal(signal.SIGHUP)
        await until("RELOADING=1")
        seen.clear()
        await until("READY=1")
        process.send_signal(signal.SIGTERM)
        await until("STOPPING=1")
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
        notify.close()


ALERT_RULES = REPO / "config" / "prometheus" / "alerts.yml"
# .ci/run installs it; a plain `make test` skips where it is missing.
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not installed (Debian package prometheus)"
)


@needs_promtool
def test_the_alert_rules_are_valid() -> None:
    rules = ALERT_RULES
    done = subprocess.run(
        ["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Every rule in the file was read, none skipped.
    assert f"SUCCESS: {rules.read_text().count('- alert:')} rules found" in done.stdout


@needs_promtool
def test_slow_deliveries_raise_an_alert_that_says_where_to_look(tmp_path: Path) -> None:
    """Deliveries whose p99 stays over 5 s for 15 minutes alert; fast ones never do."""
    rules = ALERT_RULES
    found = re.search(
        r'alert: DocexDeliveriesSlow\n(?:.*\n)*?\s+description: "(.*)"', rules.read_text()
    )
    assert found, "DocexDeliveriesSlow has no description"

    def series(le: str, per_minute: int) -> dict[str, str]:
        return {
            "series": f'docex_send_to_deliver_seconds_bucket{{le="{le}"}}',
            "values": f"0+{per_minute}x40",
        }

    slow = {
        "interval": "1m",
        # Ten deliveries a minute, each between 5 and 10 s.
        "input_series": [series("0.05", 0), series("5", 0), series("10", 10), series("+Inf", 10)],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "DocexDeliveriesSlow", "exp_alerts": []},
            {
                "eval_time": "30m",
                "alertname": "DocexDeliveriesSlow",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "warning"},
                        "exp_annotations": {
                            "summary": "Documents take over 5 s from acceptance to delivery"
                            " (p99 9.95s)",
                            "description": found.group(1),
                        },
                    }
                ],
            },
        ],
    }
    fast = {
        "interval": "1m",
        "input_series": [series("0.05", 10), series("5", 10), series("10", 10), series("+Inf", 10)],
        "alert_rule_test": [
            {"eval_time": "30m", "alertname": "DocexDeliveriesSlow", "exp_alerts": []}
        ],
    }
    test_file = tmp_path / "deliveries_slow.yml"
    # JSON is YAML.
    test_file.write_text(
        json.dumps({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": [slow, fast]})
    )
    done = subprocess.run(
        ["promtool", "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_the_last_reload_is_shown_in_readyz_status_and_metrics(
    observed: tuple[Router, UnitClient], config_file: Path, free_port: int, clock: FakeClock
) -> None:
    """After `systemctl reload`, did it take? /readyz, `router status` and the metrics say,
    with the sha256 of the file as the router read it, until the next reload."""
    router, _ = observed
    good = config_file.read_text()

    def sha256() -> str:
        return hashlib.sha256(config_file.read_bytes()).hexdigest()

    def metric(name: str) -> float | None:
        return router.metrics.registry.get_sample_value(name)

    _, body = await get(free_port, "/readyz")
    assert f"config: loaded at 2026-11-26T02:00:00+00:00, sha256 {sha256()}, ok" in body
    assert metric("docex_config_reload_success") == 1

    clock.current += timedelta(minutes=5)
    config_file.write_text(good.replace(unit_block("finance"), unit_block("gov-office"), 1))
    assert not await router.reload()
    status, body = await get(free_port, "/readyz")
    assert status == 200  # still routing, on the config read before
    [line] = [line for line in body.splitlines() if line.startswith("config: ")]
    assert line.startswith(
        f"config: reloaded at 2026-11-26T02:05:00+00:00 FAILED, sha256 {sha256()}: "
    )
    assert "duplicate unit id 'gov-office'" in line and line.endswith(
        "running on the config read before"
    )
    assert metric("docex_config_reload_success") == 0
    assert metric("docex_config_reload_timestamp_seconds") == clock.current.timestamp()
    # `router status` needs a config it can read: the good one, beside the bad.
    config_file.with_name("good.toml").write_text(good)
    code, out = await router_status(config_file.with_name("good.toml"))
    assert code == 0, out
    assert "config:  reloaded at 2026-11-26T02:05:00+00:00 FAILED" in out

    config_file.write_text(good)
    assert await router.reload()
    _, body = await get(free_port, "/readyz")
    assert f"config: reloaded at 2026-11-26T02:05:00+00:00, sha256 {sha256()}, ok" in body
    assert metric("docex_config_reload_success") == 1


async def router_status(config_file: Path) -> tuple[int, str]:
    """`docex router status`, in a process of its own: it asks the router's /readyz."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "docex.cli", "router", "status", "--config", str(config_file)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode or 0, output.decode()


async def test_router_status_shows_readiness_faults_and_links(
    observed: tuple[Router, UnitClient],
    config_file: Path,
    clock: FakeClock,
    unit_client_for: UnitClientFactory,
) -> None:
    """§46, §47: at a glance, whether the router is ready, which links are down and how long
    until their documents go on paper; the exit status says whether all is well."""
    router, office = observed
    await office.heartbeat()
    async with unit_client_for("finance") as finance:
        await finance.heartbeat()
    for unit in ("gov-office", "finance"):
        await eventually(lambda u=unit: router.ledger.link(u), f"a heartbeat from {unit}")
    code, out = await router_status(config_file)
    assert code == 0, out
    assert "router:  ready" in out and "faults:  none open" in out
    assert re.search(r"^\s+finance\s+up\s+\S+ ago \(heartbeats\)\s+0\s+-$", out, re.M), out

    clock.current += timedelta(minutes=3)
    await office.heartbeat()
    now = router.handler.calendar.stamp(clock.current)

    def office_heard_now() -> bool:
        link = router.ledger.link("gov-office")
        return link is not None and link.last_seen_at == now

    await eventually(office_heard_now, "gov-office heard again")
    router.linkwatch.check()
    code, out = await router_status(config_file)
    assert code == 1, out
    assert "faults:  1 open" in out
    assert re.search(r"finance: heartbeat_lost for \S+; documents go on paper in \S+ \(§47\)", out)
    assert re.search(r"^\s+finance\s+DOWN\s", out, re.M), out
    assert re.search(r"^\s+gov-office\s+up\s", out, re.M), out


async def test_router_status_when_the_router_is_not_running(config_file: Path) -> None:
    config = load_config(config_file)
    open_ledger(config.router.ledger).close()
    edit(config_file, "metrics_port = 0", "metrics_port = 1")
    code, out = await router_status(config_file)
    assert code == 1
    assert "router:  NOT RUNNING, or not answering at http://127.0.0.1:1" in out
