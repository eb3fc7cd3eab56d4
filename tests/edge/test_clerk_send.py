"""`docex unit … send` as a registrar uses it: safe to repeat, whether the router is up or not."""

from __future__ import annotations

from pathlib import Path

from docex.config import Config
from docex.router.service import Router
from tests.command_line import docex, sent_id
from tests.conftest import FakeClock, UnitClientFactory, UnitConfigWriter, eventually
from tests.documents import PDF


def send_command(config: Path, document: Path, *extra: str) -> list[str]:
    return [
        "unit", "--config", str(config), "send", str(document), "--to", "finance",
        "--copies-all", "2", "--title", "关于年终工作的通知",
        "--doc-no", "穗府办〔2026〕7号", *extra,
    ]  # fmt: skip


async def test_a_send_while_the_router_is_stopped_is_queued_and_repeating_it_sends_nothing(
    config: Config,
    config_file: Path,
    clock: FakeClock,
    empty_queues: None,
    unit_config: UnitConfigWriter,
    unit_client_for: UnitClientFactory,
    tmp_path: Path,
) -> None:
    """§30: the broker keeps a document sent while the router is away; a clerk who sends it
    again is shown the first id and nothing more goes out, so §35's quota counts once."""
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    office = unit_config("gov-office")

    code, out = await docex(*send_command(office, document, "--sealed-by", "张三"))
    assert code == 0, out
    assert "queued: will be delivered when the exchange is back" in out
    doc_id = sent_id(out)
    assert f"status {doc_id}" in out

    code, again = await docex(*send_command(office, document, "--sealed-by", "张三"))
    assert code == 1, again
    assert again.startswith("already sent:") and sent_id(again) == doc_id

    router = Router(config, clock, config_path=config_file)
    await router.start()
    try:
        async with unit_client_for("finance") as finance:
            await finance.wait_for(lambda: finance.mailbox.deliveries() or None, 10)
            await eventually(
                lambda: router.ledger.delivery(doc_id, "finance"), "the delivery in the ledger"
            )
            await finance.drain()
            delivered = [d.deliver.envelope for d in finance.mailbox.deliveries()]
        assert [(e.id, e.doc_no) for e in delivered] == [(doc_id, "穗府办〔2026〕7号")]
    finally:
        await router.stop(flush_timeout=2.0)


async def test_a_repeated_send_is_refused_with_the_first_id_unless_again(
    router: Router, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """§31: each send is a document with its own print quota; a repeat is one only on purpose."""
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    office = unit_config("gov-office", sealed_by="张三")  # who seals, set once (§29)

    code, out = await docex(*send_command(office, document))
    assert code == 0 and "accepted: sent at" in out, out
    first = sent_id(out)

    code, out = await docex(*send_command(office, document))
    assert code == 1 and sent_id(out) == first and "--again" in out, out

    code, out = await docex(*send_command(office, document, "--again"))
    assert code == 0 and "accepted" in out, out
    assert sent_id(out) != first
    assert router.ledger.document(first) and router.ledger.document(sent_id(out))


async def test_a_clerk_reads_chinese_where_the_locale_is_chinese(
    config: Config,
    empty_queues: None,
    unit_config: UnitConfigWriter,
    tmp_path: Path,
) -> None:
    """The same send, with the router away, told in Chinese under LANG=zh_CN.UTF-8 and in
    English under LANG=C; an error too."""
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    office = unit_config("gov-office", sealed_by="张三")
    chinese = {"LANG": "zh_CN.UTF-8"}

    code, out = await docex(*send_command(office, document), env=chinese)
    assert code == 0, out
    doc_id = sent_id(out.replace("编号 ", " id "))
    assert out.splitlines() == [
        f"已发出：穗府办〔2026〕7号《关于年终工作的通知》，编号 {doc_id}",
        f"已排队：交换系统恢复后即送达；可用 `docex unit status {doc_id}` 查看",
    ]
    code, out = await docex(*send_command(office, document))
    assert code == 1 and out.startswith("already sent:"), out

    code, out = await docex(*send_command(office, tmp_path / "none.pdf"), env=chinese)
    assert (code, out.strip()) == (2, f"错误：{tmp_path / 'none.pdf'}：文件不存在")


async def test_a_send_the_broker_never_took_goes_out_under_its_first_id(
    router: Router, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """With RabbitMQ unreachable nothing leaves; the clerk is told the same send will send
    this document, and it does: one document, the id named before."""
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    office = unit_config("gov-office", sealed_by="张三")
    unreachable = tmp_path / "unreachable.toml"
    unreachable.write_text(office.read_text().replace("@127.0.0.1:5672/", "@127.0.0.1:1/"))

    code, out = await docex(*send_command(unreachable, document))
    assert code == 3 and "cannot reach RabbitMQ at 127.0.0.1:1" in out, out
    assert len(out.strip().splitlines()) == 1 and "not sent yet" in out
    doc_id = out.split("sends document ")[1].split(",")[0]

    code, out = await docex(*send_command(office, document))
    assert code == 0 and sent_id(out) == doc_id and "accepted" in out, out
    assert router.ledger.document(doc_id) is not None


async def test_a_rejection_is_told_in_the_clerks_language(
    router: Router, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """The router writes its detail in English for every unit; the clerk's command writes it
    again in the clerk's language from the reason code and the values in it."""
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    office = unit_config("gov-office", sealed_by="张三")
    send = [
        "unit", "--config", str(office), "send", str(document), "--to", "nobody",
        "--copies-all", "1", "--title", "通知", "--doc-no", "穗府办〔2026〕8号",
    ]  # fmt: skip

    code, out = await docex(*send, env={"LANG": "zh_CN.UTF-8"})
    assert code == 1, out
    assert out.splitlines()[-1] == "被拒绝：收文单位未在交换系统登记：未登记的单位 'nobody'", out

    code, out = await docex(*send, "--again")
    assert code == 1, out
    assert out.splitlines()[-1] == (
        "rejected: unknown_recipient: no unit 'nobody' is registered"
    ), out
