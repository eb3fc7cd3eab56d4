"""What the receipt watch (§33, docex/router/receive_watch.py) reads from the ledger.

A mixin of the ledger's implementations: portable SQL over the tables they share. A reminder
sent is recorded with `flag_once(recipient, doc_id, REMINDED, at)`, in `info_flags`, so each
delivery is reminded of once, and never looked at again once it has been.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from docex.core.states import DeliveryState

# The `what` of a receipt reminder in info_flags; its subject is the document's id.
REMINDED = "receive_reminder"


class Unreceived(NamedTuple):
    doc_id: str
    recipient: str
    delivered_at: str


class ReceiptReminderReads:
    _db: Any

    def unreceived_unreminded(self, delivered_by: str) -> list[Unreceived]:
        """Deliveries in their recipient's queue since `delivered_by` or earlier, neither
        received nor reminded of, oldest first. Stamps are all in the exchange's time zone,
        so their text order is their time order."""
        rows = self._db.execute(
            "SELECT d.doc_id, d.recipient, d.delivered_at FROM deliveries d"
            " WHERE d.state = ? AND d.received_at IS NULL AND d.delivered_at <= ?"
            " AND NOT EXISTS (SELECT 1 FROM info_flags f"
            "   WHERE f.unit = d.recipient AND f.subject = d.doc_id AND f.what = ?)"
            " ORDER BY d.delivered_at, d.doc_id, d.recipient",
            (DeliveryState.DELIVERED.value, delivered_by, REMINDED),
        ).fetchall()
        return [Unreceived(*row) for row in rows]
