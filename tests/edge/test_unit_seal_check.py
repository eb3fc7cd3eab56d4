"""§18: the recipient checks the sender's seal again, with the router's own check, so a
document changed or mislabelled on the way is refused at the unit too."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from docex import wire
from docex.config import Config
from docex.seals.seal import Seal
from tests.conftest import Pki, UnitClientFactory
from tests.documents import PDF, delivered, sealed_envelope
from tests.edge.test_hotfolder import publish_to_unit

Change = Callable[[wire.Envelope, Pki], wire.Envelope]


def another_seals_serial(envelope: wire.Envelope, pki: Pki) -> wire.Envelope:
    seal: Seal = pki.signing["education"]
    assert envelope.seal is not None
    return msgspec.structs.replace(
        envelope, seal=msgspec.structs.replace(envelope.seal, serial=seal.serial)
    )


CASES: dict[str, tuple[Change, str]] = {
    "no seal": (lambda envelope, pki: msgspec.structs.replace(envelope, seal=None), "unsealed"),
    "title changed": (
        lambda envelope, pki: msgspec.structs.replace(envelope, title="篡改的标题"),
        "seal_bad_signature",
    ),
    "body changed": (
        lambda envelope, pki: msgspec.structs.replace(envelope, content=PDF + b"%x"),
        "content_hash_mismatch",
    ),
    "serial of another seal": (another_seals_serial, "seal_serial_mismatch"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_delivery_whose_seal_does_not_hold_is_refused_by_the_unit(
    case: str, empty_queues: None, config: Config, pki: Pki, unit_client_for: UnitClientFactory
) -> None:
    change, code = CASES[case]
    envelope = change(sealed_envelope(pki.signing["gov-office"]), pki)
    await publish_to_unit(config, "finance", wire.encode(delivered(envelope)))
    async with unit_client_for("finance") as finance:
        assert await finance.drain() == 1
        stored = finance.mailbox.delivery(envelope.id)
    assert stored is not None and stored.seal_error.startswith(f"{code}:"), stored
