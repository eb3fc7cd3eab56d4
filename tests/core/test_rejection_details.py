"""A rejection's detail reaches the clerk in the clerk's language: every sentence the router
can write is listed in docex/cli/rejections.py, and one read back gives the Chinese with the
router's values in it."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

import pytest

import docex
from docex.cli import rejections
from docex.core.rejection import Rejection

PACKAGE = Path(docex.__file__).parent

# Passed on from elsewhere (a seal check, the wire's decoder, the calendar), or joined from
# parts: shown as they came.
PASSED_ON = {"exc.message", "str(exc)"}
# Written in two templates there, one for each way the sentence ends.
IN_TWO = {"{} is neither a custodian role{}"}


def _router_sentences() -> list[tuple[str, str]]:
    """The details of every Rejection, and of every SealError outside the command line's own
    code (docex/cli/ writes its sentences in the reader's language directly)."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        kinds = {"Rejection"} if path.parent.name == "cli" else {"Rejection", "SealError"}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in kinds:
                message = node.args[1]
                where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
                if isinstance(message, ast.Constant):
                    found.append((where, str(message.value)))
                elif isinstance(message, ast.JoinedStr):
                    found.append((where, _shape(message)))
                else:
                    found.append((where, ast.unparse(message)))
    return found


def _shape(joined: ast.JoinedStr) -> str:
    return "".join(
        str(part.value) if isinstance(part, ast.Constant) else "{}" for part in joined.values
    )


def test_every_sentence_the_router_writes_is_listed() -> None:
    listed = {rejections.shape(template) for template in rejections.DETAILS}
    sentences = _router_sentences()
    assert len(sentences) > 100
    missing = [
        (where, sentence)
        for where, sentence in sentences
        if sentence not in listed
        and sentence not in PASSED_ON
        and sentence not in IN_TWO
        and not sentence.startswith("'nothing withdrawn: '")
    ]
    assert missing == [], "add them to docex/cli/rejections.py DETAILS, and their Chinese"


@pytest.fixture
def chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = gettext.translation("docex", PACKAGE / "locale", languages=["zh_CN"])
    monkeypatch.setattr("docex.i18n._catalog", lambda: catalog)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("no unit 'Z9' is registered", "未登记的单位 'Z9'"),
        ("unit 'B' is revoked", "单位 'B' 已吊销"),
        (
            "cannot print document D-1 for B: it is withdrawn",
            "无法对 B 收到的公文 D-1 执行“打印”：该公文已撤回",
        ),
        ("document 'D-1' was already sent", "公文 'D-1' 已发送过"),
        ("a unit cannot send a document to itself", "不能将公文发给本单位自己"),
    ],
)
def test_a_detail_is_told_in_chinese(chinese: None, message: str, expected: str) -> None:
    assert rejections.detail(message) == expected


def test_a_detail_stays_english_under_c() -> None:
    english = gettext.NullTranslations()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("docex.i18n._catalog", lambda: english)
        assert rejections.detail("no unit 'Z9' is registered") == "no unit 'Z9' is registered"


def test_an_unknown_sentence_is_shown_as_it_came(chinese: None) -> None:
    assert rejections.detail("a newer router says so") == "a newer router says so"


def test_a_rejection_made_by_the_router_reads_back(chinese: None) -> None:
    """The sentence as rules.py makes it, not only as written in this test."""
    from docex.core import rules

    with pytest.raises(Rejection) as caught:
        rules.check_exclusions("secret", "normal", False, what="documents")
    assert rejections.detail(caught.value.message) == "秘密公文不得电子交换（第四条）"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "cannot read CA certificate /x/ca.crt: No such file or directory",
            "无法读取 CA 证书 /x/ca.crt：文件或文件夹不存在",
        ),
        (
            "cannot read /x/issued.jsonl: Permission denied",
            "无法读取 /x/issued.jsonl：无权限",
        ),
        (
            "seal 0a1b is a signing seal; a verification seal is required",
            "印章 0a1b 是签名印章；须用验证印章",
        ),
    ],
)
def test_a_seal_refusal_is_told_in_chinese(chinese: None, message: str, expected: str) -> None:
    assert rejections.detail(message) == expected


def test_an_answer_the_clerk_reads(chinese: None, capsys: pytest.CaptureFixture[str]) -> None:
    from docex import wire
    from docex.cli.unit_support import print_answer

    rejected = wire.Status(
        ref="m", doc_id="D-1", state="rejected", reason="not_a_recipient", at="t",
        message="D-1 was not sent to 'B'",
    )  # fmt: skip
    done = wire.Status(ref="m", doc_id="D-1", state="attachments_received", at="2026-11-30T09:00")
    assert print_answer(rejected) == 1 and print_answer(done) == 0
    assert capsys.readouterr().out.splitlines() == [
        "被拒绝：本单位不是该公文的收文单位：公文 D-1 没有发给 'B'",
        "纸质附件已确认收到：D-1，时间 2026-11-30T09:00",
    ]
