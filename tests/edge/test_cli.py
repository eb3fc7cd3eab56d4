"""`docex unit …` run as a unit's staff would run it, against a running router."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import msgspec

from docex import wire
from docex.router.service import Router
from tests.command_line import docex, docex_process, line_with
from tests.conftest import Pki, UnitConfigWriter
from tests.documents import PDF, paged_pdf


async def test_send_receive_and_follow_a_document(
    router: Router,
    unit_config: UnitConfigWriter,
    tmp_path: Path,
) -> None:
    """§29, §31, §37 through the command line: send, save with a read receipt, see the state."""
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    office, finance = unit_config("gov-office"), unit_config("finance")

    code, out = await docex(
        "unit",
        "--config",
        str(office),
        "send",
        str(document),
        "--to",
        "finance",
        "--copies",
        "finance=2",
        "--sealed-by",
        "张三",
        "--title",
        "关于年终工作的通知",
        "--doc-no",
        "穗府办〔2026〕3号",
    )
    assert code == 0, out
    assert "accepted" in out and "counts as sent on 2026-11-26" in out
    doc_id = out.split(" id ")[1].split()[0]

    code, out = await docex(
        "unit", "--config", str(finance), "inbox", "--save", str(tmp_path / "in")
    )
    assert code == 0, out
    assert "seal verified" in out and "read receipt sent" in out
    saved = tmp_path / "in" / "穗府办〔2026〕3号 关于年终工作的通知"
    assert saved.with_suffix(".pdf").read_bytes() == PDF
    metadata = json.loads(saved.with_suffix(".json").read_text())
    assert (metadata["doc_no"], metadata["print_quota"], metadata["role"]) == (
        "穗府办〔2026〕3号",
        2,
        "main",
    )

    code, out = await docex("unit", "--config", str(office), "status", doc_id)
    assert code == 0, out
    row = next(line for line in out.splitlines() if line.startswith("finance"))
    assert row.split()[:4] == ["finance", "main", "received", "0/2"]


async def test_command_line_errors_are_one_clear_line(
    router: Router,
    unit_config: UnitConfigWriter,
    tmp_path: Path,
) -> None:
    office = unit_config("gov-office")
    text = tmp_path / "notes.txt"
    text.write_text("not a pdf")
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(PDF)
    send = ["unit", "--config", str(office), "send", "--title", "t", "--doc-no", "n"]
    send += ["--sealed-by", "张三", "--copies-all", "1"]

    code, out = await docex(*send, str(text), "--to", "finance")
    assert (code, out.strip()) == (
        2,
        f"error: {text} is neither PDF nor OFD; name its format with --format",
    )

    code, out = await docex(*send, str(pdf), "--to", "finance", password="wrong")
    assert code == 2 and out.startswith("error: ") and "password" in out and "Traceback" not in out

    bare = ["unit", "--config", str(office), "send", str(pdf), "--to", "finance", "--cc"]
    bare += ["education", "--title", "t", "--doc-no", "n", "--sealed-by", "张三"]
    code, out = await docex(*bare)
    assert code == 2 and "--copies" in out and "Traceback" not in out, out
    code, out = await docex(*bare, "--copies", "finance=2")
    assert (code, out.strip()) == (
        2,
        "error: say how many copies education may print (§31): --copies UNIT=N for each"
        " recipient, or --copies-all N",
    )

    code, out = await docex(*send, str(pdf), "--to", "nobody")
    assert code == 1 and out.strip().splitlines()[-1] == (
        "rejected: unknown_recipient: no unit 'nobody' is registered"
    )

    unreachable = unit_config("gov-office", amqp_url="amqp://guest:guest@127.0.0.1:1/")
    code, out = await docex("unit", "--config", str(unreachable), "status", "x")
    assert code == 3 and "cannot reach RabbitMQ at 127.0.0.1:1" in out and "Traceback" not in out


async def test_print_return_and_withdraw_from_the_command_line(
    router: Router, unit_config: UnitConfigWriter, pki: Pki, tmp_path: Path
) -> None:
    """§34, §35: print with the verification seal; return; withdraw what was not received."""
    document = tmp_path / "notice.pdf"
    document.write_bytes(paged_pdf(1))
    office = unit_config("gov-office")
    finance = unit_config(
        "finance", verification_carrier=str(pki.directory / "finance-verification.carrier")
    )
    education = unit_config("education")
    code, out = await docex(
        "unit",
        "--config",
        str(office),
        "send",
        str(document),
        "--to",
        "finance",
        "--cc",
        "education",
        "--copies",
        "finance=2,education=0",
        "--sealed-by",
        "张三",
        "--title",
        "t",
        "--doc-no",
        "n",
    )
    assert code == 0, out
    doc_id = out.split(" id ")[1].split()[0]

    printing = ["print", doc_id, "--out", str(tmp_path / "print")]
    code, out = await docex("unit", "--config", str(finance), *printing, "--copies", "2")
    assert code == 0, out
    assert out.startswith("printed: n 《t》 copies 1–2 of 2") and "0 left" in out
    code, out = await docex("unit", "--config", str(finance), *printing, "--copies", "1")
    assert (code, out.strip()) == (1, "denied: asked for 1, 0 of 2 copies left")
    code, out = await docex("unit", "--config", str(education), *printing, "--copies", "1")
    assert code == 2 and "verification_carrier" in out

    code, out = await docex("unit", "--config", str(office), "withdraw", doc_id)
    assert code == 0, out
    assert "withdrawn from education" in out and "refused for finance (received)" in out
    code, out = await docex("unit", "--config", str(education), "return", doc_id, "--reason", "x")
    assert code == 1 and "rejected: document_withdrawn" in out


async def test_information_from_the_command_line(
    router: Router, unit_config: UnitConfigWriter
) -> None:
    """§42, §44: a request and its reply, government information adopted, read in the inbox."""
    office, finance = unit_config("gov-office"), unit_config("finance")
    code, out = await docex(
        "unit", "--config", str(finance), "info", "request", "--to", "gov-office",
        "--title", "请协调会议室", "--content", "周五上午",
        "--deadline", "2026-11-27T12:00:00+08:00",
    )  # fmt: skip
    assert code == 0, out
    request_id = out.split()[1]
    code, out = await docex(
        "unit", "--config", str(office), "info", "reply", request_id, "--content", "已安排"
    )
    assert code == 0, out
    code, out = await docex(
        "unit", "--config", str(finance), "info", "submit", "--title", "财政信息",
        "--content", "……", "--with", "education", "--authors", "张三", "--revision",
    )  # fmt: skip
    assert code == 0, out
    piece_id = out.split()[1]
    code, out = await docex("unit", "--config", str(office), "info", "adopt", piece_id)
    assert code == 0, out
    code, out = await docex("unit", "--config", str(office), "info", "inbox")
    assert code == 0, out
    assert f"request {request_id} from finance: 《请协调会议室》" in out
    assert "《【修改稿】财政信息》" in out and "jointly with: education" in out
    code, out = await docex("unit", "--config", str(finance), "info", "inbox")
    assert f"in reply to: {request_id}" in out and "已安排" in out
    code, out = await docex(
        "unit", "--config", str(finance), "info", "update", "--title", "t",
        "--period", "March", "--part", "plan",
    )  # fmt: skip
    assert code == 1 and out.startswith("rejected: invalid_period:"), out


async def test_the_router_daemon_runs_on_uvloop(config_file: Path, empty_queues: None) -> None:
    """`docex router run` runs on libuv's event loop (uvloop): 4-17 % less CPU per document
    than asyncio's own in bench/route.py. Its start-up line names the loop."""
    router = await docex_process(
        "router",
        "run",
        "--config",
        str(config_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        line = await line_with(router.stdout, b"router_started", timeout=60)
    finally:
        router.send_signal(signal.SIGTERM)
        await asyncio.wait_for(router.communicate(), 30)
    assert json.loads(line)["event_loop"] == "uvloop", line


async def test_a_router_the_broker_refuses_says_so_in_one_line(config_file: Path) -> None:
    """A wrong broker password is a mistake to fix, unlike a broker not up yet: the router
    does not wait for it."""
    config_file.write_text(config_file.read_text().replace("guest:guest@", "guest:wrong@"))
    code, out = await docex("router", "run", "--config", str(config_file))
    assert code == 2, out
    assert "refused user 'guest': check the user and password in [router] amqp_url" in out, out
    assert "Traceback" not in out


async def test_information_carries_the_flags_of_section_4_from_the_command_line(
    router: Router, unit_config: UnitConfigWriter
) -> None:
    """§4: `info` marks an item's classification, urgency and privacy as a document's are
    marked; internal information is exchanged as such, urgent or private information is
    refused by the exchange with its reason, and secret information is not even sent."""
    finance = unit_config("finance")
    report = [
        "unit", "--config", str(finance), "info", "report", "--to", "gov-office",
        "--title", "专题：汛期安全", "--content", "……",
    ]  # fmt: skip
    code, out = await docex(*report, "--classification", "internal")
    assert code == 0, out
    stored = router.ledger.info(out.split()[1])
    assert stored is not None
    assert msgspec.msgpack.decode(stored.item, type=wire.InfoItem).classification == "internal"
    code, out = await docex(*report, "--urgency", "urgent")
    assert code == 1 and out.startswith("rejected: excluded_urgency:"), out
    code, out = await docex(*report, "--private")
    assert code == 1 and out.startswith("rejected: excluded_private:"), out
    # Refused before anything is sent (the exchange would answer 1, rejected).
    code, out = await docex(*report, "--classification", "secret")
    assert code == 2 and "invalid choice: 'secret'" in out, out
