"""SMS reminders (§16) through the real Mosquitto: the router publishes texts for the users a
unit registered, on `<prefix>/sms/<unit>`, within each number's hourly allowance."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiomqtt
import pytest
import pytest_asyncio

from docex import wire
from docex.config import load_config
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.conftest import FakeClock, Pki, UnitClientFactory, eventually, in_background
from tests.documents import sealed_envelope, submit
from tests.edge.test_persons import People, people  # noqa: F401 -- the fixture

REPO = Path(__file__).resolve().parents[2]
V = wire.VERSION
FINANCE_CONTACTS = {"13800138001": "王会计", "13800138002": "李处长"}


def with_sms(config_file: Path, prefix: str, per_hour: int, port: int) -> Path:
    """The test router's config, with SMS on and two registered users at finance."""
    contacts = ", ".join(
        f'{{ name = "{name}", mobile = "{mobile}" }}' for mobile, name in FINANCE_CONTACTS.items()
    )
    text = config_file.read_text().replace(
        'id = "finance"\n', f'id = "finance"\ncontacts = [{contacts}]\n'
    )
    text += (
        f'\n[sms]\nmqtt_host = "127.0.0.1"\nmqtt_port = {port}\n'
        f'topic_prefix = "{prefix}/sms"\nper_number_per_hour = {per_hour}\n'
    )
    config_file.write_text(text)
    return config_file


class Gateway:
    """An SMS gateway: whatever it reads from the topics, in order."""

    def __init__(self, prefix: str) -> None:
        self.topic = f"{prefix}/sms/#"
        self.texts: list[dict[str, object]] = []
        self.topics: list[str] = []
        self.subscribed = asyncio.Event()

    async def listen(self) -> None:
        async with aiomqtt.Client("127.0.0.1", 1883) as client:
            await client.subscribe(self.topic, qos=1)
            self.subscribed.set()
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                self.texts.append(json.loads(message.payload))
                self.topics.append(message.topic.value)

    def to(self, mobile: str) -> list[dict[str, object]]:
        return [text for text in self.texts if text["mobile"] == mobile]


@pytest_asyncio.fixture
async def gateway(prefix: str) -> AsyncIterator[Gateway]:
    gateway = Gateway(prefix)
    async with in_background(gateway.listen(), gateway.subscribed):
        yield gateway


@pytest.fixture
def sms_options() -> dict[str, int]:
    """Tests parametrize this to change the [sms] settings."""
    return {"per_hour": 6, "port": 1883}


@pytest.fixture
def config_file(config_file: Path, prefix: str, sms_options: dict[str, int]) -> Path:
    return with_sms(config_file, prefix, **sms_options)


async def send(units: dict[str, UnitClient], pki: Pki, title: str) -> wire.Envelope:
    envelope = sealed_envelope(pki.signing["gov-office"], cc=["education"], title=title)
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted"
    return envelope


async def test_a_delivered_document_is_texted_to_each_registered_user(
    units: dict[str, UnitClient], pki: Pki, gateway: Gateway, router: Router, prefix: str
) -> None:
    """§16: each user finance registered gets a text naming the sender, the title and the
    文号 once the document is in finance's queue; education registered nobody and gets none."""
    await send(units, pki, "关于年终工作的通知")
    await eventually(lambda: len(gateway.texts) == 2, "a text to each finance contact")

    assert {text["mobile"] for text in gateway.texts} == set(FINANCE_CONTACTS)
    assert set(gateway.topics) == {f"{prefix}/sms/finance"}
    for text in gateway.texts:
        assert text["name"] == FINANCE_CONTACTS[str(text["mobile"])]
        assert text["text"] == (
            "【公文交换】市财政局：市府办公厅主送公文《关于年终工作的通知》"
            "（穗府办〔2026〕12号），请及时签收。"
        )
        assert text["reminders"] == 1
    assert router.ledger.sms_depth() == 0
    assert router.metrics.registry.get_sample_value("docex_sms_sent_total") == 2
    assert router.metrics.registry.get_sample_value("docex_sms_gateway_up") == 1


