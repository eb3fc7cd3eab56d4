"""Persons and roles (§13–§15) through the real router: a unit's administrator registers its
people with `docex users`, each signs their commands with a personal credential, and the
router lets each act only within the roles the register gives them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from docex import persons, wire
from docex.config import Config
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.command_line import docex
from tests.conftest import Broker, Pki, UnitConfigWriter, unit_settings
from tests.documents import sealed_envelope, submit
from tests.edge.test_lifecycle import print_request


@pytest.fixture
def people(
    config_file: Path, prefix: str, pki: Pki, broker: Broker, broker_users: Path, tmp_path: Path
) -> People:
    return People(config_file, prefix, pki, broker, broker_users, tmp_path)


@dataclasses.dataclass
class People:
    config_file: Path
    prefix: str
    pki: Pki
    broker: Broker
    broker_users: Path
    tmp_path: Path
    last_initial: str = ""

    async def users(self, *args: str) -> str:
        code, out = await docex("users", *args, "--config", str(self.config_file))
        assert code == 0, out
        return out

    async def add(
        self,
        unit: str,
        name: str,
        roles: str,
        *,
        changed: bool = True,
        chinese_name: str = "张三",
        mobile: str = "13800000000",
    ) -> Path:
        """Registered (§13), with the initial password changed to `{name}-own` (§15)."""
        credential = self.tmp_path / f"{unit}-{name}.credential"
        out = await self.users(
            "add", "--unit", unit, name, "--chinese-name", chinese_name, "--roles", roles,
            "--mobile", mobile, "--credential-out", str(credential),
        )  # fmt: skip
        self.last_initial = initial(out)
        if changed:
            await self.passwd(credential, self.last_initial, f"{name}-own")
        return credential

    async def reset(self, unit: str, name: str) -> Path:
        credential = self.tmp_path / f"{unit}-{name}.reset.credential"
        out = await self.users("reset", "--unit", unit, name, "--credential-out", str(credential))
        assert "the earlier credential is revoked" in out
        await self.passwd(credential, initial(out), f"{name}-own")
        return credential

    async def passwd(self, credential: Path, old: str, new: str) -> None:
        code, out = await docex(
            "users", "passwd", str(credential),
            env={persons.PASSWORD_ENV: old, "DOCEX_NEW_PERSON_PASSWORD": new},
        )  # fmt: skip
        assert code == 0, out

    def client(self, unit: str, credential: Path | None = None, name: str = "") -> UnitClient:
        settings = unit_settings(
            self.prefix, self.pki, self.broker_users, unit, self.tmp_path / "mailboxes",
            self.broker.address,
        )  # fmt: skip
        if credential is not None:
            password_file = self.tmp_path / f"{credential.name}.password"
            password_file.write_text(f"{name}-own\n")
            settings = msgspec.structs.replace(
                settings,
                person_credential=str(credential),
                person_password_file=str(password_file),
            )
        return UnitClient(settings)


def initial(out: str) -> str:
    return out.split("initial password: ")[1].split()[0]


async def sent(client: UnitClient, pki: Pki) -> tuple[wire.Envelope, wire.Answer]:
    envelope = sealed_envelope(pki.signing["gov-office"], print_quota={"finance": 1})
    return envelope, await client.request(submit(envelope))


def refused(answer: wire.Answer) -> str:
    assert isinstance(answer, wire.Status) and answer.state == "rejected", answer
    return answer.reason


async def test_a_person_acts_within_their_roles_and_is_named_for_it(
    router: Router, people: People, pki: Pki, config: Config
) -> None:
    """§13: the administrator gives each person roles by duty and files them with the
    exchange; §14: a person acts within them, and the ledger names who acted; a unit with
    nobody registered still acts as a whole."""
    clerk = await people.add("gov-office", "clerk", "发文")
    listing = await people.users("list", "--unit", "gov-office")
    assert "clerk\t张三\t发文\t13800000000\tactive\tperson" in listing

    async with people.client("gov-office", clerk, "clerk") as office:
        envelope, answer = await sent(office, pki)
        assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
        info = wire.Info(v=wire.VERSION, kind="update", title="三月工作动态", content="…",
                         period="2026-03", part="summary")  # fmt: skip
        assert refused(await office.request(info)) == "role_missing"
    ledger = router.handler.ledger
    assert [(c.type, c.outcome, c.person) for c in ledger.document_commands(envelope.id)] == [
        ("submit", "accepted", "clerk")
    ]

    # Finance registered nobody: its system acts for the whole unit, as before.
    async with people.client("finance") as finance:
        status = await finance.request(wire.StatusQuery(v=wire.VERSION, doc_id=envelope.id))
        assert isinstance(status, wire.DocumentStatus), status
    # Gov-office did: a command that names nobody is refused.
    async with people.client("gov-office") as anonymous:
        assert refused((await sent(anonymous, pki))[1]) == "person_required"


async def test_each_refusal_says_why(router: Router, people: People, pki: Pki) -> None:
    """§13–§15: someone not in the register, a forged signature, a disabled account and a
    credential revoked by a reset are each refused with their own reason."""
    clerk = await people.add("gov-office", "clerk", "send,receive")

    ghost = people.tmp_path / "ghost.credential"
    persons.new_credential(ghost, "gov-office", "ghost", "first")
    persons.change_password(ghost, "first", "ghost-own")
    async with people.client("gov-office", ghost, "ghost") as office:
        assert refused((await sent(office, pki))[1]) == "person_unknown"

    async with people.client("gov-office", clerk, "clerk") as office:
        assert office.credential is not None
        office.credential = dataclasses.replace(
            office.credential, _private_key=Ed25519PrivateKey.generate()
        )
        assert refused((await sent(office, pki))[1]) == "person_signature_invalid"

    renewed = await people.reset("gov-office", "clerk")
    async with people.client("gov-office", clerk, "clerk") as office:
        assert refused((await sent(office, pki))[1]) == "credential_revoked"
    async with people.client("gov-office", renewed, "clerk") as office:
        answer = (await sent(office, pki))[1]
        assert isinstance(answer, wire.Status) and answer.state == "accepted", answer

        await people.users("disable", "--unit", "gov-office", "clerk")
        assert refused((await sent(office, pki))[1]) == "person_disabled"
    assert "clerk\t张三\t发文,收文\t13800000000\tdisabled" in await people.users("list")


async def test_an_initial_password_is_changed_before_first_use(
    router: Router, people: People, unit_config: UnitConfigWriter
) -> None:
    """§15: a person changes the initial password at once; until then the client refuses to
    sign with the credential, and sends nothing."""
    clerk = await people.add("gov-office", "clerk", "发文", changed=False)
    password = people.tmp_path / "clerk.password"
    password.write_text(people.last_initial + "\n")
    settings = unit_config(
        "gov-office", person_credential=str(clerk), person_password_file=str(password)
    )
    code, out = await docex("unit", "--config", str(settings), "units")
    assert code == 2 and "still has its initial password" in out, out
    assert "docex users passwd" in out

    await people.passwd(clerk, people.last_initial, "clerk-own")
    password.write_text("clerk-own\n")
    code, out = await docex("unit", "--config", str(settings), "units")
    assert code == 0 and "finance" in out, out
    code, out = await docex(
        "users", "passwd", str(clerk),
        env={persons.PASSWORD_ENV: "wrong", "DOCEX_NEW_PERSON_PASSWORD": "x"},
    )  # fmt: skip
    assert code == 2 and "wrong password" in out, out


async def test_a_hot_folder_acts_as_the_units_system_account(
    router: Router, people: People, pki: Pki, empty_queues: None
) -> None:
    """§13: a unit system that acts as a whole (here the hot folder) is a named system account
    of the unit, with only the roles its administrator gives it; the ledger names it."""
    from docex.adapters.hotfolder.folder import Folder
    from docex.adapters.hotfolder.service import serve
    from docex.adapters.hotfolder.settings import HotFolderSettings
    from tests.conftest import SEAL_PASSWORD, eventually
    from tests.edge.test_hotfolder import drop, sidecar

    code, out = await docex(
        "users", "add", "--config", str(people.config_file), "--unit", "gov-office", "hotfolder",
        "--chinese-name", "收发室交换接口", "--roles", "发文", "--system",
        "--credential-out", str(people.tmp_path / "hotfolder.credential"),
    )  # fmt: skip
    assert code == 0 and "added system account hotfolder" in out, out
    credential = people.tmp_path / "hotfolder.credential"
    await people.passwd(credential, initial(out), "hotfolder-own")
    client = people.client("gov-office", credential, "hotfolder")
    settings = HotFolderSettings(
        unit=client.settings,
        folder=people.tmp_path / "folder",
        journal=people.tmp_path / "hotfolder-state" / "journal.sqlite",
        seal_password=SEAL_PASSWORD,
        sealed_by="收发室",
        poll_interval_s=0.05,
        max_document_bytes=1024 * 1024,
    )
    client.mailbox.close()
    stopping = asyncio.Event()
    task = asyncio.create_task(serve(settings, pki.signing["gov-office"], stopping))
    try:
        folder = Folder(settings.folder)
        await eventually(folder.outbox.exists, "the hot folder's outbox")
        drop(folder.outbox, "通知.pdf", sidecar("关于年终工作的通知", copies={"finance": 1}))
        note = folder.sent / "通知.pdf.sent.json"
        await eventually(note.exists, "the sent note")
        doc_id = json.loads(note.read_text())["id"]
        commands = router.handler.ledger.document_commands(doc_id)
        assert [(c.type, c.outcome, c.person) for c in commands] == [
            ("submit", "accepted", "hotfolder")
        ]
    finally:
        stopping.set()
        await asyncio.wait_for(task, 10)
    assert "hotfolder\t收发室交换接口\t发文\t-\tactive\tsystem" in await people.users("list")


async def test_once_a_unit_has_an_administrator_only_they_change_its_people(
    router: Router, people: People
) -> None:
    """§13: the General Office files a unit's administrator; from then on the unit's
    administrator opens, disables and resets its accounts, proving it with their own
    credential, and the register records who did."""
    admin = await people.add("finance", "admin", "管理")
    clerk_out = str(people.tmp_path / "clerk.credential")
    adding = [
        "add", "--config", str(people.config_file), "--unit", "finance", "clerk",
        "--chinese-name", "李四", "--roles", "收文", "--credential-out", clerk_out,
    ]  # fmt: skip

    code, out = await docex("users", *adding)
    assert code == 2 and "has an administrator (admin)" in out, out
    code, out = await docex(
        "users", *adding, "--by", "admin", "--by-credential", str(admin),
        env={persons.PASSWORD_ENV: "wrong"},
    )  # fmt: skip
    assert code == 2 and "wrong password" in out, out
    code, out = await docex(
        "users", *adding, "--by", "admin", "--by-credential", str(admin),
        env={persons.PASSWORD_ENV: "admin-own"},
    )  # fmt: skip
    assert code == 0, out
    await people.passwd(Path(clerk_out), initial(out), "clerk-own")

    code, out = await docex(
        "users", "disable", "--config", str(people.config_file), "--unit", "finance", "admin",
        "--by", "clerk", "--by-credential", clerk_out, env={persons.PASSWORD_ENV: "clerk-own"},
    )  # fmt: skip
    assert code == 2 and "'clerk' is not an active administrator" in out, out
    listing = await people.users("list", "--unit", "finance")
    assert "\tadmin\t" in listing and "\toffice" in listing, listing
    assert "clerk\t李四\t收文\t-\tactive\tperson" in listing and listing.endswith("\tadmin\n")


async def test_the_status_and_the_receipts_name_who_did_each_act(
    router: Router, people: People, pki: Pki, unit_config: UnitConfigWriter
) -> None:
    """§14: who sent a document, who received it, who printed which copies, who returned it
    and who withdrew it are named, with their Chinese names from the register (§13), in the
    sealed receipt, the news the sender gets and the status either unit asks for."""
    clerk = await people.add("gov-office", "clerk", "发文", chinese_name="王五")
    reader = await people.add("finance", "reader", "收文,打印", chinese_name="李四")
    returner = await people.add("education", "returner", "收文", chinese_name="赵六")
    wangwu = wire.Person(id="clerk", chinese_name="王五")
    lisi = wire.Person(id="reader", chinese_name="李四")
    zhaoliu = wire.Person(id="returner", chinese_name="赵六")

    async with (
        people.client("gov-office", clerk, "clerk") as office,
        people.client("finance", reader, "reader") as finance,
        people.client("education", returner, "returner") as education,
    ):
        envelope = sealed_envelope(
            pki.signing["gov-office"],
            to=["finance"],
            cc=["education"],
            print_quota={"finance": 3, "education": 1},
        )
        accepted = await office.request(submit(envelope))
        assert isinstance(accepted, wire.Status) and accepted.state == "accepted", accepted
        request, message_id = print_request(pki.verification["finance"], "finance", envelope.id, 2)
        granted = await finance.request(request, message_id=message_id)
        assert isinstance(granted, wire.PrintGrant), granted
        returned = await education.request(
            wire.Return(v=wire.VERSION, doc_id=envelope.id, reason="不属本单位办理")
        )
        assert isinstance(returned, wire.Status) and returned.state == "returned", returned

        def news(state: str) -> wire.Status | None:
            found = [s for s in office.mailbox.statuses(envelope.id) if s.state == state]
            return found[0] if found else None

        receipt = await office.wait_for(lambda: news("received"), 10)
        printed = await office.wait_for(lambda: news("printed"), 10)
        sent_back = await office.wait_for(lambda: news("returned"), 10)
        assert (receipt.person, printed.person, sent_back.person) == (lisi, lisi, zhaoliu)
        # The exchange's seal on the receipt covers who received it.
        assert receipt.seal is not None
        forged = msgspec.structs.replace(receipt, person=wangwu)
        assert wire.signed_bytes(forged) != wire.signed_bytes(receipt)

        status = await office.request(wire.StatusQuery(v=wire.VERSION, doc_id=envelope.id))
        assert isinstance(status, wire.DocumentStatus), status
        assert status.sent_by == wangwu
        by_unit = {r.recipient: r for r in status.recipients}
        assert by_unit["finance"].received_by == lisi
        assert [(p.first_copy, p.last_copy, p.person) for p in by_unit["finance"].prints] == [
            (1, 2, lisi)
        ]
        assert by_unit["education"].returned_by == zhaoliu
        assert by_unit["education"].received_by is None
        # A recipient sees its own delivery, named the same way.
        own = await finance.request(wire.StatusQuery(v=wire.VERSION, doc_id=envelope.id))
        assert isinstance(own, wire.DocumentStatus), own
        assert [r.recipient for r in own.recipients] == ["finance"]
        assert (own.sent_by, own.recipients[0].received_by) == (wangwu, lisi)

        second = sealed_envelope(pki.signing["gov-office"], print_quota={"finance": 1})
        assert isinstance(await office.request(submit(second)), wire.Status)
        result = await office.request(wire.Withdraw(v=wire.VERSION, doc_id=second.id))
        assert isinstance(result, wire.WithdrawResult) and result.withdrawn == ["finance"]
        status = await office.request(wire.StatusQuery(v=wire.VERSION, doc_id=second.id))
        assert isinstance(status, wire.DocumentStatus), status
        assert status.recipients[0].withdrawn_by == wangwu

    password = people.tmp_path / "clerk.password"
    password.write_text("clerk-own\n")
    settings = unit_config(
        "gov-office", person_credential=str(clerk), person_password_file=str(password)
    )
    code, out = await docex(
        "unit", "--config", str(settings), "status", envelope.id, env={"LANG": "zh_CN.UTF-8"}
    )
    assert code == 0, out
    assert "发送人 王五（clerk）" in out, out
    assert "李四（reader）" in out and "第 1–2 份" in out, out
    assert "education: 退回人 赵六（returner）" in out, out
    code, out = await docex("unit", "--config", str(settings), "status", envelope.id)
    assert code == 0 and "sent by clerk (王五)" in out and "returned by returner (赵六)" in out, out
