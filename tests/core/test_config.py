"""The router's configuration is validated whole, with every problem named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from docex.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]
MINIMAL = (
    '[seals]\nca_certificate = "ca.crt"\n'
    '[router]\nseal_carrier = "x.carrier"\nseal_password_file = "x.password"\n'
)
UNIT = '[[units]]\nid = "{id}"\nname = "n"\namqp_user = "{user}"\n{extra}\n'


def unit(id: str, user: str | None = None, extra: str = "") -> str:
    return UNIT.format(id=id, user=user or f"u-{id}", extra=extra)


def load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "router.toml"
    path.write_text(text)
    load_config(path)


def test_the_shipped_example_is_valid() -> None:
    config = load_config(REPO / "config" / "example.toml")
    assert [u.id for u in config.units] == ["gov-office", "finance", "education"]
    assert Path(config.seals.ca_certificate).is_absolute()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[seals\n", "not valid TOML"),
        ("", "missing required field `router`"),
        (MINIMAL + "prefetch = 'many'\n", "line 6: router.prefetch: Expected `int`"),
        (MINIMAL + "prefetchh = 5\n", "prefetchh"),
        (MINIMAL + unit("a") + unit("a", "other"), "line 12: units[1].id: duplicate unit id 'a'"),
        (MINIMAL + unit("a") + unit("b", "u-a"), "units[1].amqp_user: 'u-a' is given to two units"),
        (MINIMAL + unit("a", extra='successor = "zz"'), "no unit 'zz'"),
        (MINIMAL + 'office_unit = "zz"\n', "router.office_unit"),
        (MINIMAL + 'allowed_formats = ["docx"]\n', "neither ceb, pdf, ofd"),
        (MINIMAL + '[formats]\nceb = "zz"\n', "not hex"),
        (MINIMAL + '[exchange]\ntimezone = "Mars/Olympus"\n', "exchange.timezone"),
        (MINIMAL + unit("a", extra='status = "sleeping"'), "status"),
        (MINIMAL + unit("../a"), "line 7: units[0].id: '../a' is not an id: 1–64 letters"),
        (MINIMAL + unit("财政局"), "units[0].id: '财政局' is not an id"),
        (MINIMAL + "[exchange]\nmax_recipients = 0\n", "exchange.max_recipients: must be at"),
        (MINIMAL + "[exchange]\nmax_print_quota = -1\n", "exchange.max_print_quota: must be"),
        (MINIMAL + "[information]\nmonthly_due_day = 31\n", "information.monthly_due_day"),
        (
            MINIMAL + '[information]\nreader_groups = { all = ["zz"] }\n',
            "information.reader_groups.all: no unit 'zz'",
        ),
    ],
)
def test_bad_configs_are_refused_with_the_problem_named(
    tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    assert problem in str(raised.value)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = MINIMAL + 'office_unit = "zz"\n' + unit("a") + unit("a", "x")
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    assert "duplicate unit id" in str(raised.value) and "office_unit" in str(raised.value)


def test_unknown_keys_wrong_types_and_meaning_are_all_listed_in_one_run(tmp_path: Path) -> None:
    """An operator fixes a file in one pass: structural and semantic problems together."""
    text = (
        MINIMAL
        + "prefetch = 'many'\nprefetchh = 5\n[links]\nspool_dri = 'x'\nqueue_timeout_s = 'long'\n"
        + unit("a")
        + unit("a", "x", extra="colour = 'red'")
        + "[[units]]\nid = 'b'\nname = 'n'\nsuccessor = 'zz'\n"
    )
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    problems = str(raised.value).splitlines()[1:]
    assert problems == [
        "  line 6: router.prefetch: Expected `int`, got `str`",
        "  line 7: router.prefetchh: unknown key 'prefetchh'",
        "  line 9: links.spool_dri: unknown key 'spool_dri'",
        "  line 10: links.queue_timeout_s: Expected `float`, got `str`",
        "  line 20: units[1].colour: unknown key 'colour'",
        "  line 21: units[2].amqp_user: missing required field `amqp_user`",
    ], raised.value
    # Once the file has its shape, its meaning is checked in the same run.
    text = text.replace("name = 'n'\n", "name = 'n'\namqp_user = 'u-b'\n")
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    problems = str(raised.value).splitlines()[1:]
    assert problems[-2:] == [
        "  line 17: units[1].id: duplicate unit id 'a'",
        "  line 25: units[2].successor: no unit 'zz'",
    ], raised.value
    assert len(problems) == 7, raised.value


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or folder; check the name"):
        load_config(tmp_path / "absent.toml")


def test_config_check_names_the_files_the_router_could_not_read(tmp_path: Path) -> None:
    """Caught before a deployment, not at the router's start."""
    config = tmp_path / "router.toml"
    config.write_text(MINIMAL)
    (tmp_path / "x.carrier").write_bytes(b"")
    checked = subprocess.run(
        [sys.executable, "-m", "docex.cli", "config", "check", str(config)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 2
    problems = [line for line in checked.stderr.splitlines() if line.startswith("error: ")]
    assert problems == [
        f"error: router.ledger: {tmp_path / 'ledger.sqlite'}: no ledger there; `docex ledger"
        f" init --config {config}` creates it (or restore a backup: `docex ledger restore`)",
        f"error: router.seal_password_file: {tmp_path / 'x.password'}:"
        " no such file or folder; check the name",
        f"error: seals.ca_certificate: {tmp_path / 'ca.crt'}:"
        " no such file or folder; check the name",
    ]
