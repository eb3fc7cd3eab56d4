"""The register of persons and roles on the board (§13: each unit's accounts and roles are
filed with the General Office), read over HTTP as the proxy passes it on."""

from __future__ import annotations

import aiohttp

from docex import wire
from docex.router.service import Router
from tests.board.conftest import (
    EDUCATION_DN,
    FINANCE_DN,
    OFFICE_DN,
    RunningBoard,
    as_nginx_writes_it,
)
from tests.edge.test_persons import People, people  # noqa: F401 -- the fixture


async def get(board: RunningBoard, path: str, subject: str) -> tuple[int, str]:
    headers = {"X-Client-Verified": "SUCCESS", "X-Client-DN": as_nginx_writes_it(subject)}
    async with aiohttp.ClientSession() as session:
        async with session.get(board.url + path, headers=headers) as response:
            return response.status, await response.text()


def row(page: str, unit: str, name: str) -> str:
    """The register's row of one person, as HTML."""
    start = page.index(f'data-person="{unit}/{name}"')
    return page[start : page.index("</tr>", start)]


async def test_the_office_reads_every_units_register_and_a_registrar_its_own(
    router: Router,
    board: RunningBoard,
    people: People,  # noqa: F811
) -> None:
    """§13: the register each unit's administrator keeps is filed with the General Office,
    which reads every unit's people, roles, state and credentials on the board; §15: a
    credential not used yet (its initial password perhaps unchanged) and one a reset revoked
    are told apart; a unit's registrar sees only its own unit's people."""
    await people.add("finance", "reader", "收文,打印", chinese_name="李四")
    await people.add("finance", "leaver", "收文", chinese_name="钱七")
    await people.users("disable", "--unit", "finance", "leaver")
    await people.add("education", "clerk", "发文", chinese_name="赵六")
    renewed = await people.reset("education", "clerk")
    async with people.client("education", renewed, "clerk") as education:
        answer = await education.request(wire.UnitsQuery(v=wire.VERSION))
        assert isinstance(answer, wire.UnitList), answer
    register = router.ledger.persons()
    key = {(p.unit, p.name): p.key_id for p in register}

    status, page = await get(board, "/persons", OFFICE_DN)
    assert status == 200, page
    reader = row(page, "finance", "reader")
    assert "李四" in reader and "收文、打印" in reader and "市财政局" in reader
    assert "须修改初始密码" in reader and key["finance", "reader"] in reader
    assert "已停用" in row(page, "finance", "leaver")
    clerk = row(page, "education", "clerk")
    assert "在用" in clerk and "须修改初始密码" not in clerk
    assert key["education", "clerk"] in clerk and clerk.count("签发") == 2
    assert clerk.count("吊销") == 1

    status, page = await get(board, "/persons", FINANCE_DN)
    assert status == 200 and "李四" in page and "钱七" in page, page
    assert "赵六" not in page and "education/clerk" not in page
    status, page = await get(board, "/persons", EDUCATION_DN)
    assert status == 200 and "赵六" in page and "李四" not in page, page
    status, page = await get(board, "/persons?page=0", OFFICE_DN)
    assert status == 400 and "页码" in page
