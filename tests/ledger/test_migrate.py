"""`docex ledger migrate`: an embedded exchange moves into PostgreSQL with nothing lost."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from docex.core.states import DeliveryState
from docex.ledger import audit, lock
from docex.ledger.open import open_ledger
from docex.ledger.port import Ledger
from docex.ledger.records import DeliveryAct, StoredInfo
from tests.ledger.stored import add_document
from tests.postgres import schema_url

AT = "2026-03-02T10:00:00+08:00"


def fill(ledger: Ledger) -> None:
    """A little of everything the ledger keeps."""
    with ledger.transaction():
        for number in range(30):
            add_document(ledger, f"d{number}", ["education", "archive"], f"body {number}".encode())
            ledger.record_command(f"cmd-d{number}", "finance", "submit", AT, "accepted")
        ledger.mark_delivered("d1", "education", AT)
        ledger.mark_received("d1", "education", AT, "2026-03-02")
        ledger.add_printed("d1", "education", 2, 0)
        ledger.record_act("d1", DeliveryAct("education", "printed", "lisi", AT, 1, 2))
        ledger.add_quota("d2", "archive", 3)
        ledger.move("d3", "archive", DeliveryState.WITHDRAWN)
        ledger.record_unit_name("education", "市教育局", "市教育委员会", AT)
        ledger.enqueue("education", "m-1", "deliver", doc_id="d4", recipient="education")
        ledger.heard_from("education", AT, heartbeat=True)
        fault = ledger.start_fault("archive", "silent", AT, office_notified=True)
        ledger.add_notice(fault.id, "archive", "/spool/n1.pdf", AT, ["d5", "d6"])
        ledger.insert_info(
            StoredInfo(
                "i1",
                "request",
                "finance",
                b"item",
                AT,
                "2026-03-05T17:00:00+08:00",
                None,
                None,
                None,
                None,
            ),
            ["education"],
        )
        ledger.flag_once("education", "i1", "reminded", AT)
        ledger.queue_sms("education", "张三", "13800000000", "请签收", AT)
        ledger.sms_gone("t1", "13900000000", 1_772_400_000.0, [])


def snapshot(ledger: Ledger) -> dict[str, object]:
    return {
        "deliveries": [ledger.deliveries(f"d{n}") for n in range(30)],
        "acts": ledger.delivery_acts("d1"),
        "documents": [ledger.document(f"d{n}") for n in range(30)],
        "by_state": ledger.deliveries_by_state(),
        "pending": ledger.pending_receipts(),
        "names": ledger.unit_names("education"),
        "outbox": ledger.outbox_batch(10),
        "link": ledger.link("education"),
        "faults": ledger.faults(),
        "notices": ledger.notices(),
        "notice_documents": ledger.notice_documents(ledger.notices()[0].id),
        "info": ledger.info("i1"),
        "info_recipients": ledger.info_recipients("i1"),
        "sms": ledger.sms_waiting_for("13800000000"),
        "sms_sent": ledger.sms_sent_since("13900000000", 0),
    }


def run_migrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docex.cli", "ledger", "migrate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def target(postgres_database: str) -> object:
    with schema_url(postgres_database) as url:
        yield url


def test_every_table_arrives_and_the_exchange_goes_on(tmp_path: Path, target: str) -> None:
    source = tmp_path / "ledger.sqlite"
    ledger = open_ledger(source)
    fill(ledger)
    with ledger.transaction():
        assert ledger.chain_events(limit=10) == 10
    events = ledger.unchained_count() + 10
    before = snapshot(ledger)
    ledger.close()

    done = run_migrate("--from", str(source), "--to", target)
    assert done.returncode == 0, done.stderr
    assert "migrated 30 documents, 60 deliveries and 30 commands" in done.stdout
    assert "deliveries: 60 rows" in done.stderr  # progress, table by table

    moved = open_ledger(target)
    assert snapshot(moved) == before
    assert moved.command_seen("finance", "cmd-d7")  # a redelivered command is still a duplicate
    # New rows follow the copied ones, in order.
    with moved.transaction():
        moved.enqueue("education", "m-2", "status")
        fault = moved.start_fault("education", "silent", AT, office_notified=False)
        moved.record_act("d1", DeliveryAct("education", "printed", "lisi", AT, 3, 3))
    assert [row.message_id for row in moved.outbox_batch(10)] == ["m-1", "m-2"]
    assert [act.first_copy for act in moved.delivery_acts("d1")] == [1, 3]
    assert fault.id > before["faults"][0].id  # type: ignore[index]
    # The audit chain goes on from the file's head, in the file's order.
    for _ in range(300):
        with moved.transaction():
            moved.chain_events()
        if not moved.unchained_count():
            break
        time.sleep(0.1)
    records, _ = audit.verify_ledger(moved, None)  # type: ignore[arg-type]
    assert records == events
    moved.close()


def test_a_database_that_holds_an_exchange_is_refused(tmp_path: Path, target: str) -> None:
    source = tmp_path / "ledger.sqlite"
    ledger = open_ledger(source)
    fill(ledger)
    ledger.close()
    assert run_migrate("--from", str(source), "--to", target).returncode == 0

    again = run_migrate("--from", str(source), "--to", target)
    assert again.returncode == 2
    assert "already holds an exchange (30 documents)" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_a_ledger_in_use_by_its_router_is_refused(tmp_path: Path, target: str) -> None:
    source = tmp_path / "ledger.sqlite"
    open_ledger(source).close()
    with lock.held(source):
        refused = run_migrate("--from", str(source), "--to", target)
    assert refused.returncode == 2
    assert "in use by another router" in refused.stderr
