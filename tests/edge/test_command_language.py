"""What the General Office's and a clerk's commands print when they work, and their refusals,
in the reader's language: `docex users`, `docex audit`, `docex ledger prune`, `docex router
status`, the calendar's warning, `docex unit … events`, `status` and `info inbox`. Under
LANG=zh_CN.UTF-8 each answer is Chinese with no English sentence left in it; under LANG=C it
is English."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from docex.config import load_config
from docex.router.service import Router
from tests.command_line import docex as docex_async
from tests.conftest import UnitConfigWriter
from tests.documents import PDF
from tests.edge.test_error_language import (
    _HAN,
    CHINESE,
    ENGLISH,
    docex,
    in_both_languages,
    run,
    untranslated,
)


def chinese(*command: object) -> str:
    """The command's answer under zh_CN: it worked, and has no English sentence in it."""
    code, out = docex(CHINESE, *command)
    assert code == 0, out
    assert _HAN.search(out) and not untranslated(out), (untranslated(out), out)
    return out


def english(*command: object) -> str:
    code, out = docex(ENGLISH, *command)
    assert code == 0, out
    return out


def test_users_add_list_and_their_refusals(config_file: Path, tmp_path: Path) -> None:
    """§13, §15: the register's commands, in both languages."""
    out = chinese(
        "users", "add", "--config", config_file, "--unit", "finance", "zhangsan",
        "--chinese-name", "张三", "--roles", "发文,收文",
        "--credential-out", tmp_path / "zhangsan.cred",
    )  # fmt: skip
    assert "已为 finance 添加人员 张三（zhangsan）：发文,收文" in out, out
    assert "初始口令：" in out and "请将二者当面交给 zhangsan" in out, out
    out = english(
        "users", "add", "--config", config_file, "--unit", "finance", "lisi",
        "--chinese-name", "李四", "--roles", "info", "--credential-out", tmp_path / "lisi.cred",
    )  # fmt: skip
    assert "added person lisi (李四) to finance: 信息" in out
    assert "initial password: " in out and "hand both to lisi in person" in out, out

    out = chinese("users", "list", "--config", config_file)
    assert out.startswith("单位\t名称\t姓名\t角色\t手机\t状态\t类型\t凭据"), out
    assert "\t张三\t发文,收文\t-\t在用\t个人\t" in out and "市府办公厅" in out, out
    out = english("users", "list", "--config", config_file)
    assert out.startswith("unit\tname\t姓名\troles\tmobile\tstatus\tkind\tcredential"), out
    assert "\t张三\t发文,收文\t-\tactive\tperson\t" in out and "\toffice" in out, out

    in_both_languages(
        ("users", "disable", "--config", config_file, "--unit", "finance", "wangwu"),
        "no 'wangwu' in the register of unit 'finance'",
        "单位 finance 的登记簿中没有 wangwu",
    )
    in_both_languages(
        ("users", "list", "--config", tmp_path / "nowhere.toml"),
        "nowhere.toml: no such file or folder",
        "nowhere.toml：文件或文件夹不存在",
    )
    wrong_role = (
        "users", "add", "--config", config_file, "--unit", "finance", "zhaoliu",
        "--chinese-name", "赵六", "--roles", "boss", "--credential-out", tmp_path / "z",
    )  # fmt: skip
    code, out = docex(CHINESE, *wrong_role)
    assert code == 2 and "错误：未知的角色 boss；可用：send (发文)" in out, out
    assert not untranslated(out), out
    code, out = docex(ENGLISH, *wrong_role)
    assert code == 2 and "error: unknown role 'boss'; known: send (发文)" in out, out


@pytest.mark.sqlite_only  # reads a ledger no router made: on PostgreSQL there is none
def test_audit_verify_and_show(config_file: Path) -> None:
    out = chinese("audit", "verify", "--config", config_file)
    assert "审计链完好：0 条记录，0 个签名检查点，0 个事件尚未入链" in out, out
    out = english("audit", "verify", "--config", config_file)
    assert "audit chain ok: 0 records, 0 signed checkpoints, 0 events not chained yet" in out
    in_both_languages(
        ("audit", "show", "--config", config_file, "no-such-doc"),
        "error: no evidence of a document 'no-such-doc'",
        "错误：没有公文 no-such-doc 的任何证据",
    )


@pytest.mark.sqlite_only
def test_audit_verify_names_the_broken_record(config_file: Path) -> None:
    """A chain record whose event row is gone: the one line that says where it breaks."""
    ledger = load_config(config_file).router.ledger
    with sqlite3.connect(ledger) as db:
        db.execute(
            "INSERT INTO audit_chain (seq, event_id, prev_hash, hash) VALUES (1, 999, ?, ?)",
            (bytes(32), bytes(32)),
        )
    code, out = docex(CHINESE, "audit", "verify", "--config", config_file)
    assert code == 1 and "审计链已被破坏：audit_chain 第 1 条（事件 999）：缺少对应的" in out, out
    assert not untranslated(out), out
    code, out = docex(ENGLISH, "audit", "verify", "--config", config_file)
    assert code == 1, out
    assert "audit chain BROKEN: audit_chain seq 1 (event 999): its audit_events row" in out


