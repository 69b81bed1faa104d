"""What counts as "this machine" for the rule that plaintext IMAP and SMTP
are allowed only to loopback (and only with ``allow_insecure = true``)."""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: traffic that never leaves the machine.

    No name lookup happens: any other name could resolve elsewhere tomorrow.
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
