"""Shared fixtures: the test CA, the Dovecot IMAP server and the SMTP sinks.

Tests under tests/servers/ are marked `servers` (deselect with `-m "not servers"`). When
`dovecot` is missing they skip, unless MAILFOLLOW_REQUIRE_SERVERS=1 makes that a failure.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.servers import TlsAuthority, find_program, skip_or_fail_missing
from tests.servers.dovecot import DovecotServer, ImapAccount
from tests.servers.smtp import SmtpSink

_SERVERS_DIR = Path(__file__).parent / "servers"

# CI runs the properties with a fixed seed per test, so a result does not depend
# on the draw; local runs keep exploring new examples (HYPOTHESIS_PROFILE=ci to pin).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)
_account_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _restore_logging_levels() -> Iterator[None]:
    """CLI tests call setup_logging(), which sets levels and a handler process-wide;
    put them back so one test's verbosity never hides another's log records."""
    names = ("", "mailfollow", "imapclient")
    levels = {name: logging.getLogger(name).level for name in names}
    handlers = list(logging.getLogger().handlers)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_SERVERS_DIR):
            item.add_marker(pytest.mark.servers)


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> TlsAuthority:
    """The session's test CA: `ca_file` for clients, `issue_server_cert()` for servers."""
    return TlsAuthority.create(tmp_path_factory.mktemp("tls-ca"))


@pytest.fixture(scope="session")
def dovecot_binary() -> str:
    """Path of the dovecot binary; skips (or fails, if servers are required) without it."""
    binary = find_program("dovecot")
    if binary is None:
        skip_or_fail_missing(
            "dovecot is not installed", "apt-get install dovecot-imapd, as .ci/run does"
        )
    return binary


@pytest.fixture(scope="session")
def dovecot(dovecot_binary: str, tls_ca: TlsAuthority) -> Iterator[DovecotServer]:
    """One Dovecot for the whole session (starting takes ~0.1 s, stopping ~1 s)."""
    server = DovecotServer.create(tls=tls_ca)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def imap_account(dovecot: DovecotServer) -> ImapAccount:
    """A brand-new user with empty special-use folders, so each test has its own mailbox."""
    # A test that stopped the server to simulate an outage must not break the next ones.
    dovecot.start()
    username = f"user{next(_account_numbers):04d}"
    password = secrets.token_urlsafe(12)
    dovecot.add_user(username, password)
    return ImapAccount(
        port=dovecot.port,
        tls_port=dovecot.tls_port,
        username=username,
        password=password,
        address=f"{username}@example.test",
        ca_file=dovecot.tls.ca_file,
        server=dovecot,
    )


@pytest.fixture
def smtp_server(tls_ca: TlsAuthority) -> Iterator[SmtpSink]:
    """A fresh SMTP sink: plain port offering STARTTLS, AUTH PLAIN/LOGIN over TLS only."""
    yield from _running_sink(SmtpSink(tls=tls_ca))


@pytest.fixture
def smtps_server(tls_ca: TlsAuthority) -> Iterator[SmtpSink]:
    """A fresh SMTP sink speaking implicit TLS (SMTPS), AUTH PLAIN/LOGIN."""
    yield from _running_sink(SmtpSink(tls=tls_ca, implicit_tls=True))


def _running_sink(sink: SmtpSink) -> Iterator[SmtpSink]:
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
