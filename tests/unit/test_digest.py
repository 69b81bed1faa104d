"""The daily digest: pending drafts with how to approve them, problems first, or nothing."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailfollow.adapters.store import DraftRecord
from mailfollow.config import Config, Digest, load_config
from mailfollow.daemon import Problem, ProblemKind
from mailfollow.digest import (
    DIGEST_HEADER,
    DigestText,
    build_digest,
    compose_digest_email,
    deliver_digest,
)
from mailfollow.errors import SendUnavailable
from mailfollow.model import Address, QueueState

NOW = datetime(2026, 3, 16, 7, 0, tzinfo=UTC)


def pending_draft(draft_id: int = 12, *, folder: str | None = "Drafts") -> DraftRecord:
    created = NOW - timedelta(days=3)
    return DraftRecord(
        id=draft_id,
        conversation_id="c1",
        mailfollow_id=f"mf-{draft_id}",
        message_id=f"d{draft_id}@example.org",
        sender=Address("alex@example.org", "Alex Doe"),
        recipient=Address("jane@acme.example", "Jane Smith"),
        subject="Re: Application: Backend Engineer",
        in_reply_to="a1@example.org",
        references=("a1@example.org",),
        body="Hello Jane, ...",
        nudge_number=1,
        status=QueueState.PENDING,
        created_at=created,
        updated_at=created,
        snooze_until=None,
        approved_at=None,
        sent_at=None,
        imap_folder=folder,
        imap_uid=7 if folder else None,
        user_edited=False,
        error=None,
    )


def problem(kind: ProblemKind, job: str = "poll") -> Problem:
    return Problem(job=job, kind=kind, message="imap.example.org said no", since=NOW, failures=4)


def test_there_is_no_digest_when_nothing_waits_and_nothing_is_wrong() -> None:
    assert build_digest(drafts=[], problems=[], now=NOW) is None


def test_each_pending_draft_comes_with_the_command_that_approves_it() -> None:
    digest = build_digest(drafts=[pending_draft(12), pending_draft(13)], problems=[], now=NOW)

    assert digest is not None
    assert digest.subject == "mailfollow: 2 follow-ups to approve"
    assert "mailfollow approve 12" in digest.body
    assert "mailfollow approve 13" in digest.body
    assert "To: Jane Smith <jane@acme.example>" in digest.body
    assert "flag" not in digest.body


def test_with_approve_by_flag_the_digest_says_to_flag_the_draft_in_drafts() -> None:
    digest = build_digest(drafts=[pending_draft()], problems=[], now=NOW, approve_by_flag=True)

    assert digest is not None
    assert "Or flag (star) it in your mail client's Drafts folder." in digest.body


def test_a_credential_problem_is_loud_and_comes_first() -> None:
    digest = build_digest(
        drafts=[pending_draft()],
        problems=[problem(ProblemKind.CREDENTIALS)],
        now=NOW,
        timezone="Europe/Berlin",
    )

    assert digest is not None
    assert digest.subject == (
        "mailfollow: ACTION NEEDED: IMAP authentication failed; 1 follow-up to approve"
    )
    body = digest.body
    assert body.index("!! IMAP authentication failed") < body.index("mailfollow approve 12")
    assert "mailfollow login" in body
    assert "since Mon 16 Mar 08:00, 4 failed attempts" in body


def test_a_connection_problem_alone_makes_a_digest() -> None:
    digest = build_digest(drafts=[], problems=[problem(ProblemKind.UNREACHABLE)], now=NOW)

    assert digest is not None
    assert digest.subject == "mailfollow: IMAP unreachable"
    assert "-- IMAP unreachable: imap.example.org said no" in digest.body


def test_the_digest_email_goes_from_the_user_to_the_user_marked_automatic(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "email")
    raw = compose_digest_email(config, DigestText("mailfollow: 1 follow-up", "body\n"), now=NOW)

    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["From"] == "Alex Doe <alex@example.org>"
    assert message["To"] == "alex@example.org"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message[DIGEST_HEADER] == "2026-03-16"
    assert message.get_content().rstrip() == "body"
    assert b"\r\n" in raw  # SMTP line endings
    assert b"\n\n" not in raw


def test_a_digest_that_cannot_be_emailed_is_logged_instead(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mailfollow.digest as digest_module

    def smtp_down(config: Config, digest: DigestText, *, now: datetime) -> None:
        raise SendUnavailable("127.0.0.1:1025: connection refused")

    monkeypatch.setattr(digest_module, "send_digest_email", smtp_down)
    text = DigestText("mailfollow: 1 follow-up to approve", "  Approve: mailfollow approve 12\n")

    with pytest.raises(SendUnavailable):
        deliver_digest(_config(tmp_path, "email"), text, now=NOW)

    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("mailfollow approve 12" in line for line in logged)


def test_a_log_digest_writes_one_line_per_digest_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailfollow.digest")
    text = DigestText("mailfollow: 1 follow-up to approve", "line one\n\nline two\n")

    deliver_digest(_config(tmp_path, "log"), text, now=NOW)

    assert [r.getMessage() for r in caplog.records] == [
        "digest: mailfollow: 1 follow-up to approve",
        "digest: line one",
        "digest: line two",
    ]


def _config(tmp_path: Path, digest: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[account]
name = "Alex Doe"
address = "alex@example.org"
[account.imap]
host = "imap.example.org"
[account.smtp]
host = "smtp.example.org"
[daemon]
digest = "{digest}"
[state]
dir = "{tmp_path / "state"}"
""",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.daemon.digest is Digest(digest)
    return config


def test_the_digest_job_says_nothing_for_an_empty_queue_without_problems(tmp_path: Path) -> None:
    from mailfollow.digest import run_digest

    assert run_digest(_config(tmp_path, "log"), now=NOW, problems=[]) is False


def test_the_digest_job_logs_the_problems_it_is_given(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mailfollow.digest import run_digest

    caplog.set_level(logging.INFO, logger="mailfollow.digest")

    said = run_digest(
        _config(tmp_path, "log"), now=NOW, problems=[problem(ProblemKind.CREDENTIALS)]
    )

    assert said
    assert any("!! IMAP authentication failed" in r.getMessage() for r in caplog.records)
