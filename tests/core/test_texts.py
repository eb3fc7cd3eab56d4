"""The sentences people read (docex/core/texts.py) name what they are about: the unit, the
文号, how many, the article, the time. The exact wording is checked end to end by the tests
that drive the router."""

from __future__ import annotations

from docex.core import texts

AT = "2026-11-27T10:05:00.000+08:00"
STARTED = "2026-11-26T09:30:00.000+08:00"


def test_a_fault_names_the_unit_by_name_and_id() -> None:
    """§46: the office learns which unit's link is down, and how."""
    lost = texts.fault_description("heartbeat_lost", "市教育局", "edu")
    untaken = texts.fault_description("queue_untaken", "市教育局", "edu")
    exchange = texts.fault_description("broker_unreachable", "*", "*")

    assert "市教育局（edu）" in lost and "心跳" in lost
    assert "市教育局（edu）" in untaken and "无人接收" in untaken
    assert "交换系统无法连接消息服务器" in exchange
    assert len({lost.replace("市教育局", ""), untaken.replace("市教育局", ""), exchange}) == 3


def test_the_fault_notice_gives_the_start_and_both_deadlines() -> None:
    """§46, §47: respond within 24 hours; paper after the configured fallback."""
    text = texts.fault_notice("市教育局（edu）断开", AT, 36.0)

    assert text.startswith("市教育局（edu）断开。")
    assert f"故障自{AT}起" in text
    assert "24小时内作出响应（第四十六条）" in text
    assert "36小时内仍未排除的，改按纸质方式交换（第四十七条）" in text


def test_the_recovered_notice_gives_when_it_began_and_ended() -> None:
    """§46: the units concerned hear the link is back."""
    text = texts.recovered_notice("市教育局（edu）断开", STARTED, AT)

    assert text.startswith("故障已排除：市教育局（edu）断开")
    assert f"（自{STARTED}起）" in text and f"{AT}起恢复电子交换" in text


def test_the_paper_notice_names_the_unit_the_notice_and_each_document() -> None:
    """§47: which documents of which unit now go on paper."""
    documents = [("教发〔2026〕3号", "关于年终工作的通知"), ("财发〔2026〕9号", "预算")]
    text = texts.paper_notice("描述", 24.0, 12, "市教育局", documents)

    assert "超过24小时仍未排除（第四十七条）" in text
    assert "第12号纸质通知：市教育局的下列公文" in text
    assert text.endswith("教发〔2026〕3号《关于年终工作的通知》、财发〔2026〕9号《预算》。")
    assert texts.paper_notice("描述", 24.0, 12, "市教育局", []).endswith("：无。")


def test_the_sender_of_a_paper_document_is_told_the_fault_and_the_recipient() -> None:
    """§47: senders hand over the printed copies."""
    text = texts.paper_status(7, "市教育局")

    assert "第7号故障" in text and "送交市教育局" in text


def test_the_paper_sheet_names_the_fault_notice_unit_and_dates() -> None:
    """§47: the printed notice says who, which fault, since when, and is dated."""
    header = texts.paper_sheet_header(7, 2, AT)
    body = texts.paper_sheet_body("描述", STARTED, 24.0, has_documents=True)

    assert header == "故障编号：7　通知序号：2　生成时间：2026年11月27日 10:05"
    assert texts.paper_sheet_addressee("市教育局", "edu") == "市教育局（edu）："
    assert body.startswith("描述。故障自2026年11月26日 09:30起，超过 24 小时仍未排除。")
    assert "第四十七条" in body and "交接签字" in body
    assert "目前没有待贵单位接收的电子公文" in texts.paper_sheet_body("描述", STARTED, 24.0, False)
    assert texts.paper_sheet_title(1) == "关于改用纸质方式交换公文的通知"
    assert texts.paper_sheet_title(2).endswith("（补充）")
    assert texts.paper_sheet_date(AT) == "2026年11月27日"
    assert texts.paper_sheet_signer("市府办公厅") == "市府办公厅（政务信息中心）"
    assert texts.role_name("main") == "主送" and texts.role_name("cc") == "抄送"


def test_the_undeliverable_notice_names_the_recipient_the_document_and_why() -> None:
    """§46: the office hears of a message the broker could never take."""
    text = texts.undeliverable_notice("edu", "doc-1", "deliver", "too_large")

    assert text.startswith("发往 edu 的公文 doc-1 的消息（deliver）无法投递（too_large）")
    assert "公文" not in texts.undeliverable_notice("edu", None, "notice", "unroutable")


def test_information_texts_name_the_item_and_the_due_date() -> None:
    """§41, §42: what is owed, by when, and whether a late reply came."""
    late_reply = texts.request_overdue("汛期安全", AT, replied=True)
    no_reply = texts.request_overdue("汛期安全", AT, replied=False)

    assert late_reply.startswith(f"请求办理事项《汛期安全》已超过办理时限 {AT}")
    assert late_reply.endswith("回复晚于时限") and no_reply.endswith("尚未回复")
    assert texts.work_update_reminder("2026-03", "2026-04-10") == (
        "请在 2026-04-10 前报送 2026-03 工作动态（第四十一条）"
    )
    assert texts.work_update_late("2026", "2027-02-28") == (
        "2026 工作动态未在 2027-02-28 前报送（第四十一条）"
    )


def test_an_sms_names_a_public_document_by_title_and_any_other_by_its_number_alone() -> None:
    """§16: a text passes through the SMS operator's hands."""
    public = texts.document_named("关于年终工作的通知", "教发〔2026〕3号", public=True)
    internal = texts.document_named("内部人事安排", "教发〔2026〕4号", public=False)

    assert public == "公文《关于年终工作的通知》（教发〔2026〕3号）"
    assert internal == "内部公文（教发〔2026〕4号）" and "人事" not in internal


def test_sms_texts_name_the_units_the_document_and_counts() -> None:
    """§16: each text says who it is for, from whom, about what."""
    delivered = texts.sms_delivered("市教育局", "市财政局", resent=False, role="main", document="D")
    resent = texts.sms_delivered("市教育局", "市财政局", resent=True, role="cc", document="D")

    assert delivered == "市教育局：市财政局主送D，请及时签收。"
    assert resent == "市教育局：市财政局重发抄送D，请及时签收。"
    assert texts.sms_withdrawn("市财政局", "D") == "市财政局已撤回D，请勿签收。"
    paper = texts.sms_paper("市教育局", 3, "市府办公厅")
    assert paper.startswith("市教育局的3件公文") and "第四十七条" in paper
    assert "请与市府办公厅联系办理交接" in paper
    assert texts.sms_request("市财政局", "汛期安全", AT) == (
        "市财政局请求办理《汛期安全》，办理时限 2026-11-27 10:05。"
    )
    assert texts.sms_request("市财政局", "汛期安全", None) == "市财政局请求办理《汛期安全》。"
    assert texts.sms_more(2) == "（另有2条提醒，请登录公文交换系统查看）"
