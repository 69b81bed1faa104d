"""`mailfollow status` with and without a daemon, and `mailfollow run` failing fast."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mailfollow import errors
from mailfollow.cli import cli
from mailfollow.config import Config, load_config
from mailfollow.daemon import Daemon, DaemonJobs, DaemonLock
from mailfollow.pipeline import PollReport
from mailfollow.sdnotify import Notifier

T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
LOGGERS = ("", "mailfollow", "imapclient", "apscheduler")  # what setup_logging and run touch


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI installs a stderr handler and sets logger levels; later tests need neither."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    yield
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def write_config(tmp_path: Path, *, fetch_command: str = '["printf", "%s", "pw"]') -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[account]
address = "alex@example.org"
[account.imap]
host = "127.0.0.1"
port = 9
security = "none"
allow_insecure = true
[account.smtp]
host = "127.0.0.1"
port = 9
security = "none"
allow_insecure = true
[account.password]
password_command = {fetch_command}
[policy]
timezone = "UTC"
[state]
dir = "{tmp_path / "state"}"
""",
        encoding="utf-8",
    )
    return path


def invoke(args: list[str], config: Path) -> Result:
    return CliRunner().invoke(cli, args, env={"MAILFOLLOW_CONFIG": str(config)})


def poll_with(config: Config, error: Exception | None) -> None:
    """One poll by a daemon whose pipeline succeeds, or fails with ``error``."""

    def poll(cfg: Config, *, now: datetime) -> PollReport:
        if error is not None:
            raise error
        return PollReport()

    jobs = DaemonJobs(
        poll=poll,
        send=lambda cfg, *, now: 0,
        digest=lambda cfg, *, now, problems: False,
        housekeeping=lambda cfg, *, now: None,
    )
    daemon = Daemon(
        config,
        jobs=jobs,
        notifier=Notifier(None),
        clock=lambda: T0,
        rng=random.Random(1),  # noqa: S311
        environ={},
        idle_factory=lambda d: None,
    )
    daemon.poll_and_send(force=True)


def test_status_before_the_first_run_says_so(tmp_path: Path) -> None:
    result = invoke(["status"], write_config(tmp_path))

    assert result.exit_code == 0, result.output
    assert "daemon:         not running (never started)" in result.output
    assert "none yet" in result.output


def test_status_shows_the_last_poll_and_the_queue_when_the_daemon_is_not_running(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path)
    poll_with(load_config(path), None)

    result = invoke(["status"], path)

    assert result.exit_code == 0, result.output
    assert "last poll:      2026-03-16 09:00:00 UTC (ok: nothing new)" in result.output
    assert "next poll:      -" in result.output
    assert "problems:       none recorded" in result.output
    assert "conversations:  0" in result.output
    assert "pending drafts: 0" in result.output


def test_status_says_a_credential_problem_loudly(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    poll_with(load_config(path), errors.CredentialError("127.0.0.1 rejected the login"))

    result = invoke(["status"], path)

    assert "!! IMAP authentication failed: 127.0.0.1 rejected the login" in result.output
    assert "mailfollow login" in result.output


def test_status_sees_a_running_daemon_by_its_lock(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    config = load_config(path)
    poll_with(config, None)

    with DaemonLock.acquire(config.state_dir):
        result = invoke(["status"], path)

    assert f"daemon:         running (pid {os.getpid()}" in result.output


def test_run_refuses_to_start_when_the_password_cannot_be_had(tmp_path: Path) -> None:
    path = write_config(tmp_path, fetch_command='["false"]')

    result = invoke(["run"], path)

    assert result.exit_code == 1
    assert "mailfollow: credentials:" in result.output


def test_run_refuses_a_broken_configuration_with_exit_status_2(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[account]\naddress = 42\n", encoding="utf-8")

    result = invoke(["run"], path)

    assert result.exit_code == 2
    assert "configuration problem" in result.output


def test_run_refuses_to_start_next_to_a_running_daemon(tmp_path: Path) -> None:
    path = write_config(tmp_path)

    with DaemonLock.acquire(load_config(path).state_dir, pid=4242):
        result = invoke(["run"], path)

    assert result.exit_code == 1
    assert "another mailfollow daemon (pid 4242) is already running" in result.output
