"""Ledger values as people at the exchange read them: Beijing time, spans in 小时/分, units by
their Chinese names, states in Chinese. Used by the templates as filters."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from docex import persons
from docex.config import Config
from docex.core.links import BROKER_UNREACHABLE, EXCHANGE, HEARTBEAT_LOST, QUEUE_UNTAKEN

BEIJING = ZoneInfo("Asia/Shanghai")

STATES = {
    "queued": "待投递",
    "delivered": "已送达，未签收",
    "received": "已签收",
    "resend_requested": "已请求重发",
    "returned": "已退回",
    "withdrawn": "已撤回",
    "paper": "已改纸质交换",
    "forwarded": "已转交承继单位",
    "recipient_revoked": "收文单位已撤销",
}
ROLES = {"main": "主送", "copy": "抄送"}
FAULT_KINDS = {
    HEARTBEAT_LOST: "心跳中断",
    QUEUE_UNTAKEN: "长时间未取文",
    BROKER_UNREACHABLE: "交换系统与消息服务器断开",
}


def duties(roles: list[str]) -> str:
    """A person's roles (§13) by their Chinese names: 发文、收文."""
    return "、".join(persons.ROLES.get(role, role) for role in roles)


def beijing(stamp: str | None) -> str:
    """A stored stamp (any offset) in Beijing time, to the second; '—' when there is none."""
    if not stamp:
        return "—"
    return datetime.fromisoformat(stamp).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def span(duration: timedelta) -> str:
    """A span to the minute (to the second under an hour), never negative."""
    seconds = max(int(duration.total_seconds()), 0)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}天{hours}小时{minutes}分"
    if hours:
        return f"{hours}小时{minutes}分"
    return f"{minutes}分{seconds}秒"


def countdown(duration: timedelta) -> str:
    """The time left, to the second, as the page's script keeps counting it."""
    seconds = max(int(duration.total_seconds()), 0)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{hours}小时{minutes:02d}分{seconds:02d}秒"


class Names:
    """Units by the name the configuration gives them, the id kept for the second line."""

    def __init__(self, config: Config) -> None:
        self._names = {unit.id: unit.name for unit in config.units}

    def __call__(self, unit_id: str) -> str:
        if unit_id == EXCHANGE:
            return "整个交换系统"
        return self._names.get(unit_id, unit_id)

    def known(self, unit_id: str) -> bool:
        return unit_id in self._names
