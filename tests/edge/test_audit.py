"""The audit chain end to end, on the run's ledger (--ledger): a document sent and received
leaves its events, the leader chains and signs them, `docex audit verify` passes, and a row
edited behind the router's back (sqlite3, or psycopg on PostgreSQL) is named, exit 1."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import psycopg

from docex import wire
from docex.config import load_config
from docex.ledger.location import is_postgresql
from docex.ledger.open import open_ledger
from docex.router.service import Router
from tests.conftest import FakeClock, Pki, UnitClientFactory
from tests.documents import sealed_envelope, submit


async def docex(*args: object) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "docex.cli", *map(str, args)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, output.decode()


async def test_the_chain_of_a_sent_document_verifies_and_an_edit_is_named(
    config_file: Path,
    clock: FakeClock,
    empty_queues: None,
    pki: Pki,
    unit_client_for: UnitClientFactory,
) -> None:
    config = load_config(config_file)
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    router = Router(config, clock, config_path=config_file)
    await router.start()
    try:
        async with unit_client_for("gov-office") as office, unit_client_for("finance") as finance:
            accepted = await office.request(submit(envelope))
            assert isinstance(accepted, wire.Status) and accepted.state == "accepted", accepted
            await finance.wait_for(lambda: finance.mailbox.delivery(envelope.id), timeout=10)
            receipt = await finance.request(
                wire.Receipt(v=wire.VERSION, doc_id=envelope.id, kind="read")
            )
            assert isinstance(receipt, wire.Status) and receipt.state == "received", receipt
        # The leader's chainer links them within a few seconds, and signs the head.
        for _ in range(100):
            if router.metrics.registry.get_sample_value("docex_audit_checkpoints_total"):
                ledger = open_ledger(config.router.ledger, read_only=True)
                waiting = ledger.unchained_count()
                ledger.close()
                if not waiting:
                    break
            await asyncio.sleep(0.2)
    finally:
        await router.stop(flush_timeout=2)

    code, output = await docex("audit", "verify", "--config", config_file)
    assert code == 0 and "audit chain ok" in output, output
    code, output = await docex("audit", "show", envelope.id, "--config", config_file)
    assert code == 0, output
    for what in ("accepted", "addressed", "delivered", "received"):
        assert what in output, output
    assert "not chained" not in output, output

    edit = "UPDATE audit_events SET unit = 'tax' WHERE what = 'received'"
    if is_postgresql(config.router.ledger):
        with psycopg.connect(str(config.router.ledger), autocommit=True) as db:
            db.execute(edit)  # type: ignore[arg-type]
    else:
        db = sqlite3.connect(config.router.ledger, isolation_level=None)
        db.execute(edit)
        db.close()
    code, output = await docex("audit", "verify", "--config", config_file)
    assert code == 1, output
    [line] = output.splitlines()
    assert "received" in line and envelope.id in line and "does not match" in line, line
