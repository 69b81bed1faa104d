"""The root command: version, help everywhere, exit codes, tracebacks only with --debug."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mailfollow import __version__
from mailfollow.cli import cli


def all_command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in group.commands.items():
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(all_command_paths(command, (*prefix, name)))
    return paths


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize("path", all_command_paths(cli), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_the_commands_the_issues_name_exist() -> None:
    expected = {
        "scan",
        "demo",
        "login",
        "threads",
        "plan",
        "explain",
        "track",
        "ignore",
        "config",
    }
    assert expected <= set(cli.commands)


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2


def test_a_missing_config_file_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "absent.toml"), "threads"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "absent.toml" in result.output


def test_debug_shows_the_traceback_of_an_expected_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--debug", "--config", str(tmp_path / "absent.toml"), "threads"]
    )
    assert result.exit_code == 2
    assert "Traceback" in result.output
