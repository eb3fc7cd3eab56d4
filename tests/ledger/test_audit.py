"""The audit chain and retention, on both ledgers: every state change is an event written in
its own transaction, the chain links them in one order, a checkpoint signs the head, and a
row edited behind the router's back is named by `verify_ledger`."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from docex.config import RetentionSettings
from docex.core.states import DeliveryState
from docex.ledger import audit
from docex.ledger.errors import DocumentExpired
from docex.ledger.open import open_ledger
from docex.ledger.port import Ledger
from docex.ledger.retention import prune
from tests.ledger.stored import add_document

AT = "2026-03-02T10:00:00+08:00"


def _certificate(
    issuer_key: Ed25519PrivateKey, subject_key: Ed25519PrivateKey, name: str, issuer: str
) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(issuer_key, None)
    )


@pytest.fixture
def seal() -> tuple[Ed25519PrivateKey, bytes, x509.Certificate]:
    from cryptography.hazmat.primitives.serialization import Encoding

    ca_key, key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ca = _certificate(ca_key, ca_key, "CA", "CA")
    cert = _certificate(ca_key, key, "exchange", "CA")
    return key, cert.public_bytes(Encoding.DER), ca


def _history(ledger: Ledger) -> None:
    with ledger.transaction():
        add_document(ledger, "doc-1", ["audit", "tax"])
    with ledger.transaction():
        assert ledger.mark_delivered("doc-1", "audit", AT)
        assert ledger.mark_received("doc-1", "audit", AT, AT[:10])
        assert ledger.add_printed("doc-1", "audit", 2, 0)
        assert ledger.move("doc-1", "tax", DeliveryState.WITHDRAWN)


def test_every_state_change_is_an_event_and_the_chain_verifies(ledger: Ledger, seal) -> None:  # type: ignore[no-untyped-def]
    key, cert_der, ca = seal
    _history(ledger)
    _chain_all(ledger, 5)
    with ledger.transaction():
        checkpoint = ledger.add_checkpoint(key.sign, cert_der, AT)
    assert checkpoint is not None and checkpoint.seq == 5
    events = ledger.document_events("doc-1")
    assert [e.what for e in events] == [
        "accepted",
        "delivered",
        "received",
        "printed",
        "withdrawn",
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert '"copies":[1,2]' in events[3].detail
    assert audit.verify_ledger(ledger, ca) == (5, 1)
    # Nothing new: no second checkpoint, nothing chained.
    with ledger.transaction():
        assert ledger.chain_events() == 0
        assert ledger.add_checkpoint(key.sign, cert_der, AT) is None


def test_a_refused_move_is_no_event(ledger: Ledger) -> None:
    _history(ledger)
    with ledger.transaction():
        assert not ledger.move("doc-1", "tax", DeliveryState.RETURNED)
    assert len(ledger.document_events("doc-1")) == 5


def test_a_signature_by_another_key_is_found(ledger: Ledger, seal) -> None:  # type: ignore[no-untyped-def]
    _key, cert_der, ca = seal
    _history(ledger)
    _chain_all(ledger, 5)
    with ledger.transaction():
        ledger.add_checkpoint(Ed25519PrivateKey.generate().sign, cert_der, AT)
    with pytest.raises(audit.ChainBroken, match=r"audit_checkpoints seq 5.*signature"):
        audit.verify_ledger(ledger, ca)


def _chain_all(ledger: Ledger, expected: int, timeout: float = 30.0) -> None:
    """Chain until `expected` records are in. On PostgreSQL a transaction open anywhere on the
    server (other databases too: the snapshot's xmin is the server's) holds the chainer back
    until it ends; the test server is shared."""
    chained = 0
    deadline = time.monotonic() + timeout
    while chained < expected and time.monotonic() < deadline:
        with ledger.transaction():
            chained += ledger.chain_events()
        if chained < expected:
            time.sleep(0.1)
    assert chained == expected


def test_a_chain_cut_short_under_its_checkpoint_is_found(ledger_url: str, seal) -> None:  # type: ignore[no-untyped-def]
    key, cert_der, ca = seal
    ledger = open_ledger(ledger_url)
    _history(ledger)
    _chain_all(ledger, 5)
    with ledger.transaction():
        ledger.add_checkpoint(key.sign, cert_der, AT)
    _edit(ledger_url, "DELETE FROM audit_chain WHERE seq = 5")
    with pytest.raises(audit.ChainBroken, match=r"audit_checkpoints seq 5 .*no record 5"):
        audit.verify_ledger(ledger, ca)
    ledger.close()


def _edit(ledger_url: str, sql: str) -> None:
    if ledger_url.startswith("postgresql"):
        with psycopg.connect(ledger_url, autocommit=True) as db:
            db.execute(sql)  # type: ignore[arg-type]
    else:
        db = sqlite3.connect(ledger_url, isolation_level=None)
        db.execute(sql)
        db.close()


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ("UPDATE audit_events SET unit = 'tax' WHERE id = 4", "seq 4 .*content does not match"),
        ("DELETE FROM audit_chain WHERE seq = 3", "seq 4 .*prev_hash|seq 3 is missing"),
        ("DELETE FROM audit_events WHERE id = 2", "seq 2 .*row is missing"),
    ],
)
def test_an_edited_row_is_named(ledger_url: str, seal, edit: str, named: str) -> None:  # type: ignore[no-untyped-def]
    _, _, ca = seal
    ledger = open_ledger(ledger_url)
    _history(ledger)
    _chain_all(ledger, 5)
    _edit(ledger_url, edit)
    with pytest.raises(audit.ChainBroken, match=named):
        audit.verify_ledger(ledger, ca)
    ledger.close()


def test_bodies_past_their_days_are_emptied_and_evidence_kept(ledger: Ledger) -> None:
    document = add_document_at(ledger, "doc-1", "2026-03-02T09:00:00+08:00", b"old body")
    add_document_at(ledger, "doc-2", "2026-06-02T09:00:00+08:00", b"new body")
    now = datetime(2026, 6, 10, tzinfo=UTC)
    done = prune(ledger, RetentionSettings(body_days=30), now, batch=1)
    assert (done.bodies, done.evidence) == (1, {})
    with pytest.raises(DocumentExpired):
        ledger.content(document.sha256)
    assert ledger.content_pruned_at(document.sha256) is not None
    assert ledger.document("doc-1") is not None
    assert "body_deleted" in [e.what for e in ledger.document_events("doc-1")]
    done = prune(ledger, RetentionSettings(evidence_years=1), datetime(2027, 4, 1, tzinfo=UTC))
    assert done.evidence["documents"] == 1 and done.evidence["deliveries"] == 1
    assert ledger.document("doc-1") is None and ledger.document("doc-2") is not None


def test_the_chain_still_verifies_after_evidence_is_pruned(ledger: Ledger, seal) -> None:  # type: ignore[no-untyped-def]
    key, cert_der, ca = seal
    ledger.audit_clock = lambda: datetime(2000, 3, 2, 1, tzinfo=UTC)  # type: ignore[misc]
    add_document_at(ledger, "doc-1", "2000-03-02T09:00:00+08:00", b"old")
    ledger.audit_clock = lambda: datetime(2026, 3, 2, 1, tzinfo=UTC)  # type: ignore[misc]
    add_document_at(ledger, "doc-2", "2026-03-02T09:00:00+08:00", b"new")
    _chain_all(ledger, 2)
    with ledger.transaction():
        ledger.add_checkpoint(key.sign, cert_der, AT)
    done = prune(ledger, RetentionSettings(), datetime(2031, 1, 1, tzinfo=UTC))
    assert done.evidence["audit_chain"] == 1
    assert audit.verify_ledger(ledger, ca) == (1, 1)


def add_document_at(ledger: Ledger, doc_id: str, sent_at: str, body: bytes):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from tests.ledger.stored import stored_document

    document = replace(stored_document(doc_id, body), sent_at=sent_at)
    with ledger.transaction():
        ledger.insert_document(document, body, command_id=f"cmd-{doc_id}")
        ledger.insert_delivery(doc_id, "audit", "main", 1)
    return document


def test_concurrent_writers_leave_a_gap_free_chain(ledger_url: str, seal) -> None:  # type: ignore[no-untyped-def]
    """Two sessions write events while a third chains: an event of a transaction still open
    is not skipped, whatever order the transactions commit in."""
    if not ledger_url.startswith("postgresql"):
        pytest.skip("one writer on SQLite")
    _, _, ca = seal
    chainer = open_ledger(ledger_url)
    writers = [open_ledger(ledger_url) for _ in range(2)]
    slow_open = threading.Event()
    release = threading.Event()

    # The first writer opens a transaction and holds it while the second commits many.
    def hold() -> None:
        with writers[0].transaction():
            writers[0].record_event("held", unit="a")
            slow_open.set()
            release.wait(10)

    def write(n: int) -> None:
        for i in range(n):
            with writers[1].transaction():
                writers[1].record_event("quick", unit=str(i))

    holder = threading.Thread(target=hold)
    holder.start()
    slow_open.wait(10)
    write(20)
    with chainer.transaction():
        # The held transaction is older than every quick one: none may be chained before it.
        assert chainer.chain_events() == 0
    release.set()
    holder.join()
    _chain_all(chainer, 21)
    # Both sessions write at once while the chainer chains as it goes.
    stop = threading.Event()
    chained = 0

    def chain() -> None:
        nonlocal chained
        while not stop.is_set():
            with chainer.transaction():
                chained += chainer.chain_events()

    def burst(ledger: Ledger, name: str) -> None:
        for i in range(50):
            with ledger.transaction():
                ledger.record_event("burst", unit=name, n=i)
                ledger.record_event("burst", unit=name, n=-i)

    threads = [
        threading.Thread(target=chain),
        *(threading.Thread(target=burst, args=(w, f"w{n}")) for n, w in enumerate(writers)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads[1:]:
        thread.join()
    stop.set()
    threads[0].join()
    _chain_all(chainer, 200 - chained)
    assert audit.verify_ledger(chainer, ca) == (221, 0)
    assert chainer.unchained_count() == 0
    for opened in [chainer, *writers]:
        opened.close()
