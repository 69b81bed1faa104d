"""The shipped systemd units pass `systemd-analyze verify` and agree with the daemon."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailfollow.daemon import STOP_GRACE

UNITS = Path(__file__).resolve().parents[2] / "systemd"
USER_UNIT = UNITS / "mailfollow.service"
SYSTEM_UNIT = UNITS / "mailfollow@.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")

needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed"
)


def entry_point() -> Path:
    """The installed `mailfollow` console script (what ExecStart= should run)."""
    beside_python = Path(sys.executable).parent / "mailfollow"
    if beside_python.exists():
        return beside_python
    found = shutil.which("mailfollow")
    if found is None:
        pytest.skip("the mailfollow entry point is not installed")
    return Path(found)


def copy_unit(unit: Path, directory: Path, *, name: str | None = None) -> Path:
    """The unit with ExecStart= pointing at the installed entry point."""
    text = re.sub(
        r"^ExecStart=\S+", f"ExecStart={entry_point()}", unit.read_text(), flags=re.MULTILINE
    )
    copy = directory / (name or unit.name)
    copy.write_text(text, encoding="utf-8")
    return copy


def verify(unit: Path, tmp_path: Path, *, user: bool) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    env = dict(os.environ)
    if user:
        # The user manager needs a runtime directory; a private one does.
        runtime = tmp_path / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    command = [SYSTEMD_ANALYZE, *(["--user"] if user else []), "verify", str(unit)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, check=False, cwd=tmp_path
    )


def problems(result: subprocess.CompletedProcess[str]) -> str:
    # verify reports many mistakes ("Failed to parse ..., ignoring") on stderr with exit 0.
    return (result.stderr + result.stdout).strip()


def service_section(unit: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string(unit.read_text())
    return parser["Service"]


@needs_systemd_analyze
def test_the_user_unit_verifies_without_a_problem(tmp_path: Path) -> None:
    result = verify(copy_unit(USER_UNIT, tmp_path), tmp_path, user=True)

    assert result.returncode == 0, problems(result)
    assert problems(result) == ""


@needs_systemd_analyze
def test_the_system_unit_template_verifies_without_a_problem(tmp_path: Path) -> None:
    instance = copy_unit(SYSTEM_UNIT, tmp_path, name="mailfollow@alex.service")

    result = verify(instance, tmp_path, user=False)

    assert result.returncode == 0, problems(result)
    assert problems(result) == ""


@needs_systemd_analyze
def test_verify_would_catch_a_mistake_in_a_unit(tmp_path: Path) -> None:
    broken = copy_unit(USER_UNIT, tmp_path)
    broken.write_text(broken.read_text().replace("Type=notify", "Type=notifyy"))

    result = verify(broken, tmp_path, user=True)

    assert "notifyy" in problems(result)


@pytest.mark.parametrize("unit", [USER_UNIT, SYSTEM_UNIT], ids=["user", "system"])
def test_the_units_match_what_the_daemon_does(unit: Path) -> None:
    service = service_section(unit)

    assert service["Type"] == "notify"  # the daemon sends READY=1 after its checks
    assert service["NotifyAccess"] == "main"
    assert service["ExecStart"].endswith("mailfollow run")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"  # SIGHUP reloads
    assert service["Restart"] == "on-failure"
    # The daemon pings at half of WatchdogSec and stops within STOP_GRACE plus a little.
    assert int(service["WatchdogSec"]) >= 10
    assert int(service["TimeoutStopSec"]) >= STOP_GRACE + 5