async def test_the_persons_who_receive_documents_are_texted_while_active(
    units: dict[str, UnitClient],
    pki: Pki,
    gateway: Gateway,
    router: Router,
    people: People,  # noqa: F811
) -> None:
    """§16 with §13: a unit's persons who hold the 收文 role and gave a mobile get its texts,
    as its configured contacts do, a number once; one who does not receive documents, or who
    was disabled, gets none."""
    await people.add("education", "reader", "收文", chinese_name="赵六", mobile="13900139001")
    await people.add("education", "drafter", "发文", mobile="13900139002")
    await people.add("education", "leaver", "收文", mobile="13900139003")
    await people.users("disable", "--unit", "education", "leaver")
    # Also one of finance's contacts: texted once, as the contact.
    await people.add("finance", "accountant", "收文", chinese_name="王会计", mobile="13800138001")

    await send(units, pki, "关于年终工作的通知")
    await eventually(lambda: len(gateway.texts) == 3, "the texts to finance and to 赵六")
    await eventually(lambda: router.ledger.sms_depth() == 0, "every text sent")
    (text,) = gateway.to("13900139001")
    assert text["name"] == "赵六"
    assert text["text"] == (
        "【公文交换】市教育局：市府办公厅抄送公文《关于年终工作的通知》"
        "（穗府办〔2026〕12号），请及时签收。"
    )
    assert len(gateway.to("13800138001")) == 1
    for mobile in ("13900139002", "13900139003"):
        assert router.ledger.sms_sent_since(mobile, 0) == 0, mobile


async def test_an_internal_document_is_texted_without_its_title(
    units: dict[str, UnitClient], pki: Pki, gateway: Gateway
) -> None:
    """§16: texts pass through the SMS operator; an internal document is named by its 文号."""
    envelope = sealed_envelope(
        pki.signing["gov-office"], title="人事调整方案", classification="internal"
    )
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted"
    await eventually(lambda: len(gateway.texts) == 2, "the texts")
    for text in gateway.texts:
        assert text["text"] == (
            "【公文交换】市财政局：市府办公厅主送内部公文（穗府办〔2026〕12号），请及时签收。"
        )


async def test_a_withdrawal_and_an_information_request_are_texted(
    units: dict[str, UnitClient], pki: Pki, gateway: Gateway
) -> None:
    """§16, §42: users hear of a document withdrawn before they took it in, and of a request
    to handle with its deadline."""
    envelope = await send(units, pki, "撤回的通知")
    await eventually(lambda: len(gateway.texts) == 2, "the delivery texts")
    withdrawn = await units["gov-office"].request(wire.Withdraw(v=V, doc_id=envelope.id))
    assert isinstance(withdrawn, wire.WithdrawResult) and "finance" in withdrawn.withdrawn
    request = wire.Info(
        v=V,
        kind="request",
        title="协助提供数据",
        content="请提供预算执行数据",
        to=["finance"],
        deadline="2026-12-01T17:00:00+08:00",
    )
    accepted = await units["gov-office"].request(request)
    assert isinstance(accepted, wire.Status) and accepted.state == "accepted"
    await eventually(lambda: len(gateway.texts) == 6, "the withdrawal and request texts")

    words = [str(text["text"]) for text in gateway.to("13800138001")]
    assert (
        words[1]
        == "【公文交换】市府办公厅已撤回公文《撤回的通知》（穗府办〔2026〕12号），请勿签收。"
    )
    assert words[2] == (
        "【公文交换】市府办公厅请求办理《协助提供数据》，办理时限 2026-12-01 17:00。"
    )


async def test_a_unit_cut_off_for_24_hours_is_told_by_text(
    units: dict[str, UnitClient], pki: Pki, gateway: Gateway, router: Router, clock: FakeClock
) -> None:
    """§16, §47: a unit whose link is down cannot read its notices electronically; the paper
    notice reaches its users by text, with a count of documents and not their titles."""
    finance = units["finance"]
    await finance.heartbeat()
    await eventually(lambda: router.ledger.link("finance"), "finance's heartbeat")
    await send(units, pki, "关于年终工作的通知")
    await eventually(lambda: len(gateway.texts) == 2, "the delivery texts")
    clock.current += timedelta(minutes=3)
    router.linkwatch.check()
    assert router.ledger.open_fault("finance") is not None
    clock.current += timedelta(hours=24)
    router.linkwatch.check()
    await eventually(lambda: len(gateway.texts) == 4, "the paper notice's texts")

    for mobile in FINANCE_CONTACTS:
        assert gateway.to(mobile)[-1]["text"] == (
            "【公文交换】市财政局的1件公文因交换故障改按纸质方式交换（第四十七条），"
            "请与市府办公厅联系办理交接。"
        )


