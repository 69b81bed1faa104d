"""Pipelined bulk fetches and the second connection (lane), against a real Dovecot."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mailfollow.lanes
from mailfollow.adapters.mailbox import MailboxSession
from mailfollow.adapters.store import Store
from mailfollow.lanes import Lane, LaneFailed
from mailfollow.model import FolderRole, Message
from mailfollow.parsing import parse_batch
from mailfollow.sync import RetryPolicy, SyncReport, _deal, sync_mailbox
from tests.servers.dovecot import ImapAccount, append_messages, connect
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


class CountingProgress:
    """A progress sink that runs ``action`` once ``after`` messages are stored
    (by default after the first batch)."""

    def __init__(self, action: Callable[[], None], *, after: int = 1) -> None:
        self.action = action
        self.after = after
        self.done = 0

    def add_total(self, count: int) -> None:
        pass

    def advance(self, count: int) -> None:
        before, self.done = self.done, self.done + count
        if before < self.after <= self.done:
            self.action()


def stored_by_sync(
    account: ImapAccount, path: Path, progress: CountingProgress | None = None
) -> tuple[SyncReport, list[Message]]:
    with Store.open(path) as store:
        report = sync_mailbox(
            store,
            settings=settings_for(account, batch_size=4),
            credentials=login_for(account),
            progress=progress,
            retry=RetryPolicy(attempts=1),
        )
        return report, sorted(store.load_messages(), key=lambda m: m.message_id)


@pytest.fixture
def lanes_started(monkeypatch: pytest.MonkeyPatch) -> list[Lane]:
    """Lanes from 10 new messages on; the lanes started, as a list."""
    started: list[Lane] = []

    class CountedLane(Lane):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(mailfollow.lanes, "LANE_THRESHOLD", 10)
    monkeypatch.setattr(mailfollow.lanes, "Lane", CountedLane)
    return started


def killer(started: list[Lane]) -> Callable[[], None]:
    """What ends the latest lane at once, as a crash would."""

    def kill() -> None:
        lane = started[-1]
        os.kill(lane.process.pid, signal.SIGKILL)
        lane.process.join(5)

    return kill


def fill_for_lanes(account: ImapAccount) -> None:
    append_messages(account, "INBOX", mixed_messages(30))
    append_messages(account, "Sent", [plain_message(100 + n) for n in range(9)])


def test_a_large_sync_over_two_connections_stores_what_one_connection_stores(
    imap_account: ImapAccount, tmp_path: Path, lanes_started: list[Lane]
) -> None:
    fill_for_lanes(imap_account)
    with pytest.MonkeyPatch.context() as one_connection:
        one_connection.setattr(mailfollow.lanes, "LANE_THRESHOLD", 10**9)
        alone, expected = stored_by_sync(imap_account, tmp_path / "one.sqlite3")
    assert lanes_started == []

    report, stored = stored_by_sync(imap_account, tmp_path / "two.sqlite3")

    assert len(lanes_started) == 1  # one lane for the whole pass, Sent included
    assert not lanes_started[0].process.is_alive()  # and it ended with the pass
    assert stored == expected
    assert len(stored) == 39
    assert (report.fetched, report.new, report.deferred) == (39, 39, 0)
    # The lane's commands count too: it logs in and fetches every other batch.
    assert report.commands > alone.commands
    with connect(imap_account) as client:  # and it read everything with BODY.PEEK
        for folder in ("INBOX", "Sent"):
            client.select_folder(folder, readonly=True)
            assert client.search(["SEEN"]) == []


def test_a_lane_that_dies_leaves_its_batches_to_the_syncing_process(
    imap_account: ImapAccount,
    tmp_path: Path,
    lanes_started: list[Lane],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fill_for_lanes(imap_account)
    _, expected = stored_by_sync(imap_account, tmp_path / "reference.sqlite3")

    with caplog.at_level(logging.WARNING, logger="mailfollow.lanes"):
        report, stored = stored_by_sync(
            imap_account, tmp_path / "killed.sqlite3", CountingProgress(killer(lanes_started))
        )

    assert stored == expected  # nothing lost, nothing twice
    assert report.fetched == 39
    assert "the second connection failed" in caplog.text
    assert len(lanes_started) == 2  # not started again in the same pass


def test_a_lane_that_died_between_folders_is_noticed_when_asked_again(
    imap_account: ImapAccount,
    tmp_path: Path,
    lanes_started: list[Lane],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fill_for_lanes(imap_account)
    _, expected = stored_by_sync(imap_account, tmp_path / "reference.sqlite3")

    with caplog.at_level(logging.WARNING, logger="mailfollow.lanes"):
        report, stored = stored_by_sync(
            imap_account,
            tmp_path / "killed.sqlite3",
            CountingProgress(killer(lanes_started), after=30),  # the Inbox
        )

    assert stored == expected
    assert report.warnings == ()  # no folder was skipped
    assert "the second connection failed" in caplog.text


def examined_inbox(session: MailboxSession) -> int:
    """EXAMINE the Inbox; its UIDVALIDITY."""
    uidvalidity = session.select("INBOX").uidvalidity
    assert uidvalidity is not None
    return uidvalidity


def lane_for(account: ImapAccount) -> tuple[MailboxSession, Lane]:
    session = MailboxSession(settings_for(account, batch_size=4), login_for(account))
    session.open()
    assert session.credential is not None
    return session, Lane(session.settings, session.credential)


@pytest.fixture(params=["fork", "spawn"])
def start_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Lanes started both ways: forked (a one-off scan) and spawned (the daemon, which
    has threads), where settings and login cross to a fresh interpreter."""
    method = str(request.param)
    monkeypatch.setattr(
        mailfollow.lanes, "_process_context", lambda: multiprocessing.get_context(method)
    )
    return method


