"""A ledger backed up while the router runs, restored under a new router: it remembers every
command it applied, so a command the broker delivers again is applied once, and receipts stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from docex import wire
from docex.config import load_config
from docex.ids import uuid7
from docex.router.service import Router
from tests.command_line import docex
from tests.conftest import FakeClock, Pki, UnitClientFactory
from tests.documents import sealed_envelope, submit

# The SQLite file's backup and restore; a PostgreSQL ledger is PostgreSQL's to back up.
pytestmark = pytest.mark.sqlite_only


async def test_a_restored_ledger_knows_its_commands_and_receipts(
    config_file: Path,
    clock: FakeClock,
    empty_queues: None,
    pki: Pki,
    tmp_path: Path,
    unit_client_for: UnitClientFactory,
) -> None:
    backup = tmp_path / "backup" / "ledger-backup.sqlite"
    backup.parent.mkdir()
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    message_id = uuid7()
    first = Router(load_config(config_file), clock, config_path=config_file)
    await first.start()
    try:
        async with unit_client_for("gov-office") as office, unit_client_for("finance") as finance:
            accepted = await office.request(submit(envelope), message_id=message_id)
            assert isinstance(accepted, wire.Status) and accepted.state == "accepted", accepted
            await finance.wait_for(lambda: finance.mailbox.delivery(envelope.id), timeout=10)
            receipt = await finance.request(
                wire.Receipt(v=wire.VERSION, doc_id=envelope.id, kind="read")
            )
            assert isinstance(receipt, wire.Status) and receipt.state == "received", receipt
            # Online: the router is running and holds the ledger open.
            code, output = await docex("ledger", "backup", "--config", config_file, backup)
            assert code == 0, output
    finally:
        await first.stop(flush_timeout=2)

    # Another machine: its config names a ledger that does not exist until it is restored.
    restored = tmp_path / "new-machine" / "ledger.sqlite"
    text = config_file.read_text()
    config_file.write_text(text.replace(str(tmp_path / "ledger.sqlite"), str(restored)))
    code, output = await docex("router", "run", "--config", config_file)
    assert code == 2 and "docex ledger init" in output, output
    code, output = await docex("ledger", "restore", "--config", config_file, backup)
    assert (code, output) == (0, f"restored {restored} from {backup}\n")

    second = Router(load_config(config_file), clock, config_path=config_file)
    await second.start()
    try:
        async with unit_client_for("gov-office") as office:
            # The broker delivers the submit again (say, its ack was lost with the old machine).
            await office.publish(submit(envelope), message_id)
            answer = await office.request(wire.StatusQuery(v=wire.VERSION, doc_id=envelope.id))
            # One unit's commands are applied in order: the one before was seen by now.
            assert isinstance(answer, wire.DocumentStatus), answer
            [finance_state] = answer.recipients
            assert (finance_state.state, finance_state.received_at) == ("received", receipt.at)
            rejected = second.metrics.registry.get_sample_value(
                "docex_commands_rejected_total", {"reason": "duplicate_document"}
            )
            assert rejected is None
            assert second.metrics.registry.get_sample_value("docex_documents_accepted_total") == 0
    finally:
        await second.stop(flush_timeout=2)
