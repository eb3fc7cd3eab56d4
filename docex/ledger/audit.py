"""The audit chain: what the exchange did, in an order nobody can quietly rewrite.

Every state change writes an `audit_events` row in the transaction that makes it (sql.py's
write methods do, so no path can forget): what happened, to which document and unit, when, a
small JSON detail, and the sha256 of those (`event_hash`). The leader's chainer appends the
committed events to `audit_chain` one by one, `hash = sha256(prev_hash || event_hash || seq)`,
and now and then signs the head with the exchange seal (`audit_checkpoints`). `verify` redoes
all of it from the rows and names the first one that does not add up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from docex.i18n import _

if TYPE_CHECKING:
    from docex.ledger.port import LedgerReads

GENESIS = bytes(32)


@dataclass(frozen=True)
class AuditEvent:
    id: int
    what: str
    doc_id: str | None
    unit: str | None
    at: str
    detail: str  # JSON, keys sorted
    hash: bytes
    seq: int | None = None  # its place in the chain; None until chained


@dataclass(frozen=True)
class ChainLink:
    """One chain record beside the event it chains (None: the event row is gone)."""

    seq: int
    event_id: int
    prev_hash: bytes
    hash: bytes
    event: AuditEvent | None


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: bytes
    signature: bytes
    certificate: bytes
    at: str


def detail_text(detail: dict[str, Any]) -> str:
    return json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_hash(what: str, doc_id: str | None, unit: str | None, at: str, detail: str) -> bytes:
    canonical = json.dumps(
        [what, doc_id, unit, at, detail], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).digest()


def chain_hash(prev_hash: bytes, event: bytes, seq: int) -> bytes:
    return hashlib.sha256(prev_hash + event + seq.to_bytes(8, "big")).digest()


def checkpoint_bytes(seq: int, head: bytes) -> bytes:
    """What the exchange seal signs: the chain's head at `seq`."""
    return b"docex audit checkpoint\n" + seq.to_bytes(8, "big") + head


class ChainBroken(Exception):
    """The first record that does not add up, in one line."""


def verify_links(
    links: Iterable[ChainLink], first_prev: bytes | None = None
) -> tuple[int, dict[int, bytes]]:
    """Recompute every event's hash and every chain hash, in seq order; raise ChainBroken at
    the first that differs. Returns how many records, and each seq's hash (for checkpoints).
    `first_prev`: the hash the first record must follow (GENESIS when the chain starts at 1;
    a chain whose start was pruned by retention follows what its first record says)."""
    expected_seq: int | None = None
    prev: bytes | None = first_prev
    heads: dict[int, bytes] = {}
    count = 0
    for link in links:
        event = link.event
        what = " ".join(filter(None, [event.what, event.doc_id])) if event is not None else ""
        where = (
            _("audit_chain seq {seq} (event {event}, {what})")
            if what
            else _("audit_chain seq {seq} (event {event})")
        ).format(seq=link.seq, event=link.event_id, what=what)
        if expected_seq is not None and link.seq != expected_seq:
            raise ChainBroken(
                _("{where}: seq {seq} is missing").format(where=where, seq=expected_seq)
            )
        if expected_seq is None and link.seq == 1 and prev is None:
            prev = GENESIS
        if event is None:
            raise ChainBroken(_("{where}: its audit_events row is missing").format(where=where))
        recomputed = event_hash(event.what, event.doc_id, event.unit, event.at, event.detail)
        if recomputed != event.hash:
            raise ChainBroken(
                _("{where}: the event's content does not match its hash").format(where=where)
            )
        if prev is not None and link.prev_hash != prev:
            raise ChainBroken(
                _("{where}: prev_hash is not the hash of seq {seq}").format(
                    where=where, seq=link.seq - 1
                )
            )
        if chain_hash(link.prev_hash, event.hash, link.seq) != link.hash:
            raise ChainBroken(_("{where}: the chain hash does not match").format(where=where))
        prev = link.hash
        heads[link.seq] = link.hash
        expected_seq = link.seq + 1
        count += 1
    return count, heads


def verify_checkpoint(
    checkpoint: Checkpoint,
    heads: Callable[[int], bytes | None],
    ca: x509.Certificate,
    first_seq: int | None = None,
) -> None:
    """`first_seq`: where the kept chain starts (None: it is empty)."""
    where = _("audit_checkpoints seq {seq} (signed {at})").format(
        seq=checkpoint.seq, at=checkpoint.at
    )
    head = heads(checkpoint.seq)
    if head is None:
        if first_seq is None or checkpoint.seq >= first_seq:
            raise ChainBroken(
                _("{where}: the chain has no record {seq}").format(where=where, seq=checkpoint.seq)
            )
        return  # before the chain's pruned start
    if head != checkpoint.hash:
        raise ChainBroken(
            _("{where}: the chain's hash at that seq is not the one signed").format(where=where)
        )
    try:
        certificate = x509.load_der_x509_certificate(checkpoint.certificate)
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise ChainBroken(
            _("{where}: its certificate is not one the exchange CA issued").format(where=where)
        ) from None
    key = certificate.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ChainBroken(_("{where}: its certificate is not an Ed25519 seal").format(where=where))
    try:
        key.verify(checkpoint.signature, checkpoint_bytes(checkpoint.seq, checkpoint.hash))
    except InvalidSignature:
        raise ChainBroken(
            _("{where}: the seal's signature does not match").format(where=where)
        ) from None


def verify_ledger(ledger: LedgerReads, ca: x509.Certificate, page: int = 5000) -> tuple[int, int]:
    """Recompute the whole chain and check every checkpoint; ChainBroken names the first bad
    record. Returns (records, checkpoints)."""
    heads: dict[int, bytes] = {}
    total = 0
    after = 0
    prev: bytes | None = None
    first_seq: int | None = None
    while True:
        links = ledger.chain_links(after, page)
        if not links:
            break
        if first_seq is None:
            first_seq = links[0].seq
        count, found = verify_links(links, prev)
        total += count
        heads.update(found)
        after, prev = links[-1].seq, links[-1].hash
    checkpoints = ledger.checkpoints()
    for checkpoint in checkpoints:
        verify_checkpoint(checkpoint, ledger.chain_hash_at, ca, first_seq)
    return total, len(checkpoints)
