"""Real mail servers for the server tests, and the test CA that both of them trust.

`dovecot.py` runs a throwaway Dovecot IMAP server, `smtp.py` a recording aiosmtpd sink.
The fixtures that start them live in `tests/conftest.py`.
"""

from __future__ import annotations

import os
import shutil
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
import trustme

SERVER_HOSTS = ("127.0.0.1", "localhost")
REQUIRE_SERVERS_ENV = "MAILFOLLOW_REQUIRE_SERVERS"


@dataclass(frozen=True)
class TlsAuthority:
    """The session's test CA: clients trust `ca_file`; servers get `issue_server_cert()`."""

    ca: trustme.CA
    ca_file: Path

    @classmethod
    def create(cls, directory: Path) -> TlsAuthority:
        ca = trustme.CA(organization_name="mailfollow tests")
        ca_file = directory / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        return cls(ca=ca, ca_file=ca_file)

    def issue_server_cert(self, directory: Path, *hosts: str) -> tuple[Path, Path]:
        """Write a certificate chain and key valid for `hosts` (default: 127.0.0.1, localhost).

        Returns (cert_file, key_file). The key file is private to the owner.
        """
        leaf = self.ca.issue_cert(*(hosts or SERVER_HOSTS))
        directory.mkdir(parents=True, exist_ok=True)
        cert_file = directory / "server-cert.pem"
        key_file = directory / "server-key.pem"
        cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        key_file.touch(mode=0o600)
        key_file.write_bytes(leaf.private_key_pem.bytes())
        return cert_file, key_file

    def server_context(self, *hosts: str) -> ssl.SSLContext:
        """An SSL context for a Python server presenting a cert valid for `hosts`."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*(hosts or SERVER_HOSTS)).configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context (hostname checks on) that trusts only this CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def find_program(name: str) -> str | None:
    """Locate a server binary, also in the sbin directories an ordinary user's PATH lacks."""
    search_path = os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"]
    )
    return shutil.which(name, path=search_path)


def servers_required() -> bool:
    """True when CI demands the real servers, so a missing one fails instead of skipping."""
    return os.environ.get(REQUIRE_SERVERS_ENV, "") == "1"


def skip_or_fail_missing(what: str, hint: str) -> NoReturn:
    """Skip the test because `what` is missing, or fail it when the servers are required."""
    if servers_required():
        pytest.fail(f"{REQUIRE_SERVERS_ENV}=1 but {what}: {hint}", pytrace=False)
    pytest.skip(f"{what} ({hint}; set {REQUIRE_SERVERS_ENV}=1 to make this a failure)")
