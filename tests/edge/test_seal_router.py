"""A revoked seal at the real router and at a real recipient: judged at acceptance time.

The router here trusts a CA of its own, made by the real ca-init ceremony, with the
revocation list the destroy ceremony wrote named in its config (relative to the file).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest

from docex import wire
from docex.config import load_config
from docex.router.service import Router
from docex.seals import ceremony
from docex.seals.errors import SealError
from docex.seals.kinds import SealKind
from docex.seals.revocation import REVOCATION_LIST_FILE, Reason
from docex.seals.seal import Seal
from docex.unit.client import UnitClient
from tests.conftest import FakeClock, Pki, UnitClientFactory, unit_settings, write_router_config
from tests.documents import sealed_envelope, submit
from tests.seals.test_seal_ceremony import (
    APPROVAL,
    NOW,
    PASSWORD,
    Office,
    establish_office,
    make_seal,
)

REVOKED_AT = NOW + timedelta(hours=1)
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class RevokedSeal:
    office: Office
    seal: Seal  # gov-office's signing seal, reported lost at REVOKED_AT
    list_before: Path  # the CA's revocation list as it was before that


@pytest.fixture
def revoked(tmp_path: Path) -> RevokedSeal:
    office = establish_office(tmp_path / "office")
    seal = make_seal(office, tmp_path / "gov-office.carrier", unit="gov-office")
    make_seal(office, tmp_path / "exchange.carrier", unit="exchange", kind=SealKind.EXCHANGE)
    (tmp_path / "exchange.password").write_text(PASSWORD)
    list_before = shutil.copy(office.ca_dir / REVOCATION_LIST_FILE, tmp_path / "before.crl")
    ceremony.destroy(
        office.ca_dir,
        office.presence("gov-office"),
        seal.serial,
        Reason.LOST,
        now=REVOKED_AT,
        approval=APPROVAL,
    )
    return RevokedSeal(office, seal, list_before)


@pytest.fixture
def config_file(
    tmp_path: Path, prefix: str, pki: Pki, broker_users: Path, revoked: RevokedSeal
) -> Path:
    """conftest's router config, trusting this module's CA and its revocation list."""
    path = write_router_config(tmp_path / "router.toml", prefix, pki, tmp_path / "ledger.sqlite")
    replacements = {
        f'ca_certificate = "{pki.ca_certificate}"': (
            f'ca_certificate = "{revoked.office.ca_dir / "ca.crt"}"\n'
            f'revocation_list = "office/ca/{REVOCATION_LIST_FILE}"'
        ),
        str(pki.directory / "exchange.carrier"): str(tmp_path / "exchange.carrier"),
        str(pki.directory / "exchange.password"): str(tmp_path / "exchange.password"),
    }
    text = path.read_text()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    return path


@pytest.fixture
def recipient(
    prefix: str, pki: Pki, broker_users: Path, tmp_path: Path, revoked: RevokedSeal
) -> UnitClient:
    """Finance's client, trusting the same CA and revocation list as the router."""
    settings = unit_settings(prefix, pki, broker_users, "finance", tmp_path / "mailboxes")
    return UnitClient(
        msgspec.structs.replace(
            settings,
            ca_certificate=str(revoked.office.ca_dir / "ca.crt"),
            revocation_list=str(revoked.office.ca_dir / REVOCATION_LIST_FILE),
        )
    )


