"""`docex unit … inbox` as a registrar reads it: what is new, files named as a clerk files
them, and a read receipt (§37) only for what was saved."""

from __future__ import annotations

from pathlib import Path

from docex.ledger.mailbox import Mailbox
from docex.router.service import Router
from tests.command_line import docex, sent_id
from tests.conftest import UnitConfigWriter, eventually
from tests.documents import PDF


async def test_inbox_shows_what_is_new_and_receipts_only_what_it_saved(
    router: Router, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """§37: the receipt time is when the unit took the document in; a document only listed
    on a terminal, not saved, is not yet taken in."""
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    office = unit_config("gov-office", sealed_by="张三")
    finance = unit_config("finance")
    code, out = await docex(
        "unit", "--config", str(office), "send", str(document), "--to", "finance",
        "--copies-all", "1", "--title", "关于年终工作的通知", "--doc-no", "穗府办〔2026〕5号",
    )  # fmt: skip
    assert code == 0, out
    doc_id = sent_id(out)
    await eventually(
        lambda: (d := router.ledger.delivery(doc_id, "finance")) and d.delivered_at, "delivery"
    )

    code, out = await docex("unit", "--config", str(finance), "inbox")
    assert code == 0 and out.startswith("穗府办〔2026〕5号 《关于年终工作的通知》 from gov-office")
    assert "receipt" not in out
    code, out = await docex("unit", "--config", str(finance), "inbox")
    assert (code, out.strip()) == (0, "no new documents (--all lists every one delivered)")
    code, out = await docex("unit", "--config", str(finance), "inbox", "--all")
    assert code == 0 and f"id {doc_id}" in out
    delivery = router.ledger.delivery(doc_id, "finance")
    assert delivery is not None and delivery.received_at is None

    save = tmp_path / "收文"
    code, out = await docex("unit", "--config", str(finance), "inbox", "--save", str(save))
    assert code == 0 and "read receipt sent (§37)" in out, out
    assert (save / "穗府办〔2026〕5号 关于年终工作的通知.pdf").read_bytes() == PDF
    await eventually(
        lambda: (d := router.ledger.delivery(doc_id, "finance")) and d.received_at, "receipt"
    )
    code, out = await docex("unit", "--config", str(finance), "inbox", "--save", str(save))
    assert (code, out.strip()) == (0, "no new documents (--all lists every one delivered)")


async def test_units_lists_who_is_on_the_exchange(
    router: Router, unit_config: UnitConfigWriter
) -> None:
    """§9: the units the router's config registers, with their Chinese names and state."""
    code, out = await docex("unit", "--config", str(unit_config("finance")), "units")
    assert code == 0, out
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["unit", "name", "state"]
    assert ["finance", "市财政局", "active"] in rows and ["archive", "市档案局", "revoked"] in rows


async def test_no_receipt_for_a_document_a_hot_folder_filed(
    router: Router, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """§37: the hot folder on the same unit filed it in its inbox/, where the clerk has not
    taken it in yet; `inbox --save` elsewhere does not receipt it behind the clerk's back."""
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    office = unit_config("gov-office", sealed_by="张三")
    finance = unit_config("finance")
    code, out = await docex(
        "unit", "--config", str(office), "send", str(document), "--to", "finance",
        "--copies-all", "1", "--title", "t", "--doc-no", "n",
    )  # fmt: skip
    doc_id = sent_id(out)
    await eventually(
        lambda: (d := router.ledger.delivery(doc_id, "finance")) and d.delivered_at, "delivery"
    )
    code, out = await docex("unit", "--config", str(finance), "inbox")
    assert code == 0, out
    folder_inbox = tmp_path / "hotfolder" / "inbox"
    folder_inbox.mkdir(parents=True)
    (folder_inbox / f"{doc_id}.pdf").write_bytes(PDF)
    mailbox = Mailbox(tmp_path / "mailboxes" / "finance.sqlite")
    mailbox.mark_saved(doc_id, str(folder_inbox / f"{doc_id}.pdf"))  # as the hot folder does
    mailbox.close()

    code, out = await docex(
        "unit", "--config", str(finance), "inbox", "--all", "--save", str(tmp_path / "cli")
    )
    assert code == 0 and "no receipt from here" in out and "receipt sent" not in out, out
    delivery = router.ledger.delivery(doc_id, "finance")
    assert delivery is not None and delivery.received_at is None
