"""mailfollow.core stays pure: no I/O libraries, no logging, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mailfollow.core

CORE = Path(mailfollow.core.__file__).parent
FORBIDDEN_MODULES = frozenset(
    {"imapclient", "aiosmtplib", "sqlite3", "keyring", "logging", "os", "subprocess", "socket"}
)
CLOCK_CALLS = frozenset(
    {
        ("datetime", "now"),
        ("datetime", "utcnow"),
        ("datetime", "today"),
        ("date", "today"),
        ("time", "time"),
    }
)


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def _dotted(node: ast.expr) -> list[str]:
    """``datetime.datetime.now`` -> ["datetime", "datetime", "now"]; [] for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return []


def impurities(source: str) -> list[str]:
    """Every forbidden import or clock call in a module's source, with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top in FORBIDDEN_MODULES:
                found.append(f"line {node.lineno}: from {node.module} import ...")
            if top == "time" and any(alias.name == "time" for alias in node.names):
                found.append(f"line {node.lineno}: from time import time")
        elif isinstance(node, ast.Call):
            parts = _dotted(node.func)
            if len(parts) >= 2 and (parts[-2], parts[-1]) in CLOCK_CALLS:
                found.append(f"line {node.lineno}: {'.'.join(parts)}()")
    return found


def test_the_core_package_has_modules_to_check() -> None:
    names = {path.name for path in core_modules()}
    assert {"threads.py", "conversations.py", "policy.py", "calendar.py"} <= names


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_a_core_module_imports_no_io_and_reads_no_clock(path: Path) -> None:
    assert impurities(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "import os.path",
        "from os import environ",
        "import logging",
        "import sqlite3 as db",
        "from imapclient import IMAPClient",
        "import aiosmtplib",
        "import keyring",
        "import subprocess",
        "from socket import create_connection",
        "from datetime import datetime\ndatetime.now()",
        "import datetime\ndatetime.datetime.utcnow()",
        "from datetime import date\ndate.today()",
        "import time\ntime.time()",
        "from time import time",
    ],
)
def test_the_purity_check_catches_each_forbidden_thing(source: str) -> None:
    assert impurities(source)


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime, timedelta\nx = datetime(2026, 1, 1)",
        "from zoneinfo import ZoneInfo",
        "import hashlib",
        "from mailfollow.model import Message",
        "from . import threads",
        "now = 1\nsomething.now_playing()",
    ],
)
def test_the_purity_check_allows_pure_code(source: str) -> None:
    assert impurities(source) == []