async def test_a_revoked_seal_is_judged_at_acceptance_time(
    router: Router,
    clock: FakeClock,
    unit_client_for: UnitClientFactory,
    recipient: UnitClient,
    revoked: RevokedSeal,
) -> None:
    """§25, §9: a seal reported lost is revoked at the ceremony. What the router accepted one
    second before still verifies, at the router and at the recipient; what comes one second
    after is refused by both, whatever sealing time it claims."""
    async with unit_client_for("gov-office") as sender, recipient:
        clock.current = REVOKED_AT - SECOND
        before = sealed_envelope(revoked.seal, now=clock.current)
        answer = await sender.request(submit(before))
        assert isinstance(answer, wire.Status)
        assert (answer.state, answer.reason) == ("accepted", ""), answer.message

        clock.current = REVOKED_AT + SECOND
        # Claims to have been sealed an hour before the revocation.
        after = sealed_envelope(revoked.seal, now=REVOKED_AT - timedelta(hours=1))
        answer = await sender.request(submit(after))
        assert isinstance(answer, wire.Status)
        assert (answer.state, answer.reason) == ("rejected", "seal_revoked")
        assert revoked.seal.serial in answer.message
        assert f"revoked (lost) at {REVOKED_AT.isoformat()}" in answer.message

        def find() -> wire.Deliver | None:
            stored = recipient.mailbox.delivery(before.id)
            return stored.deliver if stored else None

        deliver = await recipient.wait_for(find, timeout=10)
        stored = recipient.mailbox.delivery(before.id)
        assert stored is not None and stored.seal_error == ""
        # The acceptance time the recipient judges by is the router's, one second before.
        assert deliver.sent_at.startswith("2026-11-26T10:59:59")

        # Had the router delivered the late document, the recipient would refuse it as well.
        late = msgspec.structs.replace(
            deliver, envelope=after, sent_at=(REVOKED_AT + SECOND).isoformat()
        )
        error = recipient._check_seal(late)
        assert error.startswith("seal_revoked: ") and revoked.seal.serial in error


def test_the_router_and_units_refuse_a_revocation_list_the_ca_did_not_sign(
    tmp_path: Path, config_file: Path, recipient: UnitClient, revoked: RevokedSeal
) -> None:
    """§25: only the CA revokes; a list signed by anyone else stops the router from starting
    and a unit's client from being made, rather than being believed or ignored."""
    other = establish_office(tmp_path / "other")
    shutil.copy(other.ca_dir / REVOCATION_LIST_FILE, revoked.office.ca_dir / REVOCATION_LIST_FILE)
    with pytest.raises(SealError) as e:
        Router(load_config(config_file))
    assert e.value.code == "revocation_list_untrusted"
    recipient.mailbox.close()
    with pytest.raises(SealError) as e:
        UnitClient(recipient.settings)
    assert e.value.code == "revocation_list_untrusted"


async def test_a_reload_takes_a_newer_revocation_list_and_refuses_an_older_one(
    config_file: Path,
    empty_queues: None,
    clock: FakeClock,
    unit_client_for: UnitClientFactory,
    revoked: RevokedSeal,
    tmp_path: Path,
) -> None:
    """§25: the list a destroy ceremony writes takes effect at the next reload (SIGHUP),
    without a restart; a list older than the one in use is refused and changes nothing, so a
    revocation cannot be undone by putting back an old file."""
    in_use = revoked.office.ca_dir / REVOCATION_LIST_FILE
    after_ceremony = shutil.copy(in_use, tmp_path / "after.crl")
    shutil.copy(revoked.list_before, in_use)
    router = Router(load_config(config_file), clock, config_path=config_file)
    await router.start()
    clock.current = REVOKED_AT + SECOND

    async def outcome(sender: UnitClient) -> tuple[str, str]:
        answer = await sender.request(submit(sealed_envelope(revoked.seal, now=clock.current)))
        assert isinstance(answer, wire.Status)
        return answer.state, answer.reason

    def reload_failures() -> float | None:
        labels = {"result": "failure"}
        return router.metrics.registry.get_sample_value("docex_config_reload_total", labels)

    try:
        async with unit_client_for("gov-office") as sender:
            assert await outcome(sender) == ("accepted", "")

            shutil.copy(after_ceremony, in_use)
            assert await router.reload()
            assert await outcome(sender) == ("rejected", "seal_revoked")

            shutil.copy(revoked.list_before, in_use)
            assert not await router.reload()
            assert reload_failures() == 1
            assert await outcome(sender) == ("rejected", "seal_revoked")
    finally:
        await router.stop(flush_timeout=2.0)
