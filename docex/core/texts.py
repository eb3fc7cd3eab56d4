"""Every sentence people read from the router's side, in one place: the link notices (§46,
§47), the paper notice's PDF, the undeliverable notice, the SMS texts (§16) and the reminders
and flags about information owed (§41, §42). Together, the wording can be read and reviewed
as a whole, and tested without a router; the modules that send them decide when.

Stamps come in as the ledger writes them (ISO 8601 with the exchange's offset) and go out as
people write dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

# Who signs when the config names no General Office unit.
DEFAULT_OFFICE_NAME = "市府办公厅"

# What each kind of link fault means to people, with {who} the unit concerned.
_FAULTS = {
    "heartbeat_lost": "{who}的系统已停止发送心跳，发往该单位的电子公文无法送达",
    "queue_untaken": "发往{who}的电子公文长时间无人接收，该单位的系统可能已停止工作",
    "broker_unreachable": "交换系统无法连接消息服务器，全部电子公文交换中断",
}


def role_name(role: str) -> str:
    return "主送" if role == "main" else "抄送"


# Link faults (§46, §47).


def fault_description(kind: str, scope_name: str, scope: str) -> str:
    """The fault in a sentence: every notice of a fault, and its paper notice, begin with it."""
    return _FAULTS[kind].format(who=f"{scope_name}（{scope}）")


def fault_notice(description: str, at: str, fallback_hours: float) -> str:
    return (
        f"{description}。故障自{at}起。请组织查明原因、排除故障，并在24小时内"
        f"作出响应（第四十六条）；{fallback_hours:g}小时内"
        f"仍未排除的，改按纸质方式交换（第四十七条）。"
    )


def recovered_notice(description: str, started_at: str, at: str) -> str:
    return (
        f"故障已排除：{description}（自{started_at}起）。{at}起恢复电子交换；"
        f"未改为纸质交换的公文照常送达，不会重复送达；已改为纸质交换的公文按纸质通知办理。"
    )


def paper_status(fault_id: int, unit_name: str) -> str:
    """What the sender of a document switched to paper is asked to do."""
    return f"按第{fault_id}号故障的纸质通知改为纸质交换：请打印后送交{unit_name}并办理交接签字"


def paper_notice(
    description: str,
    fallback_hours: float,
    notice_id: int,
    unit_name: str,
    documents: Sequence[tuple[str, str]],
) -> str:
    """`documents`: (文号, title) of each document switched to paper."""
    listed = "、".join(f"{doc_no}《{title}》" for doc_no, title in documents) or "无"
    return (
        f"{description}，超过{fallback_hours:g}小时仍未排除"
        f"（第四十七条）。第{notice_id}号纸质通知：{unit_name}的下列公文改按纸质方式交换，"
        f"不再以电子方式送达：{listed}。"
    )


# The paper notice's PDF (§47), in the order it reads.


def paper_sheet_title(sequence: int) -> str:
    return "关于改用纸质方式交换公文的通知" + ("（补充）" if sequence > 1 else "")


def paper_sheet_header(fault_id: int, sequence: int, created_at: str) -> str:
    return f"故障编号：{fault_id}　通知序号：{sequence}　生成时间：{_when(created_at)}"


def paper_sheet_addressee(unit_name: str, unit_id: str) -> str:
    return f"{unit_name}（{unit_id}）："


def paper_sheet_body(
    description: str, started_at: str, fallback_hours: float, has_documents: bool
) -> str:
    if has_documents:
        what = (
            "下列发往贵单位的公文改按纸质方式交换：由发文单位打印纸质公文送达，双方在交接签字栏签字。"
            "这些公文不再以电子方式送达，也不能再在交换系统中接收、打印或下载。"
        )
    else:
        what = (
            "故障排除前，发往贵单位的公文改按纸质方式交换，另行通知；"
            "目前没有待贵单位接收的电子公文。"
        )
    return (
        f"{description}。故障自{_when(started_at)}起，"
        f"超过 {fallback_hours:g} 小时仍未排除。依照交换系统管理办法第四十七条，{what}"
    )


PAPER_SHEET_COLUMNS = ("序号", "文号", "标题", "发文单位", "主送/抄送", "允许打印份数", "交接签字")
PAPER_SHEET_SIGNATURES = (
    "送件人（签字）：＿＿＿＿＿　收件人（签字）：＿＿＿＿＿　交接日期：＿＿月＿＿日"
)


def paper_sheet_signer(office_name: str) -> str:
    return f"{office_name}（政务信息中心）"


def paper_sheet_date(created_at: str) -> str:
    return _when(created_at, "%Y年%m月%d日")


# A message the broker could never take (§46: the office hears of every failure).


def undeliverable_notice(routing_key: str, doc_id: str | None, type_: str, reason: str) -> str:
    what = f"公文 {doc_id} 的" if doc_id else ""
    return (
        f"发往 {routing_key} 的{what}消息（{type_}）无法投递"
        f"（{reason}），已移出发送队列，其他消息照常发送。请运维人员处理。"
    )


def receive_reminder(sender_name: str, document: str, delivered_at: str) -> str:
    """Also texted as it is (§16), so `document` is named as `document_named` names it."""
    return (
        f"{sender_name}发来的{document}已于{_when(delivered_at)}送达，尚未签收，"
        f"请按时接收（第三十三条）。"
    )


# Information owed (§41, §42).


def request_overdue(title: str, deadline: str, replied: bool) -> str:
    state = "回复晚于时限" if replied else "尚未回复"
    return f"请求办理事项《{title}》已超过办理时限 {deadline}，{state}"


def work_update_reminder(period: str, due: str) -> str:
    return f"请在 {due} 前报送 {period} 工作动态（第四十一条）"


def work_update_late(period: str, due: str) -> str:
    return f"{period} 工作动态未在 {due} 前报送（第四十一条）"


# SMS (§16): a text is short, and passes through the SMS operator's hands.


def document_named(title: str, doc_no: str, public: bool) -> str:
    """A text passes through the SMS operator's hands: only a public document's title goes
    in it; any other is named by its 文号 alone."""
    if public:
        return f"公文《{title}》（{doc_no}）"
    return f"内部公文（{doc_no}）"


def sms_delivered(unit_name: str, sender_name: str, resent: bool, role: str, document: str) -> str:
    """`document`: as `document_named` names it."""
    again = "重发" if resent else ""
    return f"{unit_name}：{sender_name}{again}{role_name(role)}{document}，请及时签收。"


def sms_withdrawn(sender_name: str, document: str) -> str:
    return f"{sender_name}已撤回{document}，请勿签收。"


def sms_paper(unit_name: str, documents: int, office_name: str) -> str:
    """The paper notice itself lists titles; a text names only how many."""
    return (
        f"{unit_name}的{documents}件公文因交换故障"
        f"改按纸质方式交换（第四十七条），请与{office_name}"
        f"联系办理交接。"
    )


def sms_request(sender_name: str, title: str, deadline: str | None) -> str:
    when = f"，办理时限 {_when(deadline, '%Y-%m-%d %H:%M')}" if deadline else ""
    return f"{sender_name}请求办理《{title}》{when}。"


def sms_more(reminders: int) -> str:
    """Appended to the first of several texts waiting for one number, sent as one."""
    return f"（另有{reminders}条提醒，请登录公文交换系统查看）"


def _when(stamp: str, layout: str = "%Y年%m月%d日 %H:%M") -> str:
    """A ledger stamp (local time with its offset) as people write it."""
    return datetime.fromisoformat(stamp).strftime(layout)
