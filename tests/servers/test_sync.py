"""The incremental sync against a real Dovecot: first sync, polls, changes, outages."""

from __future__ import annotations

import contextlib
import os
import random
import signal
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from mailfollow import errors
from mailfollow.adapters.mailbox import (
    FolderInfo,
    ImapSettings,
    MailboxSession,
    imap_settings_from_config,
)
from mailfollow.adapters.store import Store
from mailfollow.config import parse_config
from mailfollow.credentials import AuthMechanism, Credentials, Secret
from mailfollow.model import FolderRole
from mailfollow.sync import (
    PlannedFolder,
    RetryPolicy,
    SyncReport,
    folder_overrides_from_config,
    plan_folders,
    sync_mailbox,
    sync_session,
)
from tests.servers.dovecot import (
    DovecotServer,
    ImapAccount,
    append_message,
    append_messages,
    connect,
    free_port,
)
from tests.servers.test_mailbox import WITH_ATTACHMENT, login_for, plain_message, settings_for

FAST_RETRY = RetryPolicy(attempts=8, initial_delay=0.05, max_delay=0.5)
SCANNED = ("INBOX", "Sent", "Drafts", "Archive")
ARRIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

# Configurations of the server's extensions that change how a folder is followed.
EXTENSIONS = {
    "qresync": frozenset[str](),
    "condstore-only": frozenset({"QRESYNC"}),
    "no-condstore": frozenset({"CONDSTORE", "LIST-STATUS"}),
}


@pytest.fixture
def store() -> Store:
    return Store.memory()


def sync(
    account: ImapAccount,
    store: Store,
    *,
    settings: ImapSettings | None = None,
    **options: object,
) -> SyncReport:
    options.setdefault("retry", FAST_RETRY)
    return sync_mailbox(
        store,
        settings=settings or settings_for(account),
        credentials=login_for(account),
        **options,  # type: ignore[arg-type]
    )


