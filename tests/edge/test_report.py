"""`docex report`: per-unit statistics, so the General Office sees at a glance who is late."""

from __future__ import annotations

import csv
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from docex import wire
from docex.config import Config
from docex.router.report import statistics
from docex.router.report_chart import write_chart
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.command_line import docex
from tests.conftest import FakeClock, Pki
from tests.documents import sealed_envelope, submit
from tests.edge.test_information import accepted

V = wire.VERSION


async def receive(client: UnitClient, doc_id: str) -> None:
    await client.wait_for(lambda: client.mailbox.delivery(doc_id), 30)
    answer = await client.request(wire.Receipt(v=V, doc_id=doc_id, kind="read"))
    assert isinstance(answer, wire.Status) and answer.state == "received", answer


async def test_statistics_per_unit(
    router: Router,
    units: dict[str, UnitClient],
    pki: Pki,
    clock: FakeClock,
    config: Config,
    config_file: Path,
    tmp_path: Path,
) -> None:
    """§30, §33, §41, §42, §44: receipts on time by exchange date (Thursday's document read
    on Friday at the latest), work updates filed by their due date, requests gone overdue,
    government information submitted and adopted."""
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"], cc=["education"])
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    await receive(units["finance"], envelope.id)
    deadline = (clock.now() + timedelta(hours=1)).isoformat()
    request = wire.Info(
        v=V, kind="request", title="请提供数据", content="……", to=["education"], deadline=deadline
    )
    await accepted(units["finance"], request)
    piece = wire.Info(v=V, kind="gov_info", title="教育信息", content="……")
    piece_id = await accepted(units["education"], piece)
    await accepted(units["gov-office"], wire.Adopt(v=V, info_id=piece_id))
    clock.current += timedelta(hours=2)
    router.infowatch.check()

    clock.current = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday: a day late
    await receive(units["education"], envelope.id)
    clock.current = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    for part in ("summary", "plan"):
        update = wire.Info(v=V, kind="update", title="12月", period="2026-12", part=part)
        await accepted(units["finance"], update)

    rows = {row.unit: row for row in statistics(config, router.ledger, "2026", date(2027, 1, 15))}
    office, finance, education = rows["gov-office"], rows["finance"], rows["education"]
    assert (office.documents_sent, office.work_updates_due) == (1, 0)
    assert (finance.documents_received, finance.received_on_time, finance.on_time_rate) == (
        1,
        1,
        "100.0%",
    )
    assert (education.documents_received, education.on_time_rate) == (1, "0.0%")
    assert (finance.work_updates_due, finance.work_updates_on_time) == (13, 1)
    assert (finance.information_sent, education.requests_overdue) == (3, 1)
    assert (education.gov_info_submitted, education.gov_info_adopted) == (1, 1)

    november = statistics(config, router.ledger, "2026-11", date(2027, 1, 15))
    assert {row.unit: row.work_updates_due for row in november}["finance"] == 1

    code, out = await docex(
        "report", "--config", str(config_file), "--period", "2026", "--out", str(tmp_path / "r")
    )
    assert code == 0, out
    with (tmp_path / "r" / "docex-report-2026.csv").open(encoding="utf-8-sig") as file:
        written = {row["unit"]: row for row in csv.DictReader(file)}
    assert written["education"]["gov_info_adopted"] == "1"
    assert written["finance"]["on_time_rate"] == "100.0%"
    assert (tmp_path / "r" / "docex-report-2026.png").read_bytes().startswith(b"\x89PNG")

    code, out = await docex(
        "report", "--config", str(config_file), "--period", "March", "--out", str(tmp_path)
    )
    assert code == 2 and "neither a year" in out


async def test_a_receipt_not_yet_due_is_not_late_and_the_chart_speaks_chinese(
    router: Router, units: dict[str, UnitClient], pki: Pki, config: Config, tmp_path: Path
) -> None:
    """§30, §33: Thursday's document may be read until Friday; on Thursday it is not late."""
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer

    thursday = {r.unit: r for r in statistics(config, router.ledger, "2026", date(2026, 11, 26))}
    assert (thursday["finance"].receipts_expected, thursday["finance"].on_time_rate) == (0, "")
    friday = {r.unit: r for r in statistics(config, router.ledger, "2026", date(2026, 11, 27))}
    assert friday["finance"].receipts_expected == 0
    monday = {r.unit: r for r in statistics(config, router.ledger, "2026", date(2026, 11, 30))}
    assert (monday["finance"].receipts_expected, monday["finance"].on_time_rate) == (1, "0.0%")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_chart(list(monday.values()), "2026", tmp_path / "chart.png")
    assert [str(w.message) for w in caught if "missing from" in str(w.message)] == []
    assert monday["finance"].name == "市财政局"
