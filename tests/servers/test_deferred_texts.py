"""Large syncs leave texts on the server until needed, against a real Dovecot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mailfollow.sync
from mailfollow.adapters.mailbox import MailboxSession
from mailfollow.adapters.store import Store
from mailfollow.model import Message
from mailfollow.sync import SyncReport, fetch_texts, sync_mailbox
from tests.factories import as_deferred
from tests.servers.dovecot import ImapAccount, append_message, append_messages, connect
from tests.servers.test_bulk_fetch import mixed_messages
from tests.servers.test_mailbox import login_for, plain_message, settings_for

BULK = 6  # a folder pass of this many new messages leaves their texts on the server


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.memory() as opened:
        yield opened


@pytest.fixture(autouse=True)
def large_from_six(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailfollow.sync, "DEFER_TEXTS_FROM", BULK)


def sync_into(store: Store, account: ImapAccount, *, texts: bool = False) -> SyncReport:
    """A sync; ``texts``: as if no pass were large enough to leave texts."""
    with pytest.MonkeyPatch.context() as patch:
        if texts:
            patch.setattr(mailfollow.sync, "DEFER_TEXTS_FROM", 10**9)
        return sync_mailbox(
            store, settings=settings_for(account, batch_size=4), credentials=login_for(account)
        )


def by_id(messages: list[Message]) -> dict[str, Message]:
    return {m.message_id: m for m in messages}


def test_a_large_pass_stores_the_headers_and_leaves_text_and_structure(
    imap_account: ImapAccount, tmp_path: Path
) -> None:
    append_messages(imap_account, "INBOX", mixed_messages(9))
    append_messages(imap_account, "Sent", [plain_message(100 + n) for n in range(BULK)])
    with Store.open(tmp_path / "full.sqlite3") as store:
        sync_into(store, imap_account, texts=True)
        full = by_id(store.load_messages())
    with Store.open(tmp_path / "deferred.sqlite3") as store:
        report = sync_into(store, imap_account)
        deferred = by_id(store.load_messages())

    assert (report.folder("INBOX").deferred, report.folder("Sent").deferred) == (9, 0)
    assert report.deferred == 9
    assert deferred.keys() == full.keys()
    for message_id, message in deferred.items():
        if message.folder == "Sent":  # the user's own mail always comes with its text
            assert message == full[message_id]
            continue
        assert full[message_id].snippet != ""
        # Every header is there; the text and the MIME structure are not.
        assert message == as_deferred(full[message_id])


def test_fetching_the_texts_afterwards_gives_what_a_full_sync_stores(
    imap_account: ImapAccount, tmp_path: Path
) -> None:
    append_messages(imap_account, "INBOX", mixed_messages(9))
    with Store.open(tmp_path / "full.sqlite3") as store:
        sync_into(store, imap_account, texts=True)
        full = by_id(store.load_messages())
    with Store.open(tmp_path / "deferred.sqlite3") as store:
        sync_into(store, imap_account)
        wanted = sorted(full)[:5]
        with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
            done = fetch_texts(store, session, wanted)
        completed = by_id(store.load_messages())

    assert done == set(wanted)
    for message_id, message in completed.items():
        if message_id in wanted:
            assert message == full[message_id]
        else:
            assert message.text_deferred


def test_polls_that_bring_a_few_messages_fetch_their_texts(
    imap_account: ImapAccount, store: Store
) -> None:
    append_messages(imap_account, "INBOX", [plain_message(n) for n in range(BULK)])
    assert sync_into(store, imap_account).deferred == BULK
    append_message(imap_account, "INBOX", plain_message(50, body="Can we talk on Friday?"))

    report = sync_into(store, imap_account)

    assert (report.new, report.deferred) == (1, 0)
    latest = store.get_message("msg-50@acme.example")
    assert latest is not None
    assert (latest.snippet, latest.text_deferred) == ("Can we talk on Friday?", False)


def test_a_message_expunged_before_its_text_was_fetched_stays_without_it(
    imap_account: ImapAccount, store: Store
) -> None:
    append_messages(imap_account, "INBOX", [plain_message(n) for n in range(BULK)])
    sync_into(store, imap_account)
    with connect(imap_account) as client:
        client.select_folder("INBOX")
        client.delete_messages([1])
        client.expunge()

    with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
        done = fetch_texts(store, session, ["msg-0@acme.example", "msg-1@acme.example"])

    assert done == {"msg-1@acme.example"}
    gone = store.get_message("msg-0@acme.example")
    assert gone is not None
    assert gone.text_deferred


def test_fetching_texts_marks_nothing_read(imap_account: ImapAccount, store: Store) -> None:
    append_messages(imap_account, "INBOX", [plain_message(n) for n in range(BULK)])
    sync_into(store, imap_account)
    ids = [f"msg-{n}@acme.example" for n in range(BULK)]

    with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
        assert fetch_texts(store, session, ids) == set(ids)

    with connect(imap_account) as client:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search("ALL"))
    assert len(flags) == BULK
    assert all(b"\\Seen" not in f for f in flags.values())
