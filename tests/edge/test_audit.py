"""The audit chain end to end, on the run's ledger (--ledger): a document sent and received
leaves its events, the leader chains and signs them, `docex audit verify` passes, and a row
edited behind the router's back (sqlite3, or psycopg on PostgreSQL) is named, exit 1."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from docex import wire
from docex.config import RetentionSettings, load_config
from docex.ledger.location import is_postgresql
from docex.ledger.open import open_ledger
from docex.ledger.retention import prune
from docex.router import service
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.command_line import docex
from tests.conftest import FakeClock, Pki, UnitClientFactory
from tests.documents import sealed_envelope, submit


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
    for what in ("accepted", "delivered", "received"):
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


async def test_each_round_of_the_chainer_links_every_event_waiting(
    config_file: Path, clock: FakeClock, empty_queues: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a sustained 200 documents/s about 400 events a second are committed; a chainer that
    linked one batch a round fell further behind each round. The first signed checkpoint
    comes after the first round: it covers every event committed before the router started,
    however many batches that takes — also on a machine booted a minute ago, whose
    monotonic clock is still below the 5 minutes between checkpoints."""
    monkeypatch.setattr(service, "time", SimpleNamespace(monotonic=lambda: 60.0))
    config = load_config(config_file)
    waiting = 1_234
    ledger = open_ledger(config.router.ledger)
    with ledger.transaction():
        for n in range(waiting):
            ledger.record_event("unit_renamed", unit="finance", n=n)
    ledger.close()
    router = Router(config, clock, config_path=config_file)
    await router.start()
    try:
        for _ in range(200):
            if router.metrics.registry.get_sample_value("docex_audit_checkpoints_total"):
                break
            await asyncio.sleep(0.1)
    finally:
        await router.stop(flush_timeout=2)
    ledger = open_ledger(config.router.ledger, read_only=True)
    try:
        checkpoints = ledger.checkpoints()
    finally:
        ledger.close()
    assert checkpoints, "the router signed no checkpoint within 20 s"
    assert checkpoints[0].seq >= waiting, checkpoints[0].seq


async def test_a_resend_of_a_body_retention_deleted_is_refused_as_expired(
    router: Router, units: dict[str, UnitClient], pki: Pki, clock: FakeClock
) -> None:
    """Retention with an injected clock: a body past `body_days` is emptied (its hash and
    evidence kept), and a resend, which would render the delivery from it, is refused."""
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    accepted = await units["gov-office"].request(submit(envelope))
    assert isinstance(accepted, wire.Status) and accepted.state == "accepted", accepted
    await units["finance"].wait_for(lambda: units["finance"].mailbox.delivery(envelope.id), 10)
    asked = await units["finance"].request(
        wire.ResendRequest(v=wire.VERSION, doc_id=envelope.id, reason="文件打不开")
    )
    assert isinstance(asked, wire.Status) and asked.state == "resend_requested", asked

    later = clock.now() + timedelta(days=31)
    done = prune(router.ledger, RetentionSettings(body_days=30), later)
    assert done.bodies == 1 and done.evidence == {}, done

    answer = await units["gov-office"].request(
        wire.Resend(v=wire.VERSION, doc_id=envelope.id, recipient="finance")
    )
    assert isinstance(answer, wire.Status) and answer.reason == "document_expired", answer
    assert router.ledger.document(envelope.id) is not None
    assert "body_deleted" in [e.what for e in router.ledger.document_events(envelope.id)]


async def test_docex_ledger_prune_empties_old_bodies_and_says_so(
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
        async with unit_client_for("gov-office") as office:
            accepted = await office.request(submit(envelope))
            assert isinstance(accepted, wire.Status) and accepted.state == "accepted", accepted
    finally:
        await router.stop(flush_timeout=2)
    # The fake clock sent it days before the real clock `docex ledger prune` reads.
    assert clock.now() < datetime.now(UTC) - timedelta(days=2)
    config_file.write_text(config_file.read_text() + "\n[retention]\nbody_days = 1\n")
    code, output = await docex("ledger", "prune", "--config", config_file)
    assert code == 0, output
    assert "bodies sent before" in output  # progress
    assert output.splitlines()[-1].startswith("pruned 1 bodies"), output
    ledger = open_ledger(config.router.ledger, read_only=True)
    try:
        document = ledger.document(envelope.id)
        assert document is not None and ledger.content_pruned_at(document.sha256)
    finally:
        ledger.close()
