# ruff: noqa: E501 -- one sentence a line: the table is read side by side, English and Chinese.
"""Fill the zh_CN catalog from the template xgettext made: `make locale` runs it. Every
msgid must have its Chinese here; a new sentence without one stops the build."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ZH_CN = {
    "title (标题)": "标题",
    "a recipient is not registered on the exchange": "收文单位未在交换系统登记",
    "a recipient has left the exchange": "收文单位已退出交换系统",
    "this unit may no longer send": "本单位已不能发文",
    "the exchange does not take this file format": "交换系统不接收这种文件格式",
    "secret documents are not exchanged electronically (§4)": "涉密公文不得电子交换（第四条）",
    "the seal is not one the exchange trusts": "该印章不受交换系统信任",
    "the seal has been revoked": "该印章已被吊销",
    "the document is not sealed": "公文未加盖电子印章",
    "the file is not what was sealed": "文件内容与用印时不符",
    "the document is too large": "公文太大",
    "no such document of this unit": "本单位没有这份公文",
    "this unit is not a recipient of the document": "本单位不是该公文的收文单位",
    "the document has been withdrawn": "公文已被撤回",
    "the document's body was deleted by retention; its record is kept": "公文正文已按保存期限删除，其记录仍保留",
    "the document was already received": "公文已签收",
    "a document with this id was already sent": "同一编号的公文已发送过",
    "a unit is named twice among the recipients": "收文单位重复",
    "no recipient named": "未写收文单位",
    "a unit cannot send to itself": "不能发给本单位自己",
    "a reason is required": "须写明理由",
    "the number of copies is not allowed": "打印份数不合规定",
    "a print quota is not allowed": "打印份数设置不合规定",
    "more copies than the exchange allows": "超过交换系统允许的份数",
    "sent at {at}, exchange date {date}": "发送时间 {at}，交换日期 {date}",
    "paper attachments (§28): {items}": "纸质附件（第二十八条）：{items}",
    "recipient": "收文单位",
    "role": "类别",
    "printed": "已打印",
    "attempt": "投递次数",
    "received at": "签收时间",
    "exchange date": "交换日期",
    " (exchange date {date})": "（交换日期 {date}）",
    "{at}  notice {kind} (fault {fault}): {text}": "{at}  通知 {kind}（故障 {fault}）：{text}",
    "saved {path}": "已保存 {path}",
    "the PDF or OFD file": "PDF 或 OFD 文件",
    "{prog}: error: {message} (see `{prog} --help`)": "{prog}：错误：{message}（参见 `{prog} --help`）",
    "ask for extra copies (§38)": "申请增加打印份数（第三十八条）",
    "ask the sender to send again (§38)": "请发文单位重发（第三十八条）",
    "confirm the paper attachments arrived (§28)": "确认纸质附件已收到（第二十八条）",
    "copies each recipient may print (§31): A=3,C=1": "各收文单位可打印份数（第三十一条）：A=3,C=1",
    "copy recipients (抄送): C,D": "抄送单位：C,D",
    "declassified download: a copy (§36)": "解密下载：下载一份（第三十六条）",
    "deliver a document you sent again (§38)": "重发本单位发出的公文（第三十八条）",
    "directory to save into": "保存到的文件夹",
    "document number (文号)": "文号",
    "every document delivered, not only new": "全部已收公文，不只是新的",
    "fetch delivered documents, verify their seals": "接收公文，验证印章",
    "folder for the print-ready PDFs, one per copy": "存放打印件的文件夹，每份一个 PDF",
    "grant a recipient extra copies": "同意收文单位增加打印份数",
    "main recipients (主送): A,B": "主送单位：A,B",
    "news from the router: documents you sent, outages and paper notices": "交换系统的消息：本单位发文的去向、故障和纸质交换通知",
    "numbered copies to print, sealed and registered with the exchange (§35)": "生成带份号、加盖验证印章并经交换系统登记的打印件（第三十五条）",
    "only from these units: A,B (default: all)": "只从这些单位撤回：A,B（默认：全部）",
    "pdf, ofd or a configured one (default: from the file)": "pdf、ofd 或配置允许的格式（默认：按文件内容识别）",
    "save verified documents here as '<文号> <标题>.pdf' and send read receipts (§37)": "将验证通过的公文以“<文号> <标题>.pdf”保存到此处，并发送签收回执（第三十七条）",
    "seal a PDF or OFD file and send it": "对 PDF 或 OFD 文件加盖电子印章并发送",
    "seconds to wait for the router's answer; the document stays queued after": "等待交换系统答复的秒数；超时后公文仍在排队",
    "secret and above are never exchanged (§4)": "秘密级及以上公文不得电子交换（第四条）",
    "send a wrong document back (退回, §34)": "退回误送的公文（第三十四条）",
    "send and receive documents as a unit": "以本单位身份收发公文",
    "send as a new document what this unit already sent (same file, 文号, recipients)": "将已发过的公文（同一文件、文号、收文单位）作为新公文再发一次",
    "the bridge's settings": "MQTT 桥接配置文件",
    "the hot folder's settings": "热文件夹配置文件",
    "the recipient": "收文单位",
    "the router's config": "交换系统配置文件",
    "the same number of copies for every recipient": "每个收文单位相同的打印份数",
    "the seal carrier's password (else ${env}, else prompt)": "印章载体的口令（否则取 ${env}，再否则提示输入）",
    "the unit's settings file": "本单位配置文件",
    "the units on the exchange: id, name, state": "交换系统上的单位：编号、名称、状态",
    "the verification seal's password (else ${env}, else prompt)": "验证印章的口令（否则取 ${env}，再否则提示输入）",
    "where a document is, recipient by recipient": "公文去向，逐个收文单位列出",
    "who applies the seal (§29), by name (else sealed_by in the settings)": "用印人姓名（第二十九条；否则取配置中的 sealed_by）",
    "who sends it (§29), by name (else sent_by in the settings)": "发送人姓名（第二十九条；否则取配置中的 sent_by）",
    "withdraw (撤回) from who has not received it": "从尚未签收的单位撤回公文",
    "{what} (TOML; else ${env})": "{what}（TOML；否则取 ${env}）",
    "         from {start} to {end}": "         自 {start} 至 {end}",
    "  {number}. {doc_no} 《{title}》 from {sender}, {role}, may print {copies} — {id} ({state})": "  {number}. {doc_no}《{title}》，来自 {sender}，{role}，可打印{copies}份 — {id}（{state}）",
    " (heartbeats)": "（心跳）",
    "; documents go on paper in {time} (§47)": "；{time}后公文改为纸质交换（第四十七条）",
    "; on paper since {at} (docex notices list)": "；自{at}起改为纸质交换（docex notices list）",
    "DOWN": "中断",
    "LAST HEARD": "最近联系",
    "LINK": "链路",
    "NOT READY: {problems} ({url})": "未就绪：{problems}（{url}）",
    "NOT RUNNING, or not answering at {url}: {reason}": "未运行，或在 {url} 无响应：{reason}",
    "OLDEST UNTAKEN": "最早未接收",
    "UNIT": "单位",
    "UNTAKEN": "未接收",
    "deliveries: {states}": "投递：{states}",
    "documents to exchange on paper: {count}": "需纸质交换的公文：{count}",
    "error: no paper notice {id}": "错误：没有编号为 {id} 的纸质通知",
    "fault:   {id}, {kind}, {scope}": "故障：  {id}，{kind}，{scope}",
    "faults:  {count} open": "故障：  {count} 个未排除",
    "never": "从未",
    "no paper notices": "没有纸质通知",
    "; not sent yet: the same send again sends document {id}, once": "；尚未发出：再次执行同样的发送即发出公文 {id}，只发一次",
    "faults:  none open": "故障：  无",
    "none yet": "暂无",
    "now (still open)": "现在（尚未排除）",
    "paper notice {id}: {path}": "纸质通知 {id}：{path}",
    "ready ({url})": "就绪（{url}）",
    "router:  {readiness}": "交换系统：{readiness}",
    "set aside: {count} messages the broker can never take (ledger table outbox_dead; the General Office was told of each; see the router's log)": "已搁置：{count} 条消息服务器永远无法接收的消息（台账表 outbox_dead；已逐条通知市府办公厅；详见交换系统日志）",
    "the exchange itself": "交换系统本身",
    "unit:    {unit}": "单位：  {unit}",
    "unknown: [router] metrics_port is 0, so it has no /readyz to ask": "未知：[router] metrics_port 为 0，没有可询问的 /readyz",
    "up": "正常",
    "waiting: {publish} to publish, {sms} SMS reminders": "待处理：{publish} 条待发布，{sms} 条短信提醒",
    "written: {at}": "生成时间：{at}",
    "{scope}: {kind} for {time}": "{scope}：{kind}，已持续{time}",
    "{time} ago": "{time}前",
    "NOT SAVED {line}: {error}; the others continue": "未保存 {line}：{error}；其余公文继续处理",
    "ON PAPER {line}\n  exchanged on paper since {at} (§47)": "改纸质 {line}\n  自{at}起改为纸质交换（第四十七条）",
    "REFUSED {line}\n  seal does not verify: {error}": "拒收 {line}\n  电子印章验证未通过：{error}",
    "RabbitMQ at {host}:{port}": "消息服务器 {host}:{port}",
    "WITHDRAWN {line}\n  withdrawn by the sender at {at}": "已撤回 {line}\n  发文单位于{at}撤回",
    "accepted: sent at {at}, counts as sent on {date} (§30, §32)": "已受理：发送时间 {at}，按 {date} 计为发出（第三十条、第三十二条）",
    "already sent: {doc_no} 《{title}》 id {id}; `docex unit status {id}` shows where it is; --again sends it once more as a new document": "已发送过：{doc_no}《{title}》，编号 {id}；用 `docex unit status {id}` 查看去向；如确需作为新公文再发一次，请加 --again",
    "cannot find the host {host!r}: check amqp_url in {file}": "找不到主机 {host!r}：请检查 {file} 中的 amqp_url",
    "cannot reach {broker} ({reason}): is it running, and is amqp_url in {file} right?": "无法连接{broker}（{reason}）：请确认它在运行，并检查 {file} 中的 amqp_url 是否正确",
    "cannot use it": "无法使用",
    "copy": "抄送",
    "denied: {message}": "不予打印：申请{requested}份，尚可打印{remaining}份",
    "error: {problem}": "错误：{problem}",
    "filed by another program at {path}; no receipt from here": "已由其他程序存放于 {path}；不从此处发送回执",
    "it is a folder, not a file": "这是文件夹，不是文件",
    "main": "主送",
    "name": "名称",
    "name {what}: --config FILE, or ${env}": "请指明{what}：--config 文件，或环境变量 ${env}",
    "no document {id} was delivered to this unit": "本单位没有收到编号为 {id} 的公文",
    "no new documents (--all lists every one delivered)": "没有新公文（--all 列出全部已收公文）",
    "no such file": "文件不存在",
    "not allowed to read it": "无权读取",
    "printed: {doc_no} 《{title}》 copies {first}–{last} of {total} (pages per copy: {pages}), registered by the exchange at {at}; {left} left": "已生成打印件：{doc_no}《{title}》第{first}–{last}份，共{total}份（每份{pages}页），交换系统于{at}登记；尚可打印{left}份",
    "printing needs verification_carrier in the unit's settings (§35)": "打印需要在本单位配置中设置 verification_carrier（验证印章，第三十五条）",
    "queued: will be delivered when the exchange is back; check with `docex unit status {id}`": "已排队：交换系统恢复后即送达；可用 `docex unit status {id}` 查看",
    "read receipt sent (§37)": "已发送签收回执（第三十七条）",
    "refused for {units}: already received": "对 {units} 撤回未成：对方已签收",
    "rejected: {reason}: {message}": "被拒绝：{explanation}：{message}",
    "say how many copies {units} may print (§31): --copies UNIT=N for each recipient, or --copies-all N": "请写明 {units} 可打印的份数（第三十一条）：每个收文单位用 --copies 单位=份数，或统一用 --copies-all 份数",
    "say who applies the seal (§29): --sealed-by NAME, or sealed_by in the unit's settings": "请写明用印人（第二十九条）：--sealed-by 姓名，或在本单位配置中设置 sealed_by",
    "seal verified; saved to {path}": "印章验证通过；已保存到 {path}",
    "sent: {doc_no} 《{title}》 id {id}": "已发出：{doc_no}《{title}》，编号 {id}",
    "state": "状态",
    "unexpected failure ({kind}: {text}); run again with --debug for details": "意外故障（{kind}：{text}）；加 --debug 重新运行可看详情",
    "unit": "单位",
    "unit {unit!r} has no queue on the exchange ({broker}, prefix {prefix!r}): is `unit` in {file} registered in the router's config, and were the units provisioned (`docex units provision`)?": "单位 {unit!r} 在交换系统上没有队列（{broker}，前缀 {prefix!r}）：请确认 {file} 中的 unit 已在交换系统配置中登记，并已开通各单位（`docex units provision`）",
    "withdrawn from {units} at {at}": "已于{at}从 {units} 撤回",
    "{broker} did not answer in time: is it running and reachable?": "{broker}未及时响应：请确认它在运行且网络可达",
    "{broker} does not let user {user!r} act as unit {unit!r}: check `unit` and amqp_url in {file}, or provision the unit again": "{broker}不允许用户 {user!r} 以单位 {unit!r} 的身份操作：请检查 {file} 中的 unit 和 amqp_url，或重新开通该单位",
    "{broker} refused user {user!r}: check the password in amqp_url in {file}": "{broker}拒绝了用户 {user!r}：请检查 {file} 中 amqp_url 的密码",
    "{doc_no} 《{title}》 from {sender} ({role}, may print {copies}), id {id}": "{doc_no}《{title}》，来自 {sender}（{role}，可打印{copies}份），编号 {id}",
    "{file} is neither PDF nor OFD; name its format with --format": "{file} 既不是 PDF 也不是 OFD；请用 --format 指明格式",
    "{id} cannot be printed here: {reason}": "{id} 无法在此打印：{reason}",
    "{id} is withdrawn or its seal does not verify": "{id} 已撤回，或其印章验证未通过",
    "{path} is a folder; name a file": "{path} 是文件夹；请指定文件",
    "{path}: no such file": "{path}：文件不存在",
    "{path}: not allowed to read it": "{path}：无权读取",
}


# argparse's own words, which it looks up in the process's gettext domain (docex/i18n.py).
ARGPARSE = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "show this help message and exit": "显示本帮助并退出",
    "the following arguments are required: %s": "缺少以下参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "expected one argument": "需要一个值",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效选项：%(value)r（可选 %(choices)s）",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "one of the arguments %s is required": "参数 %s 必须给出其中一个",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
}


def _unquote(lines: list[str]) -> str:
    return "".join(
        line[1:-1].encode("raw_unicode_escape").decode("unicode_escape") for line in lines
    )


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def main(template: Path, catalog: Path) -> int:
    entries = re.findall(r'msgid ((?:".*"\n)+)msgstr ""', template.read_text())
    ids = [_unquote(block.strip().splitlines()) for block in entries]
    missing = [msgid for msgid in ids if msgid and msgid not in ZH_CN]
    if missing:
        print("no Chinese for:\n" + "\n".join(missing), file=sys.stderr)
        return 1
    out = [
        'msgid ""',
        'msgstr ""',
        '"Project-Id-Version: docex\\n"',
        '"PO-Revision-Date: 2026-11-30 00:00+0800\\n"',
        '"Last-Translator: docex\\n"',
        '"Language-Team: zh_CN\\n"',
        '"Language: zh_CN\\n"',
        '"MIME-Version: 1.0\\n"',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        '"Content-Transfer-Encoding: 8bit\\n"',
        "",
    ]
    for msgid in ids:
        if msgid:
            out += [f"msgid {_quote(msgid)}", f"msgstr {_quote(ZH_CN[msgid])}", ""]
    for msgid, msgstr in ARGPARSE.items():
        out += [f"msgid {_quote(msgid)}", f"msgstr {_quote(msgstr)}", ""]
    catalog.write_text("\n".join(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