class ActOnFirstBatch:
    """A progress sink that does something (stop the server...) after the first batch."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.total = 0
        self.done = 0

    def add_total(self, count: int) -> None:
        self.total += count

    def advance(self, count: int) -> None:
        first = self.done == 0
        self.done += count
        if first:
            self.action()


# --- first sync and polls ------------------------------------------------------------------


def test_a_first_sync_stores_inbox_sent_drafts_and_archive_but_not_trash_or_junk(
    imap_account: ImapAccount, store: Store
) -> None:
    for n, name in enumerate(("INBOX", "Sent", "Drafts", "Archive", "Trash", "Junk")):
        append_message(imap_account, name, plain_message(n, subject=name))

    report = sync(imap_account, store)

    assert [f.name for f in report.folders] == list(SCANNED)
    assert [f.role for f in report.folders] == [
        FolderRole.INBOX,
        FolderRole.SENT,
        FolderRole.DRAFTS,
        FolderRole.ARCHIVE,
    ]
    assert (report.fetched, report.new, store.count_messages()) == (4, 4, 4)
    sent = store.get_message("msg-1@acme.example")
    assert sent is not None
    assert (sent.folder, sent.folder_role, sent.subject) == ("Sent", FolderRole.SENT, "Sent 1")
    assert sent.snippet == "Hello there"
    assert store.get_message("msg-4@acme.example") is None  # Trash
    assert report.warnings == ()


def test_a_message_with_an_attachment_keeps_its_name_types_and_snippet(
    imap_account: ImapAccount, store: Store
) -> None:
    append_message(imap_account, "Sent", WITH_ATTACHMENT, internal_date=ARRIVED)

    sync(imap_account, store)

    message = store.get_message("app-1@example.org")
    assert message is not None
    assert message.attachment_names == ("Lebenslauf Jörg.pdf",)
    assert "application/pdf" in message.part_types
    assert message.content_type == "multipart/mixed"
    assert message.snippet.startswith("Dear hiring team, I am applying for the role. Grüße")


@pytest.mark.parametrize("disabled", EXTENSIONS.values(), ids=EXTENSIONS.keys())
def test_an_unchanged_poll_costs_at_most_two_commands_per_folder(
    imap_account: ImapAccount, store: Store, disabled: frozenset[str]
) -> None:
    for name in SCANNED:
        append_messages(imap_account, name, [plain_message(n + 10 * len(name)) for n in range(3)])
    settings = settings_for(imap_account, disabled_extensions=disabled)
    sync(imap_account, store, settings=settings)

    poll = sync(imap_account, store, settings=settings)

    assert all(f.unchanged for f in poll.folders)
    assert all(f.commands <= 2 for f in poll.folders)
    # Login, ENABLE, LIST and LOGOUT included, the whole poll stays within budget.
    assert poll.commands <= 2 * len(SCANNED)
    assert poll.fetched == poll.changed == poll.removed == 0


def test_a_poll_on_a_kept_session_costs_at_most_one_command_per_folder(
    imap_account: ImapAccount, store: Store
) -> None:
    append_message(imap_account, "INBOX", plain_message(1))
    with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
        first = sync_session(store, session)
        append_message(imap_account, "INBOX", plain_message(2))
        second = sync_session(store, session)
        third = sync_session(store, session)

    assert (first.fetched, second.fetched, third.fetched) == (1, 1, 0)
    # EXAMINE, CHANGEDSINCE (which reveals the new UID), headers, snippet: no SEARCH.
    assert second.folder("INBOX").commands <= 4
    assert third.commands <= len(SCANNED)
    assert store.count_messages() == 2


def test_new_mail_is_fetched_incrementally(imap_account: ImapAccount, store: Store) -> None:
    append_messages(imap_account, "INBOX", [plain_message(n) for n in range(5)])
    sync(imap_account, store)
    append_message(imap_account, "INBOX", plain_message(99))

    report = sync(imap_account, store)

    inbox = report.folder("INBOX")
    assert (inbox.fetched, inbox.new, inbox.unchanged) == (1, 1, False)
    assert all(report.folder(name).unchanged for name in SCANNED[1:])
    assert store.count_messages() == 6


@pytest.mark.parametrize("disabled", EXTENSIONS.values(), ids=EXTENSIONS.keys())
def test_a_flag_change_and_an_expunge_in_drafts_are_picked_up(
    imap_account: ImapAccount, store: Store, disabled: frozenset[str]
) -> None:
    settings = settings_for(imap_account, disabled_extensions=disabled)
    kept, deleted = append_messages(imap_account, "Drafts", [plain_message(1), plain_message(2)])
    sync(imap_account, store, settings=settings)
    with connect(imap_account) as client:
        client.select_folder("Drafts")
        client.add_flags([kept], [b"\\Flagged"])
        client.delete_messages([deleted])
        client.expunge()

    report = sync(imap_account, store, settings=settings)

    drafts = report.folder("Drafts")
    assert (drafts.removed, drafts.fetched) == (1, 0)
    assert drafts.changed >= 1
    assert store.folder_uids("Drafts") == {kept: "msg-1@acme.example"}
    [location] = store.locations_of("msg-1@acme.example")
    assert "\\Flagged" in location.flags
    assert store.locations_of("msg-2@acme.example") == []
    assert store.get_message("msg-2@acme.example") is not None  # the message itself stays


def test_a_new_uidvalidity_resyncs_the_folder_without_duplicates(
    imap_account: ImapAccount, store: Store
) -> None:
    raws = [plain_message(n) for n in range(4)]
    append_messages(imap_account, "Archive", raws)
    sync(imap_account, store)
    with connect(imap_account) as client:
        old_validity = client.select_folder("Archive")[b"UIDVALIDITY"]
        client.unselect_folder()
        client.delete_folder("Archive")
        client.create_folder("Archive")
        assert client.select_folder("Archive")[b"UIDVALIDITY"] != old_validity
    new_uids = append_messages(imap_account, "Archive", [*raws, plain_message(4)])

    report = sync(imap_account, store)

    archive = report.folder("Archive")
    assert archive.reset
    assert (archive.fetched, archive.new) == (5, 1)
    assert store.count_messages() == 5
    assert sorted(store.folder_uids("Archive")) == sorted(new_uids)


def test_the_same_message_in_two_folders_is_stored_once(
    imap_account: ImapAccount, store: Store
) -> None:
    append_message(imap_account, "INBOX", plain_message(1))
    append_message(imap_account, "Archive", plain_message(1))

    report = sync(imap_account, store)

    assert (report.fetched, report.new, store.count_messages()) == (2, 1, 1)
    assert {loc.folder for loc in store.locations_of("msg-1@acme.example")} == {
        "INBOX",
        "Archive",
    }


# --- folders -------------------------------------------------------------------------------


def test_an_override_and_extra_folders_are_scanned_with_their_roles(
    imap_account: ImapAccount, store: Store
) -> None:
    with connect(imap_account) as client:
        client.create_folder("Outbox Copies")
        client.create_folder("Recruiters")
    append_message(imap_account, "Outbox Copies", plain_message(1))
    append_message(imap_account, "Recruiters", plain_message(2))
    append_message(imap_account, "Sent", plain_message(3))

    report = sync(
        imap_account,
        store,
        folder_overrides={"sent": "Outbox Copies"},
        extra_folders=["recruiters", "Missing"],
    )

    roles = {f.name: f.role for f in report.folders}
    assert roles["Outbox Copies"] is FolderRole.SENT
    assert roles["Recruiters"] is FolderRole.OTHER
    assert "Sent" not in roles
    message = store.get_message("msg-1@acme.example")
    assert message is not None
    assert message.folder_role is FolderRole.SENT
    assert any("'Missing'" in w for w in report.warnings)


def test_an_unknown_override_role_is_a_configuration_error(
    imap_account: ImapAccount, store: Store
) -> None:
    with pytest.raises(errors.ConfigError, match="sentt"):
        sync(imap_account, store, folder_overrides={"sentt": "Sent"})


def test_gmail_is_scanned_through_all_mail_and_drafts() -> None:
    folders = [
        FolderInfo("INBOX"),
        FolderInfo("[Gmail]", flags=frozenset({"\\noselect"})),
        FolderInfo("[Gmail]/All Mail", flags=frozenset({"\\all"})),
        FolderInfo("[Gmail]/Drafts", flags=frozenset({"\\drafts"})),
        FolderInfo("[Gmail]/Sent Mail", flags=frozenset({"\\sent"})),
    ]

    plan, warnings = plan_folders(folders, gmail=True)

    assert plan == [
        PlannedFolder("[Gmail]/All Mail", FolderRole.ALL),
        PlannedFolder("[Gmail]/Drafts", FolderRole.DRAFTS),
    ]
    assert warnings == []


def test_gmail_with_all_mail_hidden_falls_back_to_the_usual_folders() -> None:
    folders = [FolderInfo("INBOX"), FolderInfo("[Gmail]/Sent Mail", flags=frozenset({"\\sent"}))]

    plan, warnings = plan_folders(folders, gmail=True)

    assert [p.role for p in plan] == [FolderRole.INBOX, FolderRole.SENT]
    assert "All Mail" in warnings[0]


def test_a_mailbox_without_a_sent_folder_is_reported() -> None:
    plan, warnings = plan_folders([FolderInfo("INBOX")])

    assert plan == [PlannedFolder("INBOX", FolderRole.INBOX)]
    assert "no Sent folder" in warnings[0]


# --- robustness ----------------------------------------------------------------------------


def stop_with_its_sessions(server: DovecotServer) -> None:
    """Stop Dovecot like a real restart does, open IMAP sessions included.

    DovecotServer.stop() ends the master only; the session processes it leaves
    would keep serving the client, so end them too (they share the master's
    process group, which is the master's PID).
    """
    group = server.pid
    server.stop()
    if group is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)


def test_a_server_restart_in_the_middle_of_a_sync_is_retried_without_duplicates(
    imap_account: ImapAccount, store: Store
) -> None:
    append_messages(imap_account, "INBOX", [plain_message(n) for n in range(60)])
    server = imap_account.server
    waits: list[float] = []

    def wait_and_bring_the_server_back(seconds: float) -> None:
        waits.append(seconds)
        server.start()  # the session-wide server must be up for the tests that follow

    report = sync(
        imap_account,
        store,
        settings=settings_for(imap_account, batch_size=10),
        progress=ActOnFirstBatch(lambda: stop_with_its_sessions(server)),
        sleep=wait_and_bring_the_server_back,
    )

    assert server.running
    assert report.retries >= 1
    assert waits
    assert report.folder("INBOX").fetched == 60
    assert store.count_messages() == 60
    assert len(store.folder_uids("INBOX")) == 60


def test_a_dropped_connection_mid_sync_is_retried_without_duplicates(
    imap_account: ImapAccount, store: Store
) -> None:
    append_messages(imap_account, "Sent", [plain_message(n) for n in range(30)])
    progress = ActOnFirstBatch(lambda: imap_account.server.kick(imap_account.username))

    report = sync(
        imap_account,
        store,
        settings=settings_for(imap_account, batch_size=10),
        progress=progress,
        sleep=lambda seconds: None,
    )

    assert report.retries >= 1
    assert (report.fetched, store.count_messages()) == (30, 30)
    assert progress.total == 30  # UIDs announced once, not again after the retry
    assert progress.done == 30


@pytest.mark.parametrize("disabled", EXTENSIONS.values(), ids=EXTENSIONS.keys())
def test_an_interrupted_incremental_sync_resumes_without_losing_messages(
    imap_account: ImapAccount, store: Store, disabled: frozenset[str]
) -> None:
    settings = settings_for(imap_account, batch_size=10, disabled_extensions=disabled)
    append_messages(imap_account, "INBOX", [plain_message(n) for n in range(5)])
    sync(imap_account, store, settings=settings)
    append_messages(imap_account, "INBOX", [plain_message(n) for n in range(5, 40)])
    kick = ActOnFirstBatch(lambda: imap_account.server.kick(imap_account.username))

    report = sync(imap_account, store, settings=settings, progress=kick, sleep=lambda s: None)

    assert report.retries >= 1
    assert report.folder("INBOX").fetched == 35
    assert len(store.folder_uids("INBOX")) == store.count_messages() == 40


def test_a_first_sync_interrupted_and_resumed_still_picks_up_later_flag_changes(
    imap_account: ImapAccount, store: Store
) -> None:
    uids = append_messages(imap_account, "Drafts", [plain_message(n) for n in range(25)])
    settings = settings_for(imap_account, batch_size=10)
    kick = ActOnFirstBatch(lambda: imap_account.server.kick(imap_account.username))
    sync(imap_account, store, settings=settings, progress=kick, sleep=lambda s: None)
    with connect(imap_account) as client:
        client.select_folder("Drafts")
        client.add_flags([uids[0]], [b"\\Answered"])

    report = sync(imap_account, store, settings=settings)

    assert report.folder("Drafts").changed == 1
    [location] = store.locations_of("msg-0@acme.example")
    assert "\\Answered" in location.flags


def test_a_rejected_password_is_not_retried(imap_account: ImapAccount, store: Store) -> None:
    waits: list[float] = []

    with pytest.raises(errors.CredentialError):
        sync_mailbox(
            store,
            settings=settings_for(imap_account),
            credentials=login_for(imap_account, "wrong"),
            retry=FAST_RETRY,
            sleep=waits.append,
        )
    assert waits == []


def test_a_server_that_stays_away_is_retried_a_bounded_number_of_times_with_growing_waits(
    store: Store,
) -> None:
    settings = ImapSettings("127.0.0.1", free_port(), "tls", "alex", timeout=5)
    waits: list[float] = []
    policy = RetryPolicy(attempts=4, initial_delay=0.1, multiplier=2, max_delay=10, jitter=0)

    with pytest.raises(errors.MailboxUnavailable):
        sync_mailbox(
            store,
            settings=settings,
            credentials=lambda: Credentials("alex", Secret("x"), AuthMechanism.PASSWORD),
            retry=policy,
            sleep=waits.append,
        )
    assert waits == pytest.approx([0.1, 0.2, 0.4])


def test_retry_delays_are_jittered_and_capped() -> None:
    policy = RetryPolicy(initial_delay=1, multiplier=3, max_delay=5, jitter=0.5)
    rng = random.Random(7)  # noqa: S311 (jitter, not secrets)

    delays = [policy.delay(n, rng=rng) for n in range(1, 6)]

    assert 0.5 <= delays[0] <= 1
    assert 1.5 <= delays[1] <= 3
    assert all(2.5 <= d <= 5 for d in delays[2:])
    assert len(set(delays)) == len(delays)


MALFORMED = {
    "garbled-2047": (
        b"From: =?utf-8?q?J=ZZane?= <jane@acme.example>\r\n"
        b"Subject: =?x-nope?B?!!!?= Interview =?utf-8?b?w6k?=\r\n"
        b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
        b"Message-ID: <garbled@acme.example>\r\n\r\nHello\r\n"
    ),
    "unknown-charset": (
        b"From: jane@acme.example\r\n"
        b"Subject: Offer\r\n"
        b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
        b"Message-ID: <charset@acme.example>\r\n"
        b'Content-Type: text/plain; charset="x-no-such-charset"\r\n\r\n'
        b"Caf\xe9 on Monday?\r\n"
    ),
    "8bit-headers": (
        b"From: J\xf6rg M\xfcller <joerg@acme.example>\r\n"
        b"Subject: Gr\xc3\xbc\xc3\x9fe aus Berlin\r\n"
        b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
        b"Message-ID: <eightbit@acme.example>\r\n\r\nHallo\r\n"
    ),
    "no-message-id": (
        b"From: jane@acme.example\r\nSubject: No id\r\n"
        b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n\r\nHello\r\n"
    ),
    "duplicate-id-a": (
        b"From: jane@acme.example\r\nSubject: Twin A\r\n"
        b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nMessage-ID: <twin@acme.example>\r\n\r\nA\r\n"
    ),
    "duplicate-id-b": (
        b"From: jane@acme.example\r\nSubject: Twin B\r\n"
        b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nMessage-ID: <twin@acme.example>\r\n\r\nB\r\n"
    ),
    "two-id-headers": (
        b"From: jane@acme.example\r\nSubject: Two ids\r\n"
        b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
        b"Message-ID: <first@acme.example>\r\nMessage-ID: <second@acme.example>\r\n\r\nB\r\n"
    ),
    "broken-date": (
        b"From: jane@acme.example\r\nSubject: When?\r\nDate: the day after tomorrow\r\n"
        b"Message-ID: <nodate@acme.example>\r\n\r\nSoon\r\n"
    ),
}


def test_malformed_messages_are_stored_with_one_warning_each(
    imap_account: ImapAccount, store: Store
) -> None:
    for raw in MALFORMED.values():
        append_message(imap_account, "INBOX", raw, internal_date=ARRIVED)

    report = sync(imap_account, store)

    assert report.fetched == len(MALFORMED)
    assert store.count_messages() == len(MALFORMED) - 1  # the twins share one Message-ID
    garbled = store.get_message("garbled@acme.example")
    assert garbled is not None
    assert "Interview" in garbled.subject
    eightbit = store.get_message("eightbit@acme.example")
    assert eightbit is not None
    assert eightbit.sender is not None
    assert eightbit.sender.email == "joerg@acme.example"
    assert store.get_message("first@acme.example") is not None
    dated = store.get_message("nodate@acme.example")
    assert dated is not None
    assert (dated.date, dated.date_is_fallback) == (ARRIVED, True)
    charset = store.get_message("charset@acme.example")
    assert charset is not None
    assert charset.snippet.startswith("Caf")
    warnings = "\n".join(report.warnings)
    assert "x-no-such-charset" in warnings
    assert "no usable Message-ID" in warnings
    assert "nodate@acme.example" in warnings
    assert sum("charset@acme.example" in w for w in report.warnings) == 1


def test_a_scan_marks_nothing_read(imap_account: ImapAccount, store: Store) -> None:
    uids = append_messages(
        imap_account, "INBOX", [plain_message(1), WITH_ATTACHMENT, MALFORMED["broken-date"]]
    )

    sync(imap_account, store)

    with connect(imap_account) as client:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(uids)
    assert len(flags) == 3
    assert all(b"\\Seen" not in f for f in flags.values())


def test_progress_hears_the_total_and_every_batch(imap_account: ImapAccount, store: Store) -> None:
    append_messages(imap_account, "INBOX", [plain_message(n) for n in range(25)])
    progress = ActOnFirstBatch(lambda: None)

    sync(imap_account, store, settings=settings_for(imap_account, batch_size=10), progress=progress)

    assert (progress.total, progress.done) == (25, 25)


def test_imap_settings_and_folder_overrides_come_from_the_configuration() -> None:
    config = parse_config(
        {
            "account": {
                "name": "Alex Doe",
                "address": "alex@example.org",
                "imap": {"host": "127.0.0.1", "security": "none", "allow_insecure": True},
                "smtp": {"host": "smtp.example.org"},
            },
            "folders": {"sent": "Outbox", "all_mail": "[Gmail]/All Mail"},
        }
    )

    settings = imap_settings_from_config(config)

    assert (settings.host, settings.port, settings.security) == ("127.0.0.1", 143, "none")
    assert (settings.username, settings.allow_insecure) == ("alex@example.org", True)
    assert folder_overrides_from_config(config) == {"sent": "Outbox", "all": "[Gmail]/All Mail"}


def test_a_folder_with_a_non_ascii_name_is_synced_and_then_seen_unchanged(
    imap_account: ImapAccount, store: Store
) -> None:
    name = "Bewerbungen ✓/Entwürfe"
    with connect(imap_account) as client:
        client.create_folder(name)
    append_message(imap_account, name, plain_message(1))

    first = sync(imap_account, store, extra_folders=[name])
    second = sync(imap_account, store, extra_folders=[name])

    assert first.folder(name).fetched == 1
    assert first.folder(name).role is FolderRole.DRAFTS  # "Entwürfe" is German for drafts
    assert second.folder(name).unchanged
