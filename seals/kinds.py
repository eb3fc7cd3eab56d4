"""The two seal kinds the rulebook names (§18–26)."""

import enum


class SealKind(enum.StrEnum):
    """A signing seal makes a document legally valid; a verification seal authorises printing."""

    SIGNING = "signing"  # 签名印章
    VERIFICATION = "verification"  # 验证印章
