"""Logging setup and the redaction filter that keeps secrets out of logs."""

from __future__ import annotations

import logging
import os
import re
import sys

# Credentials that may appear in protocol traces or exception texts.
# IMAP commands are matched in capitals, as they appear in protocol traces, so
# that ordinary prose such as "login to imap.example.org" is left alone.
_SECRET_PATTERNS = (
    re.compile(r"(\bLOGIN\s+\S+\s+)(\"[^\"]*\"|\S+)"),
    re.compile(r"(\bAUTHENTICATE\s+\S+\s+)(\S+)"),
    re.compile(r"(?i)(\bAUTH\s+(?:PLAIN|LOGIN|XOAUTH2)\s+)(\S+)"),
    re.compile(r"(?i)(password\s*[=:]\s*)(\S+)"),
    re.compile(r"(?i)(bearer\s+)(\S+)"),
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Replace anything that looks like a credential in ``text``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(*, verbose: int = 0) -> None:
    """Log to stderr; under systemd leave timestamps to journald.

    verbose: 0 = warnings only (interactive commands), 1 = INFO (one line per
    state change; what the daemon uses), 2 = DEBUG, 3 = DEBUG including the
    IMAP protocol trace.
    """
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not under_journald:
        fmt = "%(asctime)s " + fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_mailfollow", False):
            root.removeHandler(old)
    handler._mailfollow = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    levels = {0: logging.WARNING, 1: logging.INFO}
    logging.getLogger("mailfollow").setLevel(levels.get(verbose, logging.DEBUG))
    logging.getLogger("imapclient").setLevel(logging.DEBUG if verbose >= 3 else logging.WARNING)