def test_ledger_prune(config_file: Path, tmp_path: Path) -> None:
    out = chinese("ledger", "prune", "--config", config_file)
    assert "已清除 0 份公文正文和 0 份通知 PDF；已删除的证据：" in out, out
    assert "以前的证据：0 份公文" in out, out
    out = english("ledger", "prune", "--config", config_file)
    assert "pruned 0 bodies and 0 notice PDFs; evidence deleted: " in out, out
    assert "evidence from before " in out, out
    lost = tmp_path / "lost.toml"
    lost.write_text(
        config_file.read_text().replace(
            str(load_config(config_file).router.ledger), str(tmp_path / "lost.sqlite")
        )
    )
    in_both_languages(
        ("ledger", "prune", "--config", lost),
        f"error: no ledger at {tmp_path / 'lost.sqlite'}",
        f"错误：{tmp_path / 'lost.sqlite'} 处没有台账",
    )


@pytest.mark.sqlite_only  # reads a ledger no router made: on PostgreSQL there is none
def test_router_status_with_no_router_running(config_file: Path) -> None:
    """Its lines when the router is not asked (metrics_port 0) and nothing was sent yet."""
    out = docex(CHINESE, "router", "status", "--config", config_file)[1]
    assert "交换系统：未知" in out and "故障：  无" in out and "投递：暂无" in out, out
    assert not untranslated(out), out
    out = docex(ENGLISH, "router", "status", "--config", config_file)[1]
    assert "router:  unknown" in out and "deliveries: none yet" in out, out


def test_the_calendar_warning(tmp_path: Path) -> None:
    """§30, §33: the warning `docex router status` and `config check` print in December for a
    year nobody has holiday data for."""
    config = tmp_path / "router.toml"
    config.write_text(
        '[router]\nseal_carrier = "x"\nseal_password_file = "y"\n[seals]\nca_certificate = "c"\n'
    )
    warn = (
        "from datetime import date\n"
        "import sys\n"
        "from pathlib import Path\n"
        "from docex.config import load_config\n"
        "from docex.exchange_date import library_covers\n"
        "year = next(y for y in range(2027, 2100) if not library_covers(y))\n"
        "print(load_config(Path(sys.argv[1])).calendar_warnings(date(year - 1, 12, 1))[0])\n"
    )
    code, out = run(CHINESE, "-c", warn, config)
    assert code == 0 and "交换日历：没有" in out and "交换系统拒绝为" in out, out
    assert not untranslated(out), out
    code, out = run(ENGLISH, "-c", warn, config)
    assert code == 0 and "the router refuses to date documents in" in out, out


async def test_a_documents_events_status_and_the_information_inbox(
    router: Router, unit_config: UnitConfigWriter, config_file: Path, tmp_path: Path
) -> None:
    """The state words a clerk reads in `events` and `status` (§29, §37), the labels of
    `info inbox` (§42), and the deliveries by state in `docex router status`."""
    office, finance = unit_config("gov-office"), unit_config("finance")
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    code, out = await docex_async(
        "unit", "--config", str(office), "send", str(document), "--to", "finance",
        "--copies", "finance=1", "--sealed-by", "张三", "--title", "关于年终工作的通知",
        "--doc-no", "穗府办〔2026〕3号",
    )  # fmt: skip
    assert code == 0, out
    doc_id = out.split(" id ")[1].split()[0].rstrip(";")
    code, out = await docex_async(
        "unit", "--config", str(finance), "inbox", "--save", str(tmp_path / "in")
    )
    assert code == 0, out
    code, out = await docex_async(
        "unit", "--config", str(finance), "info", "request", "--to", "gov-office",
        "--title", "请协调会议室", "--content", "周五上午",
        "--deadline", "2026-11-27T12:00:00+08:00",
    )  # fmt: skip
    assert code == 0, out
    request_id = out.split()[1]

    zh = {"LANG": "zh_CN.UTF-8"}
    # The receipt's news reaches the sender's queue after finance's answer: read until it is in.
    for _attempt in range(20):
        code, out = await docex_async("unit", "--config", str(office), "events", doc_id, env=zh)
        assert code == 0, out
        if f"{doc_id}  已签收 finance" in out:
            break
    assert f"{doc_id}  已受理" in out and f"{doc_id}  已签收 finance" in out, out
    assert not untranslated(out), out
    code, out = await docex_async("unit", "--config", str(office), "events", doc_id)
    assert f"{doc_id}  accepted" in out and f"{doc_id}  received finance" in out, out

    code, out = await docex_async("unit", "--config", str(office), "status", doc_id, env=zh)
    assert code == 0 and "已签收" in out and "received" not in out, out
    assert not untranslated(out), out

    code, out = await docex_async("unit", "--config", str(office), "info", "inbox", env=zh)
    assert code == 0, out
    assert f"请求办理事项 {request_id}，来自 finance：《请协调会议室》" in out, out
    assert "  期限：2026-11-27T12:00:00.000+08:00" in out, out
    assert not untranslated(out), out
    code, out = await docex_async("unit", "--config", str(office), "info", "inbox")
    assert f"request {request_id} from finance: 《请协调会议室》" in out, out
    assert "  deadline: 2026-11-27T12:00:00.000+08:00" in out, out

    out = docex(CHINESE, "router", "status", "--config", config_file)[1]
    assert "投递：" in out and "已签收 1" in out and not untranslated(out), out
    out = docex(ENGLISH, "router", "status", "--config", config_file)[1]
    assert "deliveries: " in out and "received 1" in out, out
