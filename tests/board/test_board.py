"""The General Office's board in a real browser (Debian's Chromium), on a real router and ledger:
what it shows, whom it shows it to, and what it refuses."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from docex import wire
from docex.ids import uuid7
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.board.conftest import (
    EDUCATION_DN,
    FINANCE_DN,
    OFFICE_DN,
    PageAs,
    RunningBoard,
    screenshot,
)
from tests.conftest import FakeClock, Pki, eventually
from tests.documents import sealed_envelope, submit

pytestmark = pytest.mark.browser


async def send(
    router: Router, units: dict[str, UnitClient], pki: Pki, sender: str, **headers: object
) -> wire.Envelope:
    """Send a sealed document through the router; back once every recipient's queue has it."""
    envelope = sealed_envelope(pki.signing[sender], sender=sender, **headers)  # type: ignore[arg-type]
    answer = await units[sender].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    await eventually(
        lambda: all(d.state == "delivered" for d in router.ledger.deliveries(envelope.id)),
        f"{envelope.title} to be delivered",
    )
    return envelope


async def test_a_sent_document_shows_with_its_receipt_time(
    router: Router,
    units: dict[str, UnitClient],
    pki: Pki,
    board: RunningBoard,
    page_as: PageAs,
    clock: FakeClock,
) -> None:
    """§37: the document sent through the router is listed, found by its 文号, and its page
    shows per recipient 主送/抄送 and, once the recipient has read it, the receipt time and
    its exchange date, in Beijing time."""
    notice = await send(
        router,
        units,
        pki,
        "gov-office",
        to=["finance"],
        cc=["education"],
        print_quota={"finance": 3, "education": 1},
        title="关于做好年终工作的通知",
        doc_no="穗府办〔2026〕12号",
    )
    await send(
        router,
        units,
        pki,
        "education",
        to=["finance"],
        title="关于开展校园安全检查的通知",
        doc_no="穗教〔2026〕3号",
    )
    page = await page_as(OFFICE_DN)

    await page.goto(f"{board.url}/documents")
    await expect(page.locator("#documents")).to_contain_text("关于做好年终工作的通知")
    await expect(page.locator("#documents")).to_contain_text("关于开展校园安全检查的通知")
    await expect(page.locator("#documents")).to_contain_text("市府办公厅")

    await page.fill("input[name=doc_no]", "穗府办〔2026〕12号")
    await page.click("button[type=submit]")
    await expect(page.locator("#documents tbody tr")).to_have_count(1)
    await expect(page.locator("#documents")).to_contain_text("关于做好年终工作的通知")
    await expect(page.locator("input[name=doc_no]")).to_have_value("穗府办〔2026〕12号")
    # The page reloads itself at its own address, so the search is kept.
    assert "doc_no=" in page.url
    await expect(page.locator("meta[http-equiv=refresh]")).to_have_attribute("content", "60")
    await page.fill("input[name=doc_no]", "穗府办")
    await page.click("button[type=submit]")
    await expect(page.locator("#documents tbody tr")).to_have_count(1)

    await page.click("text=关于做好年终工作的通知")
    finance = page.locator("#deliveries tr[data-recipient=finance]")
    await expect(finance).to_contain_text("主送")
    await expect(finance).to_contain_text("已送达，未签收")
    await expect(finance.locator(".received")).to_have_text("—")
    await expect(page.locator("#deliveries tr[data-recipient=education]")).to_contain_text("抄送")
    await expect(finance).to_contain_text("0 / 3")

    clock.current += timedelta(minutes=30)
    receipt = await units["finance"].request(
        wire.Receipt(v=wire.VERSION, doc_id=notice.id, kind="read")
    )
    assert isinstance(receipt, wire.Status) and receipt.state == "received"
    await page.reload()
    # 02:30 UTC on the test's Thursday: 10:30 in Beijing, before the 15:00 cutoff.
    await expect(finance.locator(".received")).to_have_text("2026-11-26 10:30:00")
    await expect(finance).to_contain_text("已签收")
    await expect(finance).to_contain_text("2026-11-26")
    # The history has every act with its time: the read receipt, and a withdrawal from the
    # recipient who had not received it yet, at the time it was asked for.
    await expect(finance.locator(".history")).to_contain_text("2026-11-26 10:30:00 签收回执")
    clock.current += timedelta(minutes=15)
    withdrawn = await units["gov-office"].request(
        wire.Withdraw(v=wire.VERSION, doc_id=notice.id, recipients=["education"])
    )
    assert isinstance(withdrawn, wire.WithdrawResult), withdrawn
    await page.reload()
    education = page.locator("#deliveries tr[data-recipient=education]")
    await expect(education.locator(".history")).to_contain_text("2026-11-26 10:45:00 发文单位撤回")
    await screenshot(page, "document")


