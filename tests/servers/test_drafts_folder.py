"""The Drafts folder mirror against a real Dovecot: copies go in and out, and what the
user does to them in a mail client (edit, send, delete, flag) comes back into the queue."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailfollow import outbox, pipeline
from mailfollow.adapters.mailbox import MailboxSession
from mailfollow.adapters.store import DraftEditRefusedError, DraftRecord
from mailfollow.cli import cli, commands_queue
from mailfollow.config import Config
from mailfollow.drafts_folder import MailboxAccess, build_mime, quote_for
from mailfollow.model import QueueState
from tests.servers import TlsAuthority
from tests.servers.dovecot import ImapAccount, append_message, connect
from tests.servers.queue_setup import (
    ME,
    NOW,
    application,
    draft,
    folder_messages,
    human_reply,
    make_config,
    running_sink,
    seed,
    write_config,
)
from tests.servers.smtp import SmtpSink

Q = QueueState
LATER = NOW + timedelta(hours=2)


@pytest.fixture
def sink(tls_ca: TlsAuthority, imap_account: ImapAccount) -> Iterator[SmtpSink]:
    yield from running_sink(tls_ca, imap_account)


@pytest.fixture(autouse=True)
def _look_for_the_sent_copy_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "SENT_COPY_CHECKS", (0.0,))


def drafted(account: ImapAccount, config: Config, *applications: int) -> DraftRecord:
    seed(account, *(("Sent", application(n)) for n in applications or (1,)))
    report = pipeline.poll_once(config, now=NOW)
    assert report.drafted, report
    return report.drafted[0]


def drafts_uids(account: ImapAccount) -> list[int]:
    return sorted(folder_messages(account, "Drafts"))


def delete_from_drafts(account: ImapAccount, uids: list[int]) -> None:
    with connect(account) as client:
        client.select_folder("Drafts")
        client.add_flags(uids, [b"\\Deleted"])
        client.expunge()


def client_copy(
    record: DraftRecord,
    body: str,
    *,
    message_id: str,
    keep_header: bool = True,
    subject: str | None = None,
    when: datetime = LATER,
) -> bytes:
    """The draft as a mail client saves (or sends) it after the user edited it."""
    header = f"X-Mailfollow-Id: {record.mailfollow_id}\r\n" if keep_header else ""
    return (
        f"From: Alex Doe <{ME}>\r\n"
        f"To: {record.recipient}\r\n"
        f"Subject: {subject or record.subject}\r\n"
        f"Date: {format_datetime(when)}\r\n"
        f"Message-ID: <{message_id}>\r\n"
        f"In-Reply-To: <{record.in_reply_to}>\r\n"
        f"{header}"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n" + body.replace("\n", "\r\n")
    ).encode()


def edit_in_client(
    account: ImapAccount,
    record: DraftRecord,
    body: str,
    *,
    flags: tuple[str, ...] = ("\\Draft", "\\Seen"),
    **options: object,
) -> None:
    """Save an edited version and remove the old one, as clients do."""
    old = drafts_uids(account)
    raw = client_copy(record, body, message_id="edited-1@client.example", **options)  # type: ignore[arg-type]
    append_message(account, "Drafts", raw, flags=flags)
    delete_from_drafts(account, old)


def our_quote(config: Config, record: DraftRecord) -> str:
    with pipeline.open_store(config) as store:
        quote = quote_for(store, config, record)
    assert quote, "the test needs the quote of the application"
    return quote


# --- copies in and out -----------------------------------------------------------------


def test_a_pending_draft_is_put_in_drafts_with_the_exact_bytes_flagged_draft_and_seen(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)

    copies = folder_messages(imap_account, "Drafts")

    stored = draft(config, record.id)
    assert stored.imap_uid is not None
    assert list(copies) == [stored.imap_uid]
    assert stored.imap_folder == "Drafts"
    raw, flags = copies[stored.imap_uid]
    with pipeline.open_store(config) as store:
        assert raw == build_mime(store, config, stored)
    assert {"\\Draft", "\\Seen"} <= flags
    assert b"On April 20, 2026, Alex Doe <alex.doe@example.org> wrote:" in raw
    assert b"> Dear Jane," in raw


def test_an_unchanged_poll_touches_no_copy_and_opens_no_second_connection(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)
    before = drafts_uids(imap_account)
    opened: list[MailboxAccess] = []
    real_session = MailboxAccess.session

    def counted_session(self: MailboxAccess) -> MailboxSession:
        opened.append(self)
        return real_session(self)

    monkeypatch.setattr(MailboxAccess, "session", counted_session)

    report = pipeline.poll_once(config, now=LATER)

    assert opened == [], "the Drafts folder step needs no connection when nothing changed"
    assert drafts_uids(imap_account) == before
    assert not report.mirrored.appended
    assert not report.drafts_folder.changed
    assert draft(config, record.id).status is Q.PENDING


def test_a_skipped_draft_leaves_the_drafts_folder_at_the_next_poll(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)
    with pipeline.open_store(config) as store:
        outbox.skip(store, record.id, now=NOW)

    report = pipeline.poll_once(config, now=LATER)

    assert drafts_uids(imap_account) == []
    assert [r.id for r in report.mirrored.removed] == [record.id]
    assert not report.drafted, "a skipped follow-up is not drafted again"
    assert draft(config, record.id).imap_uid is None


def test_an_edit_made_with_mailfollow_replaces_the_stale_copy(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)
    with pipeline.open_store(config) as store:
        outbox.edit(store, record.id, "Hi Jane, any news?\n", now=NOW)

    pipeline.poll_once(config, now=LATER)
    again = pipeline.poll_once(config, now=LATER + timedelta(minutes=5))

    copies = folder_messages(imap_account, "Drafts")
    assert len(copies) == 1
    ((raw, _),) = copies.values()
    assert b"Hi Jane, any news?" in raw
    assert not again.drafts_folder.changed
    assert draft(config, record.id).body == "Hi Jane, any news?\n"


# --- what the user does in their mail client ----------------------------------------------


def test_an_edit_in_the_mail_client_becomes_the_users_text_without_our_quote(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)
    mine = "Hi Jane,\n\nJust checking in on my application. Happy to talk any time.\n\nAlex"

    edit_in_client(imap_account, record, mine + "\n\n" + our_quote(config, record))
    report = pipeline.poll_once(config, now=LATER)

    edited = draft(config, record.id)
    assert edited.body == mine
    assert edited.user_edited
    assert [r.id for r in report.drafts_folder.edited] == [record.id]
    with pipeline.open_store(config) as store:
        assert store.history(record.id)[-1].reason == "edited in your mail client"
        with pytest.raises(DraftEditRefusedError):
            store.update_draft_body(
                record.id, "machine text", at=LATER, user_edited=False, reason="test"
            )


def test_a_quote_the_user_took_out_stays_out_of_what_is_sent(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)

    edit_in_client(imap_account, record, "Hi Jane, short and sweet: any news?")
    pipeline.poll_once(config, now=LATER)
    with pipeline.open_store(config) as store:
        outbox.approve(store, outbox.preview(store, config, record.id, now=LATER), now=LATER)
    outbox.send_approved(config, now=LATER)

    (received,) = sink.messages
    assert b"short and sweet" in received.data
    assert b"wrote:" not in received.data
    assert b"> Dear Jane" not in received.data


def test_an_edit_from_a_client_that_drops_unknown_headers_is_still_recognised(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)

    edit_in_client(imap_account, record, "Hello Jane, any update?", keep_header=False)
    pipeline.poll_once(config, now=LATER)

    assert draft(config, record.id).body == "Hello Jane, any update?"


def test_a_changed_subject_is_not_taken_and_the_user_is_told(
    imap_account: ImapAccount,
    sink: SmtpSink,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = make_config(tmp_path, imap_account, sink, drafts="approve_by_flag = true")
    record = drafted(imap_account, config)

    injected = "=?utf-8?q?Hi=0D=0ABcc=3A_x=40y.z?="  # "Hi\r\nBcc: x@y.z"
    flagged = ("\\Draft", "\\Seen", "\\Flagged")
    edit_in_client(imap_account, record, "New text", subject=injected, flags=flagged)
    with caplog.at_level(logging.WARNING, logger="mailfollow"):
        pipeline.poll_once(config, now=LATER)

    edited = draft(config, record.id)
    assert edited.body == "New text"
    assert edited.subject == record.subject
    assert edited.status is Q.PENDING, "a flag does not approve a version mailfollow cannot send"
    assert "your change to the subject is not" in caplog.text


def test_an_approved_draft_edited_in_the_client_goes_back_to_pending(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)
    with pipeline.open_store(config) as store:
        outbox.approve(store, outbox.preview(store, config, record.id, now=NOW), now=NOW)

    edit_in_client(imap_account, record, "A better text")
    report = outbox.send_approved(config, now=LATER)

    assert sink.messages == []
    back = draft(config, record.id)
    assert back.status is Q.PENDING
    assert back.body == "A better text"
    assert [r.id for r in report.cancelled] == [record.id]


def test_a_draft_sent_from_the_client_with_a_new_message_id_and_no_header_is_marked_sent(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)

    sent = client_copy(record, "Hi Jane, following up.", message_id="x@client", keep_header=False)
    append_message(imap_account, "Sent", sent, flags=("\\Seen",))
    delete_from_drafts(imap_account, drafts_uids(imap_account))
    report = pipeline.poll_once(config, now=LATER)

    settled = draft(config, record.id)
    assert settled.status is Q.SENT
    assert [r.id for r in report.sent_from_client] == [record.id]
    assert not report.drafted, "the user's own follow-up counts: nothing new is due"
    assert sink.messages == []


def test_a_draft_sent_from_the_client_keeping_its_header_is_marked_sent_at_once(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)

    sent = client_copy(record, "Hi Jane, following up.", message_id="y@client")
    append_message(imap_account, "Sent", sent, flags=("\\Seen",))
    pipeline.poll_once(config, now=LATER)  # the client has not removed the draft yet

    assert draft(config, record.id).status is Q.SENT
    assert drafts_uids(imap_account) == [], "the leftover copy is cleared away"


def test_a_draft_deleted_in_the_client_without_sending_is_skipped(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)

    delete_from_drafts(imap_account, drafts_uids(imap_account))
    report = pipeline.poll_once(config, now=LATER)

    skipped = draft(config, record.id)
    assert skipped.status is Q.SKIPPED
    assert [r.id for r in report.drafts_folder.skipped] == [record.id]
    with pipeline.open_store(config) as store:
        assert "deleted from your Drafts folder" in store.history(record.id)[-1].reason


def test_drafts_vanishing_from_a_suddenly_empty_folder_are_not_skipped(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    drafted(imap_account, config, 1, 2, 3)

    delete_from_drafts(imap_account, drafts_uids(imap_account))
    report = pipeline.poll_once(config, now=LATER)

    with pipeline.open_store(config) as store:
        assert {d.status for d in store.list_drafts()} == {Q.PENDING}
    assert any("vanished" in w for w in report.warnings)


def test_flagging_the_draft_approves_it_when_approve_by_flag_is_on(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink, drafts="approve_by_flag = true")
    record = drafted(imap_account, config)

    with connect(imap_account) as client:
        client.select_folder("Drafts")
        client.add_flags(drafts_uids(imap_account), [b"\\Flagged"])
    pipeline.poll_once(config, now=LATER)
    report = outbox.send_approved(config, now=LATER)

    assert int(report) == 1
    assert len(sink.messages) == 1
    assert draft(config, record.id).status is Q.SENT


def test_flagging_approves_nothing_when_approve_by_flag_is_off(
    imap_account: ImapAccount, sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)

    with connect(imap_account) as client:
        client.select_folder("Drafts")
        client.add_flags(drafts_uids(imap_account), [b"\\Flagged"])
    pipeline.poll_once(config, now=LATER)

    assert draft(config, record.id).status is Q.PENDING


# --- replies before approval ------------------------------------------------------------------


def test_a_reply_before_approval_withdraws_the_draft_from_the_queue_and_from_drafts(
    imap_account: ImapAccount,
    sink: SmtpSink,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commands_queue, "_now", lambda: LATER)
    path = write_config(tmp_path, imap_account, sink)
    config = make_config(tmp_path, imap_account, sink)
    record = drafted(imap_account, config)

    append_message(imap_account, "INBOX", human_reply(when=NOW + timedelta(minutes=30)))
    with caplog.at_level(logging.INFO, logger="mailfollow"):
        report = pipeline.poll_once(config, now=LATER)
    listed = CliRunner().invoke(cli, ["pending", "--json"], env={"MAILFOLLOW_CONFIG": str(path)})

    assert [r.id for r in report.withdrawn] == [record.id]
    assert draft(config, record.id).status is Q.WITHDRAWN
    assert drafts_uids(imap_account) == []
    assert f"draft {record.id} withdrawn: they replied" in caplog.text
    (item,) = json.loads(listed.stdout)
    assert (item["id"], item["status"]) == (record.id, "withdrawn")
    assert item["reason"].startswith("they replied")
