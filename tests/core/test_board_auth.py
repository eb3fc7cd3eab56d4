"""Who the board believes (docex/board/auth.py): the proxy's verified subject, from loopback,
when the config names it; and the [board] section of the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from docex.board.auth import Refused, Viewer, identify, unescape_dn
from docex.config import ConfigError
from tests.core.test_config import MINIMAL, load, unit

SUBJECTS = {
    "CN=李四,OU=秘书处,O=市府办公厅": "office",
    r"CN=\E7\8E\8B\E4\BA\94,O=finance": "finance",
}
# CN=李四,OU=秘书处,O=市府办公厅 as $ssl_client_s_dn has it.
OFFICE_AS_NGINX_WRITES_IT = (
    r"CN=\E6\9D\8E\E5\9B\9B,OU=\E7\A7\98\E4\B9\A6\E5\A4\84,"
    r"O=\E5\B8\82\E5\BA\9C\E5\8A\9E\E5\85\AC\E5\8E\85"
)


def test_the_proxy_on_loopback_vouches_for_a_listed_subject() -> None:
    office = identify("127.0.0.1", "SUCCESS", OFFICE_AS_NGINX_WRITES_IT, SUBJECTS)
    assert office == Viewer("CN=李四,OU=秘书处,O=市府办公厅", None)
    assert office.is_office
    finance = identify("::ffff:127.0.0.1", "SUCCESS", "CN=王五,O=finance", SUBJECTS)
    assert identify("::1", "SUCCESS", "CN=王五,O=finance", SUBJECTS) == finance
    assert finance == Viewer("CN=王五,O=finance", "finance")
    assert not finance.is_office


@pytest.mark.parametrize(
    ("peer", "verified", "subject", "why"),
    [
        ("192.0.2.2", "SUCCESS", OFFICE_AS_NGINX_WRITES_IT, "请通过办公厅的证书认证代理访问"),
        (
            "::ffff:192.0.2.2",
            "SUCCESS",
            OFFICE_AS_NGINX_WRITES_IT,
            "请通过办公厅的证书认证代理访问",
        ),
        (None, "SUCCESS", OFFICE_AS_NGINX_WRITES_IT, "请通过办公厅的证书认证代理访问"),
        ("127.0.0.1", None, OFFICE_AS_NGINX_WRITES_IT, "未通过客户端证书认证"),
        (
            "127.0.0.1",
            "FAILED:certificate revoked",
            OFFICE_AS_NGINX_WRITES_IT,
            "未通过客户端证书认证",
        ),
        ("127.0.0.1", "NONE", None, "未通过客户端证书认证"),
        ("127.0.0.1", "SUCCESS", "", "未通过客户端证书认证"),
        ("127.0.0.1", "SUCCESS", "CN=李四,OU=秘书处,O=市教育局", "未获授权"),
    ],
)
def test_anything_else_is_refused_with_a_chinese_reason(
    peer: str | None, verified: str | None, subject: str | None, why: str
) -> None:
    with pytest.raises(Refused, match=why):
        identify(peer, verified, subject, SUBJECTS)


def test_rfc_2253_hex_escapes_are_read_as_utf8() -> None:
    assert unescape_dn(r"CN=\E6\9D\8E\E5\9B\9B,O=x") == "CN=李四,O=x"
    assert unescape_dn("CN=李四,O=x") == "CN=李四,O=x"
    assert unescape_dn(r"CN=a\2Cb") == "CN=a,b"


def test_board_subjects_must_name_the_office_or_a_unit(tmp_path: Path) -> None:
    board = (
        '[board]\nlisten = "127.0.0.1:8480"\n[board.subjects]\n"CN=x" = "office"\n"CN=y" = "a"\n'
    )
    load(tmp_path, MINIMAL + board + unit("a"))
    with pytest.raises(ConfigError, match=r"board\.subjects\.CN=z: 'nobody' is neither"):
        load(tmp_path, MINIMAL + '[board.subjects]\n"CN=z" = "nobody"\n' + unit("a"))
    with pytest.raises(ConfigError, match=r"board\.listen: '8480' is not HOST:PORT"):
        load(tmp_path, MINIMAL + '[board]\nlisten = "8480"\n' + unit("a"))
