"""Sending approved drafts through a real SMTP sink, checked against a real Dovecot."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailfollow import outbox, pipeline
from mailfollow.adapters.smtp import SendOutcomeUnknown, send_message_sync
from mailfollow.cli import cli
from mailfollow.config import Config
from mailfollow.core.drafting import HeaderInjectionError
from mailfollow.errors import CredentialError
from mailfollow.model import Address, Draft, QueueState
from tests.servers import TlsAuthority
from tests.servers.dovecot import ImapAccount, append_message
from tests.servers.queue_setup import (
    APPLIED,
    ME,
    NOW,
    application,
    draft,
    folder_messages,
    human_reply,
    make_config,
    only_draft,
    running_sink,
    seed,
    write_config,
)
from tests.servers.smtp import SmtpSink

Q = QueueState


@pytest.fixture
def sink(tls_ca: TlsAuthority, imap_account: ImapAccount) -> Iterator[SmtpSink]:
    yield from running_sink(tls_ca, imap_account)


@pytest.fixture(autouse=True)
def _look_for_the_sent_copy_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "SENT_COPY_CHECKS", (0.0,))


def drafted(account: ImapAccount, config: Config, *applications: int) -> None:
    seed(account, *(("Sent", application(n)) for n in applications or (1,)))
    report = pipeline.poll_once(config, now=NOW)
    assert len(report.drafted) == len(applications or (1,)), report


def approve(config: Config, draft_id: int, *, now=NOW) -> outbox.Preview:  # type: ignore[no-untyped-def]
    with pipeline.open_store(config) as store:
        shown = outbox.preview(store, config, draft_id, now=now)
        outbox.approve(store, shown, now=now)
    return shown


def sent_ids(account: ImapAccount) -> list[bytes]:
    return [raw for raw, _ in folder_messages(account, "Sent").values()]


def with_message_id(raws: list[bytes], message_id: str) -> list[bytes]:
    return [raw for raw in raws if f"<{message_id}>".encode() in raw]


# --- sending what was approved ------------------------------------------------------


def test_approving_sends_exactly_the_approved_bytes_once(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    drafted(imap_account, config)
    record = only_draft(config)
    shown = approve(config, record.id)

    report = outbox.send_approved(config, now=NOW + timedelta(minutes=1))
    again = outbox.send_approved(config, now=NOW + timedelta(minutes=2))

    assert [r.id for r in report.sent] == [record.id]
    assert int(report) == 1
    assert int(again) == 0
    assert len(sink.messages) == 1
    received = sink.messages[0]
    assert received.data.rstrip(b"\r\n") == shown.raw.rstrip(b"\r\n")
    assert (received.mail_from, received.rcpt_tos) == (ME, ("jane@acme1.example",))
    assert received.tls
    assert received.authenticated
    sent = draft(config, record.id)
    assert sent.status is Q.SENT
    assert sent.sent_at is not None


def test_save_sent_auto_files_one_copy_and_the_drafts_copy_goes(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    drafted(imap_account, config)
    record = only_draft(config)
    assert folder_messages(imap_account, "Drafts")
    shown = approve(config, record.id)

    outbox.send_approved(config, now=NOW)
    pipeline.poll_once(config, now=NOW + timedelta(minutes=5))

    copies = with_message_id(sent_ids(imap_account), record.message_id)
    assert copies == [shown.raw]
    assert folder_messages(imap_account, "Drafts") == {}
    flags = [f for raw, f in folder_messages(imap_account, "Sent").values() if raw == shown.raw]
    assert "\\Seen" in flags[0]


def test_save_sent_never_files_no_copy(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink, drafts='save_sent = "never"')
    drafted(imap_account, config)
    record = only_draft(config)
    approve(config, record.id)

    outbox.send_approved(config, now=NOW)

    assert len(sink.messages) == 1
    assert with_message_id(sent_ids(imap_account), record.message_id) == []


def test_a_nudge_sent_without_a_sent_copy_still_counts_and_is_not_drafted_again(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink, drafts='save_sent = "never"')
    drafted(imap_account, config)
    record = only_draft(config)
    approve(config, record.id)
    outbox.send_approved(config, now=NOW)

    later = NOW + timedelta(days=1)
    report = pipeline.poll_once(config, now=later)

    assert report.drafted == ()
    with pipeline.open_store(config) as store:
        [item] = pipeline.assess(store, config, now=later)
    assert item.conversation.nudges_sent == 1
    assert record.message_id in item.conversation.message_ids


def test_save_sent_auto_adds_nothing_when_the_server_filed_its_own_copy(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    drafted(imap_account, config)
    record = only_draft(config)
    approve(config, record.id)

    def send_and_file(raw: bytes, **kw: object) -> object:
        result = send_message_sync(raw, **kw)  # type: ignore[arg-type]
        append_message(imap_account, "Sent", raw, flags=("\\Seen",))  # as Gmail does
        return result

    monkeypatch.setattr(outbox, "send_message_sync", send_and_file)

    outbox.send_approved(config, now=NOW)

    assert len(with_message_id(sent_ids(imap_account), record.message_id)) == 1


# --- crash safety -------------------------------------------------------------------

_CRASH_AFTER_SEND = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime
    from pathlib import Path
    from mailfollow import outbox
    from mailfollow.config import load_config

    real_send = outbox.send_message_sync

    def send_then_die(*args, **kwargs):
        real_send(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # after the server accepted, before the store knows

    outbox.send_message_sync = send_then_die
    outbox.send_approved(load_config(Path(sys.argv[1])), now=datetime.fromisoformat(sys.argv[2]))
    """
)