async def test_a_title_with_a_script_is_shown_as_text(
    router: Router, units: dict[str, UnitClient], pki: Pki, board: RunningBoard, page_as: PageAs
) -> None:
    title = '<script>alert("x")</script>关于<b>加粗</b>的通知'
    envelope = await send(router, units, pki, "gov-office", to=["finance"], title=title)
    page = await page_as(OFFICE_DN)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    await page.goto(f"{board.url}/documents")
    await expect(page.locator("#documents")).to_contain_text(title)
    await page.goto(f"{board.url}/documents/{envelope.id}")
    await expect(page.locator("#title")).to_have_text(title)
    assert await page.locator("#title b").count() == 0
    assert "&lt;script&gt;" in await page.locator("#title").inner_html()
    assert dialogs == []


async def test_a_unit_that_goes_silent_shows_a_countdown_to_paper(
    router: Router,
    units: dict[str, UnitClient],
    pki: Pki,
    board: RunningBoard,
    page_as: PageAs,
    clock: FakeClock,
) -> None:
    """§46: a unit whose heartbeats stop is shown down with its open fault; §47: the fault
    counts down to the paper switch, red in its last 4 hours, and the count goes on live."""
    await send(router, units, pki, "gov-office", to=["finance"], title="关于召开安全生产会议的通知")
    await units["finance"].heartbeat()
    await eventually(lambda: router.ledger.link("finance"), "the router to hear finance")
    clock.current += timedelta(seconds=121)
    router.linkwatch.check()
    assert router.ledger.open_fault("finance") is not None
    page = await page_as(OFFICE_DN)

    await page.goto(f"{board.url}/links")
    fault = page.locator("#faults tr[data-scope=finance]")
    await expect(fault).to_contain_text("市财政局")
    await expect(fault).to_contain_text("心跳中断")
    await expect(fault.locator(".countdown")).to_contain_text(re.compile(r"^2[34]小时"))
    await expect(page.locator("#links")).to_contain_text("中断")

    clock.current += timedelta(hours=20, minutes=30)
    await page.reload()
    countdown = fault.locator(".countdown")
    await expect(countdown).to_contain_text(re.compile(r"^3小时(30分00秒|29分5\d秒)$"))
    await expect(countdown).to_have_class(re.compile("urgent"))
    # The page's script keeps counting down without a reload.
    await expect(countdown).to_contain_text(re.compile(r"^3小时29分5\d秒$"), timeout=5000)
    await screenshot(page, "links")


async def test_a_paper_notice_downloads_as_the_stored_pdf(
    router: Router,
    units: dict[str, UnitClient],
    pki: Pki,
    board: RunningBoard,
    page_as: PageAs,
    clock: FakeClock,
) -> None:
    """§47: once a fault outlasts 24 hours, the notice the router wrote is listed with the
    documents it names, and its PDF downloads as stored; a notice whose file is outside the
    spool dir is never served."""
    envelope = await send(
        router,
        units,
        pki,
        "gov-office",
        to=["finance"],
        title="关于年终结算的通知",
        doc_no="穗府办〔2026〕40号",
    )
    await units["finance"].heartbeat()
    await eventually(lambda: router.ledger.link("finance"), "the router to hear finance")
    clock.current += timedelta(seconds=121)
    router.linkwatch.check()
    clock.current += timedelta(hours=24, seconds=1)
    router.linkwatch.check()
    [notice] = await eventually(lambda: router.ledger.notices(), "the paper notice")
    stored = Path(notice.path).read_bytes()
    page = await page_as(OFFICE_DN)

    await page.goto(f"{board.url}/notices")
    section = page.locator(f"#notice-{notice.id}")
    await expect(section).to_contain_text("市财政局")
    await expect(section).to_contain_text("穗府办〔2026〕40号")
    await expect(section).to_contain_text(envelope.title)
    async with page.expect_download() as download_info:
        await section.locator("a.pdf").click()
    download = await download_info.value
    assert Path(await download.path()).read_bytes() == stored
    answer = await page.request.get(f"{board.url}/notices/{notice.id}/pdf")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert await answer.body() == stored
    await screenshot(page, "notices")

    fault = router.ledger.open_fault("finance")
    assert fault is not None
    with router.ledger.transaction():
        outside = router.ledger.add_notice(
            fault.id, "finance", "/etc/passwd", notice.created_at, []
        )
    answer = await page.request.get(f"{board.url}/notices/{outside}/pdf")
    assert answer.status == 404
    assert "不在纸质通知目录" in await answer.text()