def test_a_lane_fetches_and_parses_what_it_is_asked_in_batches(
    imap_account: ImapAccount, start_method: str
) -> None:
    append_messages(imap_account, "INBOX", mixed_messages(7))
    session, lane = lane_for(imap_account)
    with session, lane:
        uidvalidity = examined_inbox(session)
        uids = session.search_uids()
        expected = parse_batch(session.fetch_messages(uids), "INBOX", FolderRole.INBOX)

        lane.fetch("INBOX", FolderRole.INBOX, uidvalidity, uids, batch_size=3, texts=True)
        batches = [lane.next_batch() for _ in range(3)]

    assert [batch for batch, _ in batches] == [uids[:3], uids[3:6], uids[6:]]
    assert [p for _, parsed in batches for p in parsed] == expected


def test_a_lane_refuses_a_folder_that_was_recreated_meanwhile(
    imap_account: ImapAccount,
) -> None:
    append_messages(imap_account, "INBOX", mixed_messages(2))
    session, lane = lane_for(imap_account)
    with session, lane:
        uidvalidity = examined_inbox(session)
        lane.fetch("INBOX", FolderRole.INBOX, uidvalidity + 1, [1, 2], batch_size=3, texts=True)

        lane.process.join(5)  # it reported why and ended
        lane.collect()  # taken in between batches of one's own: the reason is kept

        with pytest.raises(LaneFailed, match="UIDVALIDITY changed"):
            lane.next_batch()


def test_ctrl_c_is_left_to_the_syncing_process_not_the_lane(imap_account: ImapAccount) -> None:
    append_messages(imap_account, "INBOX", mixed_messages(2))
    session, lane = lane_for(imap_account)
    with session, lane:
        uidvalidity = examined_inbox(session)
        lane.fetch("INBOX", FolderRole.INBOX, uidvalidity, [1], batch_size=3, texts=False)
        assert lane.next_batch()[0] == [1]  # started and logged in

        os.kill(lane.process.pid, signal.SIGINT)
        time.sleep(0.2)

        assert lane.process.is_alive()
        lane.fetch("INBOX", FolderRole.INBOX, uidvalidity, [2], batch_size=3, texts=False)
        assert lane.next_batch()[0] == [2]


@given(st.lists(st.integers(1, 10**6), unique=True), st.integers(1, 7), st.integers(1, 7))
def test_dealing_keeps_every_uid_in_order_in_batches_of_both_sizes_in_turn(
    uids: list[int], first: int, second: int
) -> None:
    dealt = _deal(sorted(uids), first, second)

    assert [uid for batch in dealt for uid in batch] == sorted(uids)
    for index, batch in enumerate(dealt[:-1]):
        assert len(batch) == (second if index % 2 else first)
    assert all(dealt)