@pytest.mark.parametrize("sms_options", [{"per_hour": 2, "port": 1883}])
async def test_a_number_gets_no_more_than_its_allowance_and_the_rest_go_together(
    units: dict[str, UnitClient],
    pki: Pki,
    gateway: Gateway,
    router: Router,
    clock: FakeClock,
) -> None:
    """§16: with two texts an hour per number, five documents make two texts at once; an hour
    later one text carries the other three, and says so. No reminder is lost."""
    for number in range(5):
        await send(units, pki, f"通知{number}")
    await eventually(lambda: router.ledger.sms_depth() == 6, "three reminders per number held")
    await eventually(lambda: len(gateway.texts) == 4, "the two texts each number may have")
    assert [len(gateway.to(mobile)) for mobile in FINANCE_CONTACTS] == [2, 2]

    clock.current += timedelta(hours=1, seconds=1)
    await eventually(lambda: len(gateway.texts) == 6, "the held reminders, one text per number")

    for mobile in FINANCE_CONTACTS:
        first, second, together = gateway.to(mobile)
        assert [first["reminders"], second["reminders"], together["reminders"]] == [1, 1, 3]
        assert "《通知2》" in str(together["text"])
        assert str(together["text"]).endswith("（另有2条提醒，请登录公文交换系统查看）")
    assert router.ledger.sms_depth() == 0


@pytest.mark.parametrize("sms_options", [{"per_hour": 6, "port": 1}])
async def test_routing_goes_on_while_the_gateway_is_away_and_its_texts_wait(
    config_file: Path,
    empty_queues: None,
    unit_client_for: UnitClientFactory,
    pki: Pki,
    gateway: Gateway,
    clock: FakeClock,
) -> None:
    """§16: SMS is optional. With its broker unreachable (nothing listens on port 1) the
    document is still delivered and its reminders wait in the ledger; a router that can reach
    the broker sends them."""
    router = Router(load_config(config_file), clock, config_path=config_file)
    await router.start()
    try:
        async with unit_client_for("gov-office") as office, unit_client_for("finance") as finance:
            envelope = await send({"gov-office": office}, pki, "网关中断时的通知")
            await finance.wait_for(lambda: finance.mailbox.delivery(envelope.id), timeout=10)
        await eventually(lambda: router.ledger.sms_depth() == 2, "the reminders held")
        assert router.sms is not None and not router.sms.connected.is_set()
    finally:
        await router.stop(flush_timeout=2.0)
    assert gateway.texts == []

    config_file.write_text(config_file.read_text().replace("mqtt_port = 1\n", "mqtt_port = 1883\n"))
    restarted = Router(load_config(config_file), clock, config_path=config_file)
    await restarted.start()
    try:
        await eventually(lambda: len(gateway.texts) == 2, "the held texts")
    finally:
        await restarted.stop(flush_timeout=2.0)
    assert {text["mobile"] for text in gateway.texts} == set(FINANCE_CONTACTS)


async def test_the_demo_gateway_prints_what_it_receives(prefix: str) -> None:
    """The demo's stand-in for an SMS gateway shows each text with the masked number."""
    printer = await asyncio.create_subprocess_exec(
        *(sys.executable, str(REPO / "demo" / "sms_gateway.py"), "--topic-prefix", f"{prefix}/sms"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert printer.stdout is not None
    try:
        async with asyncio.timeout(15):
            assert b"listening" in await printer.stdout.readline()
            text = {"id": "x", "unit": "finance", "name": "王会计", "mobile": "13800138001"}
            text |= {"text": "【公文交换】测试", "reminders": 1, "at": "2026-11-26T09:00:00+08:00"}
            async with aiomqtt.Client("127.0.0.1", 1883) as client:
                await client.publish(f"{prefix}/sms/finance", json.dumps(text).encode(), qos=1)
            line = (await printer.stdout.readline()).decode()
    finally:
        printer.terminate()
        await printer.wait()
    assert "王会计" in line and "*******8001" in line and "【公文交换】测试" in line


def test_a_bad_mobile_number_is_named_with_its_line(tmp_path: Path) -> None:
    """§16: a number that cannot be texted is caught when the config is checked."""
    config = tmp_path / "router.toml"
    config.write_text(
        (REPO / "config" / "example.toml")
        .read_text()
        .replace('mobile = "13800138000"', 'mobile = "138-0013"')
    )
    checked = subprocess.run(
        [sys.executable, "-m", "docex.cli", "config", "check", str(config)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode != 0
    assert "units[1].contacts[0].mobile: '138-0013' is not a phone number" in checked.stderr
