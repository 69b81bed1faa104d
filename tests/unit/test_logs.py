"""Secrets never reach the log: the redaction filter."""

from __future__ import annotations

import logging

import pytest

from mailfollow.logs import REDACTED, RedactingFilter, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("> b'A001 LOGIN alex \"s3cret pass\"'", '"s3cret pass"'),
        ("> b'A001 LOGIN alex hunter2'", "hunter2"),
        ("> b'A002 AUTHENTICATE XOAUTH2 dXNlcj1hbGV4AWF1dGg9'", "dXNlcj1hbGV4AWF1dGg9"),
        ("send: AUTH PLAIN AGFsZXgAaHVudGVyMg==", "AGFsZXgAaHVudGVyMg=="),
        ("password = hunter2", "hunter2"),
        ("Authorization: Bearer ya29.token", "ya29.token"),
    ],
)
def test_credentials_in_protocol_traces_are_redacted(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_ordinary_prose_about_logging_in_is_left_alone() -> None:
    line = "login to imap.example.org:993 failed: host unreachable"
    assert redact(line) == line


def test_the_filter_redacts_the_formatted_message_with_its_arguments() -> None:
    record = logging.LogRecord(
        "mailfollow.test", logging.DEBUG, __file__, 1, "sent %s", ("A1 LOGIN alex topsecret",), None
    )
    assert RedactingFilter().filter(record)
    assert "topsecret" not in record.getMessage()
    assert record.getMessage() == f"sent A1 LOGIN alex {REDACTED}"