def test_a_sigkill_right_after_the_server_accepted_never_sends_twice(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    path = write_config(tmp_path, imap_account, sink)
    config = make_config(tmp_path, imap_account, sink)
    drafted(imap_account, config)
    record = only_draft(config)
    approve(config, record.id)

    child = subprocess.run(
        [sys.executable, "-c", _CRASH_AFTER_SEND, str(path), NOW.isoformat()],
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert child.returncode == -9, child.stderr.decode()
    assert draft(config, record.id).status is Q.SENDING
    assert len(sink.messages) == 1

    after = outbox.send_approved(config, now=NOW + timedelta(minutes=5))
    pipeline.poll_once(config, now=NOW + timedelta(minutes=10))

    assert len(sink.messages) == 1
    assert [r.id for r in after.recovered] == [record.id]
    settled = draft(config, record.id)
    assert settled.status is Q.UNCONFIRMED  # Dovecot files nothing: not in Sent
    assert "may or may not have gone out" in (settled.error or "")


def test_an_interrupted_send_found_in_sent_is_marked_sent(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    drafted(imap_account, config)
    record = only_draft(config)
    shown = approve(config, record.id)
    with pipeline.open_store(config) as store:
        store.transition(record.id, Q.SENDING, at=NOW, reason="test: killed mid-send")
    append_message(imap_account, "Sent", shown.raw, flags=("\\Seen",))

    report = pipeline.poll_once(config, now=NOW + timedelta(minutes=5))

    assert [r.status for r in report.recovered] == [Q.SENT]
    assert draft(config, record.id).status is Q.SENT
    assert sink.messages == []


# --- re-evaluation just before sending ------------------------------------------------


def test_a_reply_arriving_after_approval_cancels_the_send(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    drafted(imap_account, config)
    record = only_draft(config)
    approve(config, record.id)
    append_message(imap_account, "INBOX", human_reply(when=NOW + timedelta(minutes=1)))

    report = outbox.send_approved(config, now=NOW + timedelta(minutes=2))

    assert sink.messages == []
    assert [r.id for r in report.cancelled] == [record.id]
    withdrawn = draft(config, record.id)
    assert withdrawn.status is Q.WITHDRAWN
    assert folder_messages(imap_account, "Drafts") == {}


# --- what the server says ---------------------------------------------------------------


def test_a_permanent_refusal_marks_the_draft_failed_with_the_servers_code_and_text(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    drafted(imap_account, config)
    record = only_draft(config)
    approve(config, record.id)
    sink.fail_next(550, "5.1.1 no such mailbox here", at="rcpt")

    report = outbox.send_approved(config, now=NOW)

    failed = draft(config, record.id)
    assert failed.status is Q.FAILED
    assert "550" in (failed.error or "")
    assert "no such mailbox here" in (failed.error or "")
    assert [r.id for r in report.failed] == [record.id]
    assert sink.messages == []


def test_a_temporary_refusal_is_retried_later_not_failed(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    drafted(imap_account, config)
    record = only_draft(config)
    shown = approve(config, record.id)
    sink.fail_next(451, "4.3.0 try again later", at="rcpt")

    first = outbox.send_approved(config, now=NOW)
    too_soon = outbox.send_approved(config, now=NOW + timedelta(minutes=1))
    waiting = draft(config, record.id)
    later = outbox.send_approved(config, now=NOW + timedelta(minutes=6))

    assert [r.id for r in first.deferred] == [record.id]
    assert waiting.status is Q.APPROVED
    assert "451" in (waiting.error or "")
    assert int(too_soon) == 0
    assert [r.id for r in too_soon.deferred] == [record.id]
    assert int(later) == 1
    assert [m.data.rstrip(b"\r\n") for m in sink.messages] == [shown.raw.rstrip(b"\r\n")]


def test_a_connection_lost_while_the_server_takes_the_message_leaves_it_unconfirmed(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    drafted(imap_account, config)
    record = only_draft(config)
    approve(config, record.id)
    calls: list[bytes] = []

    def lost_after_data(raw: bytes, **kw: object) -> object:
        calls.append(raw)
        raise SendOutcomeUnknown("the connection broke after DATA")

    monkeypatch.setattr(outbox, "send_message_sync", lost_after_data)

    first = outbox.send_approved(config, now=NOW)
    again = outbox.send_approved(config, now=NOW + timedelta(hours=1))

    assert [r.id for r in first.unconfirmed] == [record.id]
    assert len(calls) == 1, "an unconfirmed draft is never sent again by itself"
    assert int(again) == 0
    assert draft(config, record.id).status is Q.UNCONFIRMED


def test_a_refused_smtp_login_sends_nothing_keeps_the_approval_and_is_raised(
    imap_account: ImapAccount, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    smtp_server.require_auth = True
    config = make_config(tmp_path, imap_account, smtp_server)  # another password
    drafted(imap_account, config)
    record = only_draft(config)
    approve(config, record.id)

    with pytest.raises(CredentialError, match="refused the login"):
        outbox.send_approved(config, now=NOW)

    kept = draft(config, record.id)
    assert kept.status is Q.APPROVED
    assert "refused the login" in (kept.error or "")
    assert smtp_server.messages == []


def test_the_hourly_cap_holds_back_the_rest(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink, drafts="hourly_send_cap = 1")
    drafted(imap_account, config, 1, 2)
    with pipeline.open_store(config) as store:
        ids = [d.id for d in store.list_drafts([Q.PENDING])]
    for draft_id in ids:
        approve(config, draft_id)

    first = outbox.send_approved(config, now=NOW)
    held = draft(config, ids[1])
    next_hour = outbox.send_approved(config, now=NOW + timedelta(minutes=61))

    assert int(first) == 1
    assert [r.id for r in first.deferred] == [ids[1]]
    assert any("hourly_send_cap" in note for note in first.notes)
    assert held.status is Q.APPROVED
    assert int(next_hour) == 1
    assert len(sink.messages) == 2


def test_a_draft_whose_subject_holds_a_line_break_is_never_sent(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    seed(imap_account, ("Sent", application(1)))
    pipeline.poll_once(config, now=NOW, draft=False)
    with pipeline.open_store(config) as store:
        (tracked,) = pipeline.assess(store, config, now=NOW)
    injected = Draft(
        conversation_id=tracked.conversation.id,
        mailfollow_id="mf1-injected-1",
        message_id="mailfollow.abc@example.org",
        sender=Address(ME, "Alex Doe"),
        to=Address("jane@acme1.example"),
        subject="Following up\r\nBcc: everyone@example.net",
        in_reply_to="app-1@example.org",
        references=("app-1@example.org",),
        body="Hello Jane",
        created_at=NOW,
    )
    with pipeline.open_store(config) as store:
        record = store.add_draft(injected, at=NOW)
        with pytest.raises(HeaderInjectionError):
            outbox.preview(store, config, record.id, now=NOW)
        store.transition(record.id, Q.APPROVED, at=NOW, reason="test: approved by force")

    report = outbox.send_approved(config, now=NOW)

    assert sink.messages == []
    back = draft(config, record.id)
    assert back.status is Q.PENDING
    assert "line break" in (back.error or "")
    assert [r.id for r in report.cancelled] == [record.id]


# --- the approve command ------------------------------------------------------------------


def test_mailfollow_approve_yes_shows_the_message_then_sends_it(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    path = write_config(tmp_path, imap_account, sink)
    config = make_config(tmp_path, imap_account, sink)
    seed(imap_account, ("Sent", application(1)))
    pipeline.poll_once(config, now=APPLIED + timedelta(days=13))
    record = only_draft(config)

    result = CliRunner().invoke(
        cli, ["approve", str(record.id), "--yes"], env={"MAILFOLLOW_CONFIG": str(path)}
    )

    assert result.exit_code == 0, result.output
    assert f"To: {record.recipient}" in result.output
    assert f"Sent draft {record.id} to jane@acme1.example." in result.output
    assert len(sink.messages) == 1
    assert f"<{record.message_id}>".encode() in sink.messages[0].data
