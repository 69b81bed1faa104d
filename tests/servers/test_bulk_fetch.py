"""Pipelined bulk fetches and the parsing worker, against a real Dovecot."""

from __future__ import annotations

import logging
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import mailfollow.parsing
from mailfollow.adapters.mailbox import FetchedMessage, MailboxSession
from mailfollow.adapters.store import Store
from mailfollow.model import FolderRole
from mailfollow.parsing import InlineParser, Parsers, WorkerParser, parse_batch
from mailfollow.sync import sync_mailbox
from tests.servers.dovecot import ImapAccount, append_messages
from tests.servers.test_mailbox import WITH_ATTACHMENT, login_for, plain_message, settings_for

BOUNCE = (
    b"From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n"
    b"To: alex.doe@example.org\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"Date: Mon, 02 Mar 2026 09:05:00 +0000\r\n"
    b"Message-ID: <bounce-1@mx.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n'
    b"\r\n--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
    b"--r\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; jobs@gone.example\r\n"
    b"Action: failed\r\nStatus: 5.1.1\r\n\r\n--r--\r\n"
)


def mixed_messages(count: int) -> list[bytes]:
    shapes = [WITH_ATTACHMENT, BOUNCE]
    return [
        plain_message(n, body=f"Note number {n}")
        if n % 3
        else shapes[n // 3 % 2].replace(b"Message-ID: <", b"Message-ID: <%d-" % n)
        for n in range(count)
    ]


def test_pipelined_batches_give_what_one_fetch_gives(imap_account: ImapAccount) -> None:
    append_messages(imap_account, "INBOX", mixed_messages(14))

    with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
        session.select("INBOX")
        uids = session.search_uids()
        whole = session.fetch_messages(uids)
        batched = list(session.fetch_message_batches(uids, batch_size=4))

    assert [len(batch) for _, batch in batched] == [4, 4, 4, 2]
    assert [m for _, batch in batched for m in batch] == whole
    bounce = next(m for m in whole if b"MAILER-DAEMON" in m.header)
    assert bounce.report.startswith(b"Reporting-MTA")
    assert bounce.snippet.startswith(b"Your message could not be delivered")


def test_leaving_the_batches_early_keeps_the_session_usable(imap_account: ImapAccount) -> None:
    append_messages(imap_account, "INBOX", mixed_messages(9))

    with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
        session.select("INBOX")
        uids = session.search_uids()
        batches = session.fetch_message_batches(uids, batch_size=2)
        _, first = next(batches)
        batches.close()  # answers for the next batch are already on their way

        assert session.is_open
        assert session.search_uids() == uids
        assert [m.uid for m in session.fetch_messages(uids[:1])] == [first[0].uid]


def test_a_large_sync_parses_in_a_worker_and_stores_what_parsing_inline_stores(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    append_messages(imap_account, "INBOX", mixed_messages(12))
    append_messages(imap_account, "Sent", [plain_message(100 + n) for n in range(3)])
    started: list[WorkerParser] = []

    class CountedWorker(WorkerParser):
        def __init__(self) -> None:
            super().__init__()
            started.append(self)

    settings = settings_for(imap_account, batch_size=5)

    def stored_by_sync(name: str) -> list[object]:
        with Store.open(tmp_path / name / "store.sqlite3") as store:
            report = sync_mailbox(store, settings=settings, credentials=login_for(imap_account))
            assert report.fetched == 15
            return sorted(store.load_messages(), key=lambda m: m.message_id)

    inline = stored_by_sync("inline")
    monkeypatch.setattr(mailfollow.parsing, "WORKER_THRESHOLD", 10)
    monkeypatch.setattr(mailfollow.parsing, "WorkerParser", CountedWorker)
    in_worker = stored_by_sync("worker")

    assert len(started) == 1  # one worker for the whole pass, Sent included
    assert in_worker == inline
    assert len(inline) == 15


def a_fetched_message(uid: int) -> FetchedMessage:
    return FetchedMessage(
        uid=uid,
        header=b"From: Jane <jane@acme.example>\r\nSubject: Hi\r\nMessage-ID: <m%d@x>\r\n\r\n"
        % uid,
        internal_date=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        flags=frozenset(),
    )


def test_a_worker_that_dies_is_replaced_by_parsing_in_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch = [a_fetched_message(uid) for uid in (1, 2, 3)]
    worker = WorkerParser()
    try:
        assert [p.uid for p in worker.submit(batch, "INBOX", FolderRole.INBOX).result()] == [
            1,
            2,
            3,
        ]
        for process in list(worker._pool._processes.values()):  # type: ignore[union-attr]
            process.kill()
            process.join(5)
        with caplog.at_level(logging.WARNING, logger="mailfollow.parsing"):
            parsed = worker.submit(batch, "INBOX", FolderRole.INBOX).result()
            again = worker.submit(batch, "INBOX", FolderRole.INBOX).result()
    finally:
        worker.close()

    assert parsed == again == parse_batch(batch, "INBOX", FolderRole.INBOX)
    assert not worker.alive
    assert "the parsing worker failed" in caplog.text


def test_a_message_the_parser_chokes_on_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = mailfollow.parsing.message_from_fetched

    def choke_on_two(fetched: FetchedMessage, *, folder: str, role: FolderRole) -> object:
        if fetched.uid == 2:
            raise ValueError("a parser bug")
        return real(fetched, folder=folder, role=role)

    monkeypatch.setattr(mailfollow.parsing, "message_from_fetched", choke_on_two)
    parsed = (
        InlineParser()
        .submit([a_fetched_message(uid) for uid in (1, 2, 3)], "INBOX", FolderRole.INBOX)
        .result()
    )

    assert [(p.uid, p.message is None) for p in parsed] == [(1, False), (2, True), (3, False)]
    assert "ValueError: a parser bug" in parsed[1].error


def test_small_fetches_parse_inline_and_large_ones_in_a_worker() -> None:
    with Parsers(threshold=100) as parsers:
        assert isinstance(parsers.for_fetch(99), InlineParser)
        worker = parsers.for_fetch(100)
        assert isinstance(worker, WorkerParser)
        assert parsers.for_fetch(1) is worker  # started once, it serves the rest of the pass
    assert not worker.alive


def test_ctrl_c_is_left_to_the_syncing_process_not_the_worker() -> None:
    batch = [a_fetched_message(uid) for uid in (1, 2)]
    worker = WorkerParser()
    try:
        worker.submit(batch, "INBOX", FolderRole.INBOX).result()  # started and initialised
        (process,) = worker._pool._processes.values()  # type: ignore[union-attr]
        os.kill(process.pid, signal.SIGINT)
        time.sleep(0.2)

        assert process.is_alive()
        assert [p.uid for p in worker.submit(batch, "INBOX", FolderRole.INBOX).result()] == [1, 2]
        assert worker.alive
    finally:
        worker.close()
