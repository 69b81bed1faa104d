"""`mailfollow config check`: exit 0 with the effective settings, or 2 with every problem."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mailfollow.cli import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
VALID = """
[account]
address = "alex@example.org"
[account.imap]
host = "imap.example.org"
[account.smtp]
host = "smtp.example.org"
"""


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI installs a stderr handler; CliRunner's stderr is gone after each call."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(args: list[str], config: Path | None, tmp_path: Path) -> Result:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_STATE_HOME": str(tmp_path / "state")}
    if config is not None:
        env["MAILFOLLOW_CONFIG"] = str(config)
    return CliRunner().invoke(cli, args, env=env)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_example_passes_config_check(tmp_path: Path) -> None:
    result = run(["config", "check"], EXAMPLE, tmp_path)

    assert result.exit_code == 0, result.output
    assert f"{EXAMPLE}: configuration OK" in result.stdout
    assert '  account.address = "alex@example.org"' in result.stdout
    assert "  thresholds.application = 7d" in result.stdout


def test_a_broken_config_exits_2_with_one_problem_per_line(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        VALID
        + '[thresholds]\napplication = "soon"\nnetworking = -1\n'
        + '[policy]\ntimezone = "Nowhere/City"\n',
    )

    result = run(["config", "check"], config, tmp_path)

    assert result.exit_code == 2
    problem_lines = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert [line.split(":")[0] for line in problem_lines] == [
        "thresholds.application",
        "thresholds.networking",
        "policy.timezone",
    ]
    assert str(config) in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path, VALID + '[thresholds]\napplication = "soon"\n')

    result = run(["--debug", "config", "check"], config, tmp_path)

    assert result.exit_code == 2
    assert "Traceback" in result.stderr


def test_an_explicit_config_option_overrides_the_environment(tmp_path: Path) -> None:
    broken = write_config(tmp_path, "[account]\n")

    result = run(["--config", str(EXAMPLE), "config", "check"], broken, tmp_path)

    assert result.exit_code == 0, result.output


def test_a_missing_config_file_exits_2_and_says_what_to_do(tmp_path: Path) -> None:
    result = run(["config", "check"], None, tmp_path)

    assert result.exit_code == 2
    assert "copy config.example.toml" in result.stderr
    assert str(tmp_path / "xdg" / "mailfollow" / "config.toml") in result.stderr


def test_a_plaintext_password_is_refused_and_never_printed(tmp_path: Path) -> None:
    config = write_config(tmp_path, VALID + 'password = "hunter2"\n')

    result = run(["config", "check"], config, tmp_path)

    assert result.exit_code == 2
    assert "account.smtp.password: a password or token must not be written" in result.stderr
    assert "hunter2" not in result.output


def test_checking_credentials_proves_the_password_is_reachable_without_showing_it(
    tmp_path: Path,
) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("s3cret-value\n", encoding="utf-8")
    secret_file.chmod(0o600)
    config = write_config(
        tmp_path, VALID + f'[account.password]\npassword_command = ["cat", "{secret_file}"]\n'
    )

    result = run(["config", "check", "--credentials"], config, tmp_path)

    assert result.exit_code == 0, result.output
    assert f"password printed by the command `cat {secret_file}`" in result.stdout
    assert "credentials: password for 'alex@example.org' is available (not shown)" in result.stdout
    assert "s3cret-value" not in result.output


def test_unreachable_credentials_exit_1_with_a_hint(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, VALID + '[account.password]\npassword_command = ["sh", "-c", "exit 3"]\n'
    )

    result = run(["config", "check", "--credentials"], config, tmp_path)

    assert result.exit_code == 1
    assert "failed with exit status 3" in result.stderr
