"""The seal kinds: the two the rulebook names (§18–26), and the exchange's own."""

import enum


class SealKind(enum.StrEnum):
    """A signing seal makes a document legally valid; a verification seal authorises printing;
    the exchange seal is the router's, on what it attests (acceptance, receipts, print grants)."""

    SIGNING = "signing"  # 签名印章
    VERIFICATION = "verification"  # 验证印章
    EXCHANGE = "exchange"  # 交换系统印章


# The exchange's own seal belongs to this unit id, and it may hold no other kind.
EXCHANGE_UNIT_ID = "exchange"
