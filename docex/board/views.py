"""Each page of the board: read what it shows from the ledger (bounded, a page at a time), and
render it. A unit's registrar sees the documents its unit sent or received and nothing else; a
document it may not see is "not found", exactly like one that does not exist, so guessing ids
tells it nothing. Every bad parameter is answered with one line saying which and why."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from docex import wire
from docex.board.context import Board, board_of, viewer_of
from docex.ledger.board_reads import TITLE_WINDOW, DocumentSearch
from docex.ledger.records import EXCHANGE, CommandRecord, Delivery, stored_envelope

PAGE = 50
# Documents a paper notice lists on the notices page; its PDF lists them all.
NOTICE_DOCUMENTS_SHOWN = 20
ENDED_FAULTS_SHOWN = 20
INFO_SHOWN = 100
# Local practice (DESIGN.md §2): senders check that a document was received within 24 hours.
RECEIPT_CHECK = timedelta(hours=24)
# Under this, a fault's countdown to the paper switch (§47) is shown in red.
PAPER_SOON = timedelta(hours=4)
_READYZ_TIMEOUT_S = 1.0
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadParameter(Exception):
    """A query parameter the board cannot use; the message says which and why, in Chinese."""


def _viewer_unit(request: web.Request) -> str | None:
    return viewer_of(request).unit


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    board = board_of(request)
    viewer = viewer_of(request)
    html = board.templates.get_template(template).render(
        viewer=viewer,
        viewer_name=board.names(viewer.unit) if viewer.unit else "办公厅",
        read_at=board.clock.now().isoformat(),
        path=request.path,
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def refusal(board: Board, status: int, message: str) -> web.Response:
    """A page with one Chinese sentence, for requests that may see nothing at all."""
    html = board.templates.get_template("refused.html").render(message=message)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _error(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "error.html", status=status, message=message)


def _office_only(request: web.Request) -> web.Response | None:
    if _viewer_unit(request) is None:
        return None
    return _error(request, 403, "此页仅办公厅可以查看。")


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/documents")


async def documents(request: web.Request) -> web.Response:
    board = board_of(request)
    try:
        search = _search(request, board)
        before = _cursor(request.query.get("before", ""))
    except BadParameter as bad:
        return _error(request, 400, str(bad))
    rows = board.ledger.board_documents(search, PAGE + 1, before)
    older = window_end = None
    if len(rows) > PAGE:
        rows = rows[:PAGE]
        older = _with_cursor(request, (rows[-1].sent_at, rows[-1].id))
    elif search.title.split():
        window_end = board.ledger.board_title_window_end(search, before)
        if window_end is not None:
            older = _with_cursor(request, window_end)
    return render(
        request,
        "documents.html",
        rows=rows,
        search=search,
        older=older,
        window=TITLE_WINDOW if window_end else None,
        units=board.config.units,
    )


def _with_cursor(request: web.Request, last: tuple[str, str]) -> str:
    query = dict(request.query)
    query["before"] = f"{last[0]}~{last[1]}"
    return str(request.rel_url.with_query(query))


def _search(request: web.Request, board: Board) -> DocumentSearch:
    query = request.query
    fields = {
        "doc_no": (query.get("doc_no", "").strip(), 64, "文号"),
        "title": (query.get("title", "").strip(), 200, "标题"),
    }
    for value, limit, label in fields.values():
        if len(value) > limit:
            raise BadParameter(f"{label}过长：最多 {limit} 个字符。")
    units: dict[str, str] = {}
    for name, label in (("sender", "发文单位"), ("recipient", "收文单位")):
        units[name] = query.get(name, "").strip()
        if units[name] and not board.names.known(units[name]):
            raise BadParameter(f"{label}不存在：{units[name][:64]}")
    dates: dict[str, str] = {}
    for name, label in (("from", "起始日期"), ("until", "截止日期")):
        dates[name] = query.get(name, "").strip()
        if dates[name] and not _is_date(dates[name]):
            raise BadParameter(f"{label}须为 YYYY-MM-DD 格式的日期：{dates[name][:64]}")
    return DocumentSearch(
        doc_no=fields["doc_no"][0],
        title=fields["title"][0],
        sender=units["sender"],
        recipient=units["recipient"],
        sent_from=dates["from"],
        sent_until=dates["until"],
        viewer=_viewer_unit(request),
    )


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _cursor(text: str) -> tuple[str, str] | None:
    """`before`: the send time and id of the last document of the previous page."""
    if not text:
        return None
    sent_at, separator, doc_id = text.rpartition("~")
    if not separator or not sent_at or not doc_id or len(text) > 200:
        raise BadParameter("翻页参数 before 无效，请从第一页重新查询。")
    return sent_at, doc_id


async def document(request: web.Request) -> web.Response:
    board = board_of(request)
    doc_id = request.match_info["doc_id"]
    unit = _viewer_unit(request)
    stored = board.ledger.document(doc_id)
    deliveries = board.ledger.deliveries(doc_id) if stored else []
    if unit is not None and stored is not None and stored.sender != unit:
        # A recipient sees its own delivery; only the sender sees everyone's.
        deliveries = [d for d in deliveries if d.recipient == unit]
        if not deliveries:
            stored = None
    if stored is None:
        return _error(request, 404, f"没有这份公文，或您无权查看：{doc_id[:64]}")
    envelope = stored_envelope(stored)
    now = board.clock.now()
    commands = board.ledger.document_commands(doc_id)
    names = {(p.unit, p.name): p.chinese_name for p in board.ledger.persons()}
    rows = [
        {
            "delivery": delivery,
            "late": delivery.received_at is None
            and delivery.delivered_at is not None
            and now - datetime.fromisoformat(delivery.delivered_at) > RECEIPT_CHECK,
            "history": _history(stored.sent_at, delivery, stored.sender, commands, names),
        }
        for delivery in deliveries
    ]
    return render(request, "document.html", document=stored, envelope=envelope, rows=rows)


# What each command is, as the registrars call it.
_ACTS = {
    "receipt": "签收回执",
    "print_request": "打印",
    "return": "退回",
    "resend_request": "请求重发",
    "quota_request": "申请加印",
    "attachments_received": "确认纸质附件",
    "withdraw": "发文单位撤回",
    "resend": "发文单位重发",
    "quota_grant": "发文单位同意加印",
}


def _history(
    sent_at: str,
    delivery: Delivery,
    sender: str,
    commands: list[CommandRecord],
    names: dict[tuple[str, str], str] | None = None,
) -> list[tuple[str, str]]:
    """What the ledger recorded of one delivery, in time order: its own times, and every
    command about the document from its recipient or its sender (a refused one with why),
    each with the person who acted (§14) where the unit has a register of persons."""
    names = names or {}

    def by(command: CommandRecord) -> str:
        if not command.person:
            return ""
        chinese = names.get((command.unit, command.person), "")
        return f"（{chinese}，{command.person}）" if chinese else f"（{command.person}）"

    submitted = next((c for c in commands if c.type == "submit" and c.outcome == "accepted"), None)
    events = [(sent_at, "发送" + (by(submitted) if submitted else ""))]
    if delivery.delivered_at:
        events.append((delivery.delivered_at, "送达收文单位队列"))
    if delivery.received_at:
        events.append((delivery.received_at, f"签收（交换日 {delivery.received_exchange_date}）"))
    if delivery.attachments_received_at:
        events.append((delivery.attachments_received_at, "纸质附件收到"))
    for command in commands:
        act = _ACTS.get(command.type)
        if act is None or command.unit not in (delivery.recipient, sender):
            continue
        if command.unit == delivery.recipient and command.type in _SENDERS_ACTS:
            continue
        refused = f"（被拒：{command.reason}）" if command.outcome != "accepted" else ""
        events.append((command.at, act + by(command) + refused))
    return sorted(events, key=lambda event: datetime.fromisoformat(event[0]))


_SENDERS_ACTS = {"withdraw", "resend", "quota_grant"}


async def waiting(request: web.Request) -> web.Response:
    board = board_of(request)
    try:
        page = _page(request.query.get("page", "1"))
    except BadParameter as bad:
        return _error(request, 400, str(bad))
    unit = _viewer_unit(request)
    rows = board.ledger.board_waiting(unit, PAGE + 1, (page - 1) * PAGE)
    now = board.clock.now()
    shown = [
        {
            "row": row,
            "waited": now - datetime.fromisoformat(row.delivered_at),
            "late": now - datetime.fromisoformat(row.delivered_at) > RECEIPT_CHECK,
        }
        for row in rows[:PAGE]
    ]
    totals = [
        (total, now - datetime.fromisoformat(total.oldest_delivered_at))
        for total in board.ledger.board_waiting_totals(unit)
    ]
    return render(
        request,
        "waiting.html",
        rows=shown,
        totals=totals,
        page=page,
        more=len(rows) > PAGE,
        check_hours=int(RECEIPT_CHECK.total_seconds() // 3600),
    )


async def register(request: web.Request) -> web.Response:
    """The register of persons and roles the exchange keeps (§13 filing): the General Office
    reads every unit's, a unit's registrar its own."""
    board = board_of(request)
    try:
        page = _page(request.query.get("page", "1"))
    except BadParameter as bad:
        return _error(request, 400, str(bad))
    people = board.ledger.board_register(_viewer_unit(request), PAGE + 1, (page - 1) * PAGE)
    return render(request, "persons.html", people=people[:PAGE], page=page, more=len(people) > PAGE)


def _page(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise BadParameter(f"页码须为 1 到 100000 的整数：{text[:64]}")
    return int(text)


async def links(request: web.Request) -> web.Response:
    if refused := _office_only(request):
        return refused
    board = board_of(request)
    now = board.clock.now()
    fallback = timedelta(hours=board.config.links.paper_fallback_hours)
    heard = board.ledger.board_links()
    untaken = dict(board.ledger.pending_receipts())
    open_faults = board.ledger.open_faults()
    down = {fault.scope for fault in open_faults}
    units = [
        {
            "unit": unit,
            "heard": heard.get(unit.id),
            "heard_ago": now - datetime.fromisoformat(heard[unit.id][0])
            if unit.id in heard
            else None,
            "down": unit.id in down or EXCHANGE in down,
            "untaken": untaken.get(unit.id, 0),
        }
        for unit in board.config.units
        if unit.status == "active"
    ]
    faults = []
    for fault in open_faults:
        left = datetime.fromisoformat(fault.started_at) + fallback - now
        faults.append(
            {
                "fault": fault,
                "open_for": now - datetime.fromisoformat(fault.started_at),
                "left": left,
                "seconds": max(int(left.total_seconds()), 0),
                "soon": left < PAPER_SOON,
                "untaken": sum(untaken.values())
                if fault.scope == EXCHANGE
                else untaken.get(fault.scope, 0),
            }
        )
    ended = [
        {
            "id": fault_id,
            "scope": scope,
            "kind": kind,
            "started_at": started,
            "ended_at": ended_at,
            "lasted": datetime.fromisoformat(ended_at) - datetime.fromisoformat(started),
        }
        for fault_id, scope, kind, started, ended_at in board.ledger.board_ended_faults(
            ENDED_FAULTS_SHOWN
        )
    ]
    return render(
        request,
        "links.html",
        units=units,
        faults=faults,
        ended=ended,
        fallback_hours=board.config.links.paper_fallback_hours,
    )


async def notices(request: web.Request) -> web.Response:
    if refused := _office_only(request):
        return refused
    board = board_of(request)
    before_text = request.query.get("before", "")
    if before_text and not before_text.isdigit():
        return _error(request, 400, f"翻页参数 before 须为通知编号：{before_text[:64]}")
    before = int(before_text) if before_text else None
    rows = board.ledger.board_notices(PAGE + 1, before)
    shown = []
    for notice_id, fault_id, unit, created_at in rows[:PAGE]:
        doc_ids = board.ledger.notice_documents(notice_id)
        listed = [board.ledger.document(doc_id) for doc_id in doc_ids[:NOTICE_DOCUMENTS_SHOWN]]
        shown.append(
            {
                "id": notice_id,
                "fault": board.ledger.fault(fault_id),
                "unit": unit,
                "created_at": created_at,
                "documents": [doc for doc in listed if doc is not None],
                "count": len(doc_ids),
            }
        )
    older = shown[-1]["id"] if len(rows) > PAGE else None
    return render(request, "notices.html", notices=shown, older=older)


async def notice_pdf(request: web.Request) -> web.StreamResponse:
    """The notice's PDF as the leader wrote it: from the ledger, so the board needs no share of
    the leader's disk; a notice from before the ledger kept PDFs is read from its file, only
    from inside the configured spool dir."""
    if refused := _office_only(request):
        return refused
    board = board_of(request)
    text = request.match_info["notice_id"]
    notice = board.ledger.notice(int(text)) if text.isdigit() else None
    if notice is None:
        return _error(request, 404, f"没有这份纸质通知：{text[:64]}")
    try:
        body = board.ledger.notice_pdf(notice.id) or await asyncio.to_thread(
            _spooled, board.config.links.spool_dir, notice.path
        )
    except OutsideSpool as outside:
        return _error(request, 404, f"纸质通知 {notice.id} 的文件不在纸质通知目录 {outside} 中。")
    except OSError as error:
        return _error(request, 404, f"纸质通知 {notice.id} 的文件无法读取：{error.strerror}")
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="notice-{notice.id}.pdf"'},
    )


class OutsideSpool(Exception):
    """A stored path that is not in the spool dir (its argument); never served."""


def _spooled(spool_dir: str, stored: str) -> bytes:
    spool = Path(spool_dir).resolve()
    if not Path(stored).resolve().is_relative_to(spool):
        raise OutsideSpool(str(spool))
    return Path(stored).resolve().read_bytes()


async def information(request: web.Request) -> web.Response:
    if refused := _office_only(request):
        return refused
    board = board_of(request)
    requests = [
        {"request": request_, "title": _info_title(request_.item)}
        for request_ in board.ledger.board_overdue_requests(INFO_SHOWN)
    ]
    late = board.ledger.board_late_updates(INFO_SHOWN)
    return render(request, "info.html", requests=requests, late=late)


def _info_title(item: bytes) -> str:
    try:
        return msgspec.msgpack.decode(item, type=wire.InfoItem).title
    except msgspec.DecodeError:
        return "（无法读取标题）"


async def operations(request: web.Request) -> web.Response:
    if refused := _office_only(request):
        return refused
    board = board_of(request)
    ready, readiness = await _readiness(board)
    today = board.clock.now().astimezone(board.config.calendar().timezone).date()
    return render(
        request,
        "ops.html",
        ready=ready,
        readiness=readiness,
        outbox=board.ledger.outbox_depth(),
        set_aside=board.ledger.dead_outbox_rows(),
        sms=board.ledger.sms_depth(),
        states=board.ledger.deliveries_by_state(),
        calendar=board.config.calendar_warnings(today),
        years=(today.year, today.year + 1),
    )


async def _readiness(board: Board) -> tuple[bool, str]:
    """Asked of the running router's own /readyz: the ledger cannot say whether it runs."""
    settings = board.config.router
    if not settings.metrics_port:
        return False, "无法得知：[router] metrics_port 为 0，路由器没有 /readyz。"
    host = "127.0.0.1" if settings.metrics_host in ("0.0.0.0", "") else settings.metrics_host
    url = f"http://{host}:{settings.metrics_port}/readyz"
    try:
        timeout = aiohttp.ClientTimeout(total=_READYZ_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as answer:
            text = (await answer.text()).strip()
            if answer.status == 200:
                return True, f"就绪（{url}）"
            return False, f"未就绪：{'；'.join(text.splitlines())}（{url}）"
    except (aiohttp.ClientError, TimeoutError) as error:
        return False, f"未运行，或在 {url} 无应答：{error or type(error).__name__}"