async def test_waiting_deliveries_past_24_hours_are_highlighted(
    router: Router,
    units: dict[str, UnitClient],
    pki: Pki,
    board: RunningBoard,
    page_as: PageAs,
    clock: FakeClock,
) -> None:
    """Local practice: senders check within 24 h that their documents were received; the
    untaken ones are listed oldest first, those past 24 h highlighted, with per-unit totals."""
    old = await send(
        router, units, pki, "gov-office", to=["finance"], title="关于报送统计数据的通知"
    )
    clock.current += timedelta(hours=23)
    await send(
        router,
        units,
        pki,
        "gov-office",
        to=["finance", "education"],
        title="关于节日值班安排的通知",
    )
    clock.current += timedelta(hours=2)
    page = await page_as(OFFICE_DN)

    await page.goto(f"{board.url}/waiting")
    rows = page.locator("#waiting tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(0)).to_contain_text(old.title)
    await expect(rows.nth(0)).to_have_class("late")
    await expect(rows.nth(0)).to_contain_text("1天1小时0分")
    await expect(rows.nth(1)).not_to_have_class("late")
    totals = page.locator("#totals")
    await expect(totals.locator("tr", has_text="市财政局")).to_contain_text("2")
    await expect(totals.locator("tr", has_text="市教育局")).to_contain_text("1")
    await screenshot(page, "waiting")


async def test_a_registrar_sees_only_its_units_documents(
    router: Router, units: dict[str, UnitClient], pki: Pki, board: RunningBoard, page_as: PageAs
) -> None:
    """A unit's registrar sees what its unit sent or received, and of a document it received
    only its own delivery; another unit's document is not found, by list or by guessed URL;
    the office's pages are refused."""
    to_finance = await send(
        router,
        units,
        pki,
        "gov-office",
        to=["finance"],
        cc=["education"],
        title="关于财政预算的通知",
    )
    not_finance = await send(
        router, units, pki, "education", to=["gov-office"], title="关于教育督导的报告"
    )
    page = await page_as(FINANCE_DN)

    await page.goto(f"{board.url}/documents")
    await expect(page.locator("#documents")).to_contain_text(to_finance.title)
    await expect(page.locator("#documents")).not_to_contain_text(not_finance.title)
    await page.goto(f"{board.url}/documents/{to_finance.id}")
    await expect(page.locator("#deliveries tbody tr")).to_have_count(1)
    await expect(page.locator("#deliveries")).not_to_contain_text("市教育局")

    answer = await page.goto(f"{board.url}/documents/{not_finance.id}")
    assert answer is not None and answer.status == 404
    await expect(page.locator("#error")).to_contain_text("没有这份公文")
    await expect(page.locator("body")).not_to_contain_text(not_finance.title)
    await page.goto(f"{board.url}/documents?title=教育督导")
    await expect(page.locator("#documents tbody tr")).to_have_count(1)
    await expect(page.locator("#documents")).to_contain_text("没有符合条件的公文")
    for office_page in ("links", "notices", "info", "ops"):
        answer = await page.goto(f"{board.url}/{office_page}")
        assert answer is not None and answer.status == 403, office_page
    await page.goto(f"{board.url}/waiting")
    await expect(page.locator("#waiting")).to_contain_text(to_finance.title)
    await expect(page.locator("#waiting")).not_to_contain_text(not_finance.title)

    education = await page_as(EDUCATION_DN)
    await education.goto(f"{board.url}/documents/{not_finance.id}")
    await expect(education.locator("#deliveries")).to_contain_text("市府办公厅")


def non_loopback_address() -> str | None:
    """The address this machine would send from to the outside (a UDP "connect" sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("203.0.113.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


async def test_requests_the_proxy_did_not_vouch_for_are_refused(
    board: RunningBoard, page_as: PageAs
) -> None:
    """No identity, an unverified certificate, an unknown subject, or the right headers from a
    peer other than the proxy on loopback: 403 with a Chinese sentence, and nothing else."""

    async def refused(page: Page, url: str, why: str) -> None:
        answer = await page.goto(url)
        assert answer is not None and answer.status == 403, url
        await expect(page.locator("#error")).to_contain_text(why)
        assert await page.locator("#documents").count() == 0

    await refused(await page_as(None), f"{board.url}/documents", "未通过客户端证书认证")
    await refused(
        await page_as(OFFICE_DN, verified="FAILED:certificate has expired"),
        f"{board.url}/documents",
        "未通过客户端证书认证",
    )
    await refused(await page_as("CN=冒名者,O=某单位"), f"{board.url}/documents", "未获授权")
    await refused(await page_as(None), f"{board.url}/static/board.css", "未通过客户端证书认证")
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback to come from")
    page = await page_as(OFFICE_DN)
    await refused(
        page, f"http://{address}:{board.port}/documents", "请通过办公厅的证书认证代理访问"
    )
    await screenshot(page, "refused")


async def test_bad_search_input_gets_one_line_saying_why(
    board: RunningBoard, page_as: PageAs
) -> None:
    page = await page_as(OFFICE_DN)
    for query, why in (
        ("from=2026-13-01", "起始日期须为 YYYY-MM-DD 格式的日期：2026-13-01"),
        ("until=tomorrow", "截止日期须为 YYYY-MM-DD 格式的日期：tomorrow"),
        ("sender=nobody", "发文单位不存在：nobody"),
        ("doc_no=" + "号" * 65, "文号过长：最多 64 个字符。"),
        ("before=nonsense", "翻页参数 before 无效"),
    ):
        answer = await page.goto(f"{board.url}/documents?{query}")
        assert answer is not None and answer.status == 400, query
        await expect(page.locator("#error")).to_contain_text(why)
    answer = await page.goto(f"{board.url}/waiting?page=0")
    assert answer is not None and answer.status == 400


async def test_the_operations_page_warns_of_missing_holidays(
    board: RunningBoard, page_as: PageAs
) -> None:
    page = await page_as(OFFICE_DN)
    await page.goto(f"{board.url}/ops")
    await expect(page.locator("#readiness")).to_contain_text("metrics_port 为 0")
    await expect(page.locator("#outbox")).to_have_text(re.compile(r"^\d+$"))
    await expect(page.locator("#calendar")).to_contain_text(re.compile("2026|2027"))
    await screenshot(page, "ops")


async def test_an_overdue_request_is_listed_with_its_handlers(
    router: Router,
    units: dict[str, UnitClient],
    board: RunningBoard,
    page_as: PageAs,
    clock: FakeClock,
) -> None:
    """§42: a request to handle whose deadline passed with no reply is listed for the office,
    with who asked, who was to handle it, the deadline and since when it is overdue."""
    deadline = (clock.now() + timedelta(hours=2)).isoformat()
    request = wire.Info(
        v=wire.VERSION,
        kind="request",
        title="协助提供预算执行数据",
        content="请提供2026年预算执行数据",
        to=["education"],
        deadline=deadline,
    )
    message_id = uuid7()
    await units["finance"].publish(request, message_id)
    answer = await units["finance"].wait_for(
        lambda: units["finance"].mailbox.answer_to(message_id), 30
    )
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    clock.current += timedelta(hours=3)
    router.infowatch.check()
    page = await page_as(OFFICE_DN)

    await page.goto(f"{board.url}/info")
    row = page.locator("#overdue tbody tr", has_text="协助提供预算执行数据")
    await expect(row).to_contain_text("市财政局")
    await expect(row).to_contain_text("市教育局")
    await expect(row).to_contain_text("2026-11-26 12:00:00")  # the deadline, in Beijing time
    await expect(row).to_contain_text("2026-11-26 13:00:00")  # flagged overdue
    await expect(row).to_contain_text("未答复")
    await screenshot(page, "info")
