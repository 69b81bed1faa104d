"""The SQLite store: files, transactions, messages, drafts and their history."""

from __future__ import annotations

import dataclasses
import os
import random
import selectors
import signal
import sqlite3
import string
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailfollow.adapters.store import (
    HANDLED_MESSAGE_FIELDS,
    ConversationRow,
    DraftConflictError,
    DraftEditRefusedError,
    FolderState,
    Store,
)
from mailfollow.core.approval import ACTIVE, TransitionError, can_transition
from mailfollow.errors import StoreError
from mailfollow.model import (
    Address,
    Classification,
    ClassifiedMessage,
    Conversation,
    Draft,
    FolderRole,
    Message,
    OutgoingKind,
    QueueState,
    Stage,
    State,
    Verdict,
)
from tests.factories import ME, NOW, make_message

Q = QueueState
INBOX = FolderState("INBOX", FolderRole.INBOX, uidvalidity=1, last_uid=0)
JANE = Address("jane@acme.example", "Jane Smith")

# A way to bring a fresh draft into each status.
PATHS: dict[QueueState, tuple[QueueState, ...]] = {
    Q.PENDING: (),
    Q.APPROVED: (Q.APPROVED,),
    Q.SENDING: (Q.APPROVED, Q.SENDING),
    Q.SENT: (Q.APPROVED, Q.SENDING, Q.SENT),
    Q.UNCONFIRMED: (Q.APPROVED, Q.SENDING, Q.UNCONFIRMED),
    Q.FAILED: (Q.APPROVED, Q.SENDING, Q.FAILED),
    Q.SKIPPED: (Q.SKIPPED,),
    Q.SNOOZED: (Q.SNOOZED,),
    Q.WITHDRAWN: (Q.WITHDRAWN,),
}


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.memory() as opened:
        yield opened


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "mailfollow" / "state.db"


def make_draft(conversation_id: str = "conv-1", number: int = 1, **changes: object) -> Draft:
    draft = Draft(
        conversation_id=conversation_id,
        mailfollow_id=f"mf-{conversation_id}-{number}",
        message_id=f"nudge-{conversation_id}-{number}@example.org",
        sender=ME,
        to=JANE,
        subject="Re: Application: Backend Engineer",
        in_reply_to="m1@test.example",
        references=("m0@test.example", "m1@test.example"),
        body="Hello Jane,\n\nI wanted to follow up on my application.\n\nAlex",
        created_at=NOW,
        nudge_number=number,
    )
    return dataclasses.replace(draft, **changes)  # type: ignore[arg-type]


def move(store: Store, draft_id: int, path: tuple[QueueState, ...]) -> None:
    for step in path:
        until = NOW + timedelta(days=3) if step is Q.SNOOZED else None
        store.transition(draft_id, step, at=NOW, reason=f"to {step}", snooze_until=until)


def uids_and_messages(
    first_uid: int, count: int, folder_role: FolderRole = FolderRole.INBOX
) -> list[tuple[int, Message, int | None]]:
    return [
        (uid, make_message(message_id=f"msg{uid}@test.example", folder_role=folder_role), None)
        for uid in range(first_uid, first_uid + count)
    ]


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777


# --- files ------------------------------------------------------------------


def test_opening_creates_a_private_directory_and_database_file(db: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        with Store.open(db) as store:
            store.set_meta("last_poll", "ok")
            assert mode_of(db.parent) == 0o700
            assert mode_of(db) == 0o600
            for suffix in ("-wal", "-shm"):
                sidecar = db.with_name(db.name + suffix)
                assert sidecar.exists()
                assert mode_of(sidecar) == 0o600
    finally:
        os.umask(old_umask)


def test_an_existing_readable_database_file_is_made_private(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.touch(mode=0o644)
    db.chmod(0o644)
    Store.open(db).close()
    assert mode_of(db) == 0o600


def test_the_database_uses_wal_and_enforces_foreign_keys(db: Path) -> None:
    with Store.open(db) as store:
        assert store._one("PRAGMA journal_mode")[0] == "wal"
        assert store._one("PRAGMA foreign_keys")[0] == 1
        with pytest.raises(StoreError, match="FOREIGN KEY"):
            store._run("INSERT INTO locations (folder, uid, message) VALUES ('nowhere', 1, 99)")


def test_writes_that_can_be_fetched_again_skip_the_flush_and_nothing_else_does(
    db: Path,
) -> None:
    full, normal = 2, 1
    with Store.open(db) as store:
        assert store._one("PRAGMA synchronous")[0] == full
        with store.mirror_writes():
            assert store._one("PRAGMA synchronous")[0] == normal
            store.store_messages("INBOX", uids_and_messages(1, 2))
        assert store._one("PRAGMA synchronous")[0] == full
        refused = pytest.raises(StoreError, match="inside a transaction")
        with store.transaction(), refused, store.mirror_writes():
            pass
    with Store.open(db) as reopened:
        assert reopened.count_messages() == 2


def read_locked_rollback_journal_database(db: Path) -> sqlite3.Connection:
    """A database not yet in WAL mode that another connection is reading."""
    db.parent.mkdir(parents=True)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN")
    holder.execute("SELECT * FROM other").fetchall()
    return holder


def test_switching_to_wal_waits_for_another_connection_to_finish(db: Path) -> None:
    holder = read_locked_rollback_journal_database(db)
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        with Store.open(db, busy_timeout=10) as store:
            assert store._one("PRAGMA journal_mode")[0] == "wal"
    finally:
        release.join()
        holder.close()


def test_switching_to_wal_gives_up_after_the_busy_timeout(db: Path) -> None:
    holder = read_locked_rollback_journal_database(db)
    try:
        with pytest.raises(StoreError, match="locked"):
            Store.open(db, busy_timeout=0.2)
    finally:
        holder.close()


def test_a_file_that_is_not_a_database_is_a_store_error(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a database") as caught:
        Store.open(db)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_a_closed_store_reports_a_store_error(db: Path) -> None:
    with Store.open(db) as store:
        store.set_meta("k", "v")
    with pytest.raises(StoreError, match="closed"):
        store.get_meta("k")


def test_a_directory_where_the_database_should_be_is_a_store_error(db: Path) -> None:
    db.mkdir(parents=True)
    with pytest.raises(StoreError, match="cannot create database"):
        Store.open(db)


def test_a_database_locked_by_another_writer_is_a_store_error_after_the_timeout(db: Path) -> None:
    with Store.open(db) as holder, Store.open(db, busy_timeout=0.05) as waiter:
        with holder.transaction():
            holder.set_meta("held", "yes")
            with pytest.raises(StoreError, match="locked") as caught:
                waiter.set_meta("other", "no")
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert waiter.get_meta("held") == "yes"
        assert waiter.get_meta("other") is None


# --- transactions -----------------------------------------------------------


def test_messages_and_folder_state_are_saved_together_or_not_at_all(store: Store) -> None:
    state = dataclasses.replace(INBOX, last_uid=3)

    def write_then_crash() -> None:
        with store.transaction():
            store.store_messages("INBOX", uids_and_messages(1, 3), folder_state=state)
            raise RuntimeError("crash after the write, before the commit")

    with pytest.raises(RuntimeError, match="crash"):
        write_then_crash()
    assert store.count_messages() == 0
    assert store.get_folder_state("INBOX") is None

    assert store.store_messages("INBOX", uids_and_messages(1, 3), folder_state=state) == 3
    assert store.count_messages() == 3
    assert store.get_folder_state("INBOX") == state


def test_an_inner_failure_rolls_back_only_the_inner_part(store: Store) -> None:

    def inner_part() -> None:
        with store.transaction():
            store.set_meta("inner", "dropped")
            raise KeyError("inner")

    with store.transaction():
        store.set_meta("outer", "kept")
        with pytest.raises(KeyError):
            inner_part()
    assert store.get_meta("outer") == "kept"
    assert store.get_meta("inner") is None


def test_a_folder_state_for_another_folder_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="folder state for 'INBOX'"):
        store.store_messages("Sent", uids_and_messages(1, 1), folder_state=INBOX)
    assert store.count_messages() == 0


# --- folders and messages ---------------------------------------------------


def test_storing_the_same_batch_twice_adds_nothing_the_second_time(store: Store) -> None:
    batch = uids_and_messages(1, 5)
    assert store.store_messages("INBOX", batch) == 5
    assert store.store_messages("INBOX", batch) == 0
    assert store.count_messages() == 5
    assert store.folder_uids("INBOX") == {uid: f"msg{uid}@test.example" for uid in range(1, 6)}


def test_a_message_reads_back_exactly_as_stored(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    message = Message(
        message_id="full@test.example",
        subject="Entretien \u2013 suivi",
        date=datetime(2026, 3, 2, 14, 30, 5, tzinfo=paris),
        sender=Address("jane@acme.example", "Jane Smith"),
        to=(ME, Address("hr@acme.example")),
        cc=(Address("boss@acme.example", "Boss, The"),),
        reply_to=(Address("jobs@acme.example"),),
        in_reply_to=("a@x",),
        references=("root@x", "a@x"),
        headers={"auto-submitted": "no", "list-id": "<jobs.acme.example>"},
        content_type="multipart/mixed",
        attachment_names=("cv.pdf",),
        part_types=("text/plain", "application/pdf"),
        snippet="Merci pour votre candidature. " * 40,
        folder="INBOX",
        folder_role=FolderRole.INBOX,
        flags=frozenset({"\\Seen", "$Label1"}),
        gm_thread_id="1789",
        date_is_fallback=True,
        id_is_synthetic=True,
        problems=("bad charset in part 2",),
    )
    store.store_messages("INBOX", [(7, message, 42)], folder_state=INBOX)
    loaded = store.get_message("full@test.example")
    assert loaded == message
    assert loaded is not None
    assert loaded.date.utcoffset() == timedelta(hours=1)
    assert store.load_messages() == [message]


def test_a_sparse_message_reads_back_with_its_defaults(store: Store) -> None:
    message = Message("bare@x", "", NOW, None, folder="INBOX", folder_role=FolderRole.INBOX)
    store.store_messages("INBOX", [(1, message, None)])
    assert store.get_message("bare@x") == message


def test_every_message_field_is_kept_somewhere() -> None:
    assert {f.name for f in dataclasses.fields(Message)} == HANDLED_MESSAGE_FIELDS


def test_long_message_data_is_compressed_and_short_data_stays_readable(store: Store) -> None:
    long = make_message(message_id="long@x", sender=JANE, snippet="Thanks for applying. " * 70)
    short = Message("short@x", "Hi", NOW, None, folder="INBOX", folder_role=FolderRole.INBOX)
    store.store_messages("INBOX", [(1, long, None), (2, short, None)])
    rows = store._all("SELECT message_id, typeof(data) FROM messages")
    kinds = {row[0]: row[1] for row in rows}
    assert kinds == {"long@x": "blob", "short@x": "text"}
    assert store.get_message("long@x") == long
    assert store.get_message("short@x") == short


def test_reset_folder_forgets_uids_but_keeps_messages(store: Store) -> None:
    store.store_messages(
        "INBOX",
        uids_and_messages(1, 3),
        folder_state=dataclasses.replace(INBOX, last_uid=3, highest_modseq=77),
    )
    store.reset_folder("INBOX", 2)
    assert store.folder_uids("INBOX") == {}
    assert store.count_messages() == 3
    assert store.get_folder_state("INBOX") == FolderState("INBOX", FolderRole.INBOX, 2, 0, None)


def test_resetting_an_unknown_folder_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="not known"):
        store.reset_folder("Nowhere", 5)


def test_a_new_uidvalidity_is_refused_while_old_uids_are_recorded(store: Store) -> None:
    store.store_messages("INBOX", uids_and_messages(1, 2), folder_state=INBOX)
    with pytest.raises(StoreError, match="reset the folder"):
        store.save_folder_state(dataclasses.replace(INBOX, uidvalidity=9))
    store.reset_folder("INBOX", 9)
    store.save_folder_state(dataclasses.replace(INBOX, uidvalidity=9, last_uid=1))
    assert store.get_folder_state("INBOX") == dataclasses.replace(INBOX, uidvalidity=9, last_uid=1)


def test_folder_states_are_listed_by_name(store: Store) -> None:
    sent = FolderState("Sent", FolderRole.SENT, 3, 10, 5, synced_at=NOW)
    store.save_folder_state(sent)
    store.save_folder_state(INBOX)
    assert store.folder_states() == [INBOX, sent]


def test_a_message_in_several_folders_is_loaded_once_from_the_preferred_folder(
    store: Store,
) -> None:
    message = make_message(message_id="reply@x", folder_role=FolderRole.INBOX)
    all_mail = FolderState("[Gmail]/All Mail", FolderRole.ALL, 1)
    store.save_folder_state(all_mail)
    seen = dataclasses.replace(message, flags=frozenset({"\\Seen"}))
    flagged = dataclasses.replace(message, flags=frozenset({"\\Flagged"}))
    store.store_messages("[Gmail]/All Mail", [(40, flagged, None)])
    store.store_messages("INBOX", [(4, seen, None)], folder_state=INBOX)

    [loaded] = store.load_messages()
    assert (loaded.folder, loaded.folder_role) == ("INBOX", FolderRole.INBOX)
    assert loaded.flags == {"\\Seen", "\\Flagged"}
    assert [(loc.folder, loc.uid) for loc in store.locations_of("reply@x")] == [
        ("INBOX", 4),
        ("[Gmail]/All Mail", 40),
    ]


def test_a_sent_copy_speaks_for_the_message_over_every_other_folder(store: Store) -> None:
    message = make_message(message_id="mine@x", sender=ME)
    for name, role in [("Drafts", FolderRole.DRAFTS), ("Sent", FolderRole.SENT)]:
        store.save_folder_state(FolderState(name, role, 1))
        store.store_messages(name, [(1, message, None)])
    assert store.get_message("mine@x").folder_role is FolderRole.SENT  # type: ignore[union-attr]


def test_a_gmail_draft_also_in_all_mail_still_loads_as_a_draft(store: Store) -> None:
    # Gmail lists each draft in All Mail too, without the \\Draft flag.
    message = make_message(message_id="draft@x", sender=ME)
    for name, role in [("[Gmail]/All Mail", FolderRole.ALL), ("[Gmail]/Drafts", FolderRole.DRAFTS)]:
        store.save_folder_state(FolderState(name, role, 1))
        store.store_messages(name, [(7, message, None)])
    [loaded] = store.load_messages()
    assert loaded.folder_role is FolderRole.DRAFTS


def test_two_copies_of_one_message_in_a_batch_make_one_message_in_two_places(
    store: Store,
) -> None:
    first = make_message(message_id="twice@x", snippet="first copy")
    second = dataclasses.replace(first, snippet="second copy")

    created = store.store_messages("INBOX", [(1, first, None), (2, second, 5)])

    assert created == 1
    assert store.count_messages() == 1
    assert store.folder_uids("INBOX") == {1: "twice@x", 2: "twice@x"}
    stored = store.get_message("twice@x")
    assert stored is not None
    assert stored.snippet == "second copy"  # the later copy wins, as a second store would


def test_a_batch_mixing_known_and_new_messages_counts_only_the_new(store: Store) -> None:
    store.store_messages("INBOX", uids_and_messages(1, 3))
    changed = dataclasses.replace(uids_and_messages(2, 1)[0][1], snippet="edited")

    created = store.store_messages("INBOX", [*uids_and_messages(4, 2), (2, changed, None)])

    assert created == 2
    assert store.count_messages() == 5
    stored = store.get_message("msg2@test.example")
    assert stored is not None
    assert stored.snippet == "edited"


def test_a_copy_from_a_better_folder_replaces_the_stored_one_but_not_the_reverse(
    store: Store,
) -> None:
    draft_copy = make_message(message_id="d@x", sender=ME, snippet="draft text")
    sent_copy = dataclasses.replace(draft_copy, snippet="final text")
    trash_copy = dataclasses.replace(draft_copy, snippet="trash text")
    for name, role in [("Drafts", FolderRole.DRAFTS), ("Sent", FolderRole.SENT)]:
        store.save_folder_state(FolderState(name, role, 1))
    store.save_folder_state(FolderState("Trash", FolderRole.TRASH, 1))
    store.store_messages("Drafts", [(1, draft_copy, None)])
    store.store_messages("Sent", [(1, sent_copy, None)])
    store.store_messages("Trash", [(1, trash_copy, None)])
    store.remove_locations("Sent", [1])
    store.remove_locations("Trash", [1])
    store.remove_locations("Drafts", [1])
    gone = store.get_message("d@x")
    assert gone is not None
    assert gone.snippet == "final text"
    assert (gone.folder, gone.folder_role, gone.flags) == ("Sent", FolderRole.SENT, frozenset())


def test_a_copy_without_its_text_never_replaces_one_with_it(store: Store) -> None:
    full = make_message(message_id="t@x", snippet="We would like to invite you")
    bare = dataclasses.replace(full, snippet="", text_deferred=True)
    store.store_messages("INBOX", [(1, full, None)])

    store.store_messages("INBOX", [(1, bare, None)])  # e.g. a later resync of the folder

    stored = store.get_message("t@x")
    assert stored is not None
    assert (stored.snippet, stored.text_deferred) == ("We would like to invite you", False)


def test_a_copy_with_its_text_fills_in_a_deferred_one_from_any_folder(store: Store) -> None:
    full = make_message(message_id="t@x", sender=ME, snippet="My application")
    bare = dataclasses.replace(full, snippet="", text_deferred=True)
    store.save_folder_state(FolderState("Sent", FolderRole.SENT, 1))
    store.save_folder_state(FolderState("Trash", FolderRole.TRASH, 1))
    store.store_messages("Sent", [(1, bare, None)])
    assert store.get_message("t@x") == dataclasses.replace(
        bare, folder="Sent", folder_role=FolderRole.SENT
    )

    store.store_messages("Trash", [(7, full, None)])  # a worse folder, but it has the text
    store.remove_locations("Trash", [7])
    store.remove_locations("Sent", [1])

    stored = store.get_message("t@x")
    assert stored is not None
    assert (stored.snippet, stored.text_deferred) == ("My application", False)
    assert (stored.folder, stored.folder_role) == ("Sent", FolderRole.SENT)


def test_a_draft_that_vanished_from_drafts_stays_a_draft_and_has_no_location(
    store: Store,
) -> None:
    store.save_folder_state(FolderState("Drafts", FolderRole.DRAFTS, 1))
    store.store_messages("Drafts", [(5, make_message(message_id="unsent@x", sender=ME), None)])
    assert store.remove_locations("Drafts", [5, 6]) == 1
    assert store.locations_of("unsent@x") == []
    assert store.get_message("unsent@x").folder_role is FolderRole.DRAFTS  # type: ignore[union-attr]
    assert [m.message_id for m in store.load_messages()] == ["unsent@x"]


def test_a_folder_seen_first_gets_its_role_from_the_messages(store: Store) -> None:
    store.store_messages("Sent Items", uids_and_messages(1, 1, FolderRole.SENT))
    assert store.get_folder_state("Sent Items") == FolderState("Sent Items", FolderRole.SENT, None)


def test_flag_changes_apply_to_known_uids_only(store: Store) -> None:
    store.store_messages("INBOX", uids_and_messages(1, 2), folder_state=INBOX)
    state = dataclasses.replace(INBOX, highest_modseq=9)
    changed = store.update_flags(
        "INBOX", [(1, frozenset({"\\Answered"}), 9), (99, frozenset(), 9)], folder_state=state
    )
    assert changed == 1
    assert store.locations_of("msg1@test.example")[0].flags == {"\\Answered"}
    assert store.locations_of("msg1@test.example")[0].modseq == 9
    assert store.get_folder_state("INBOX") == state


def test_loading_since_a_date_skips_older_messages(store: Store) -> None:
    old = make_message(message_id="old@x", days_ago=200)
    recent = make_message(message_id="recent@x", days_ago=3)
    store.store_messages("INBOX", [(1, old, None), (2, recent, None)])
    assert [m.message_id for m in store.load_messages(since=NOW - timedelta(days=120))] == [
        "recent@x"
    ]
    assert [m.message_id for m in store.load_messages()] == ["old@x", "recent@x"]


def test_find_message_ids_answers_which_ids_are_known(store: Store) -> None:
    store.store_messages("INBOX", uids_and_messages(1, 3))
    assert store.find_message_ids(["msg2@test.example", "nope@x", "msg3@test.example"]) == {
        "msg2@test.example",
        "msg3@test.example",
    }
    assert store.find_message_ids([]) == set()


def test_a_naive_datetime_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        store.add_correction("ignore", "spam.example", at=datetime(2026, 1, 1))


# --- corrections, snapshot, meta ---------------------------------------------


def test_corrections_are_kept_in_order(store: Store) -> None:
    store.add_correction("track", "jane@acme.example", stage=Stage.NETWORKING, at=NOW)
    store.add_correction("ignore", "newsletter.example", at=NOW + timedelta(hours=1))
    kept = store.corrections()
    assert [(c.kind, c.target, c.stage) for c in kept] == [
        ("track", "jane@acme.example", Stage.NETWORKING),
        ("ignore", "newsletter.example", None),
    ]
    assert kept[1].created_at == NOW + timedelta(hours=1)
    assert kept[1].created_at.tzinfo is not None


def test_an_unknown_correction_kind_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="'track' or 'ignore'"):
        store.add_correction("mute", "x", at=NOW)  # type: ignore[arg-type]


def conversation(conversation_id: str, subject: str) -> Conversation:
    sent = make_message(message_id=f"{conversation_id}@x", sender=ME)
    return Conversation(
        id=conversation_id,
        stage=Stage.APPLICATION,
        counterpart=JANE,
        company="Acme",
        subject=subject,
        messages=(
            ClassifiedMessage(
                sent, Classification("application.cv", "sent a CV", OutgoingKind.APPLICATION), True
            ),
        ),
    )


def test_a_snapshot_replaces_the_previous_one(store: Store) -> None:
    first = Verdict("c1", State.WAITING, NOW + timedelta(days=2), ("waiting 5 of 7 days",))
    store.save_snapshot([(first, conversation("c1", "Backend"))], at=NOW)
    due = Verdict("c2", State.DUE, NOW, ("silent for 8 days",), last_sent_at=NOW)
    never = Verdict("c3", State.REPLIED, None, ("Jane replied",), last_reply_at=NOW)
    later = NOW + timedelta(hours=1)
    store.save_snapshot(
        [(never, conversation("c3", "Data")), (due, conversation("c2", "Ops"))], at=later
    )
    assert store.snapshot() == [
        ConversationRow(
            "c2", Stage.APPLICATION, State.DUE, JANE, "Acme", "Ops", NOW, NOW, None, 0,
            ("c2@x",), ("silent for 8 days",), later,
        ),
        ConversationRow(
            "c3", Stage.APPLICATION, State.REPLIED, JANE, "Acme", "Data", None, None, NOW, 0,
            ("c3@x",), ("Jane replied",), later,
        ),
    ]  # fmt: skip


def test_a_verdict_paired_with_the_wrong_conversation_is_refused(store: Store) -> None:
    verdict = Verdict("c1", State.WAITING, None, ())
    with pytest.raises(ValueError, match="paired with conversation c2"):
        store.save_snapshot([(verdict, conversation("c2", "x"))], at=NOW)


def test_meta_values_can_be_set_replaced_and_removed(store: Store) -> None:
    assert store.get_meta("last_error") is None
    store.set_meta("last_error", "timeout")
    store.set_meta("last_error", "refused")
    assert store.get_meta("last_error") == "refused"
    store.set_meta("last_error", None)
    assert store.get_meta("last_error") is None


# --- drafts -----------------------------------------------------------------


def test_a_new_draft_is_pending_with_a_first_history_line(store: Store) -> None:
    draft = make_draft()
    record = store.add_draft(draft, at=NOW)
    assert record.status is Q.PENDING
    assert record.to_draft() == draft
    assert store.get_draft(record.id) == record
    assert store.get_draft_by_mailfollow_id(draft.mailfollow_id) == record
    assert store.get_draft_by_message_id(draft.message_id) == record
    assert store.get_draft(record.id + 1) is None
    [event] = store.history(record.id)
    assert (event.from_status, event.to_status, event.reason, event.at) == (
        None,
        Q.PENDING,
        "drafted",
        NOW,
    )


@pytest.mark.parametrize("first_state", list(Q))
def test_a_second_draft_is_refused_while_the_first_is_active(
    store: Store, first_state: QueueState
) -> None:
    first = store.add_draft(make_draft(number=1), at=NOW)
    move(store, first.id, PATHS[first_state])
    second = make_draft(number=2)
    if first_state in ACTIVE:
        with pytest.raises(DraftConflictError, match=f"already has draft {first.id}"):
            store.add_draft(second, at=NOW)
        assert len(store.list_drafts()) == 1
    else:
        assert store.add_draft(second, at=NOW).status is Q.PENDING


def test_a_failed_draft_cannot_come_back_while_a_newer_one_is_active(store: Store) -> None:
    failed = store.add_draft(make_draft(number=1), at=NOW)
    move(store, failed.id, PATHS[Q.FAILED])
    store.add_draft(make_draft(number=2), at=NOW)
    with pytest.raises(DraftConflictError, match="already has draft"):
        store.transition(failed.id, Q.APPROVED, at=NOW, reason="retry")
    assert store.get_draft(failed.id).status is Q.FAILED  # type: ignore[union-attr]


def test_a_draft_reusing_a_mailfollow_id_is_refused(store: Store) -> None:
    store.add_draft(make_draft("c1"), at=NOW)
    with pytest.raises(StoreError, match="UNIQUE"):
        store.add_draft(make_draft("c2", mailfollow_id="mf-c1-1"), at=NOW)


def test_a_refused_transition_changes_nothing(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    with pytest.raises(TransitionError, match="pending draft cannot become sending"):
        store.transition(record.id, Q.SENDING, at=NOW, reason="skip the approval")
    assert store.get_draft(record.id) == record
    assert len(store.history(record.id)) == 1


def test_a_sent_draft_stays_sent(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    move(store, record.id, PATHS[Q.SENT])
    for target in Q:
        until = NOW if target is Q.SNOOZED else None
        with pytest.raises(TransitionError, match="final"):
            store.transition(record.id, target, at=NOW, reason="again", snooze_until=until)


def test_approval_time_is_set_on_approval_and_cleared_on_unapproval(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    later = NOW + timedelta(minutes=5)
    approved = store.transition(record.id, Q.APPROVED, at=later, reason="user approved")
    assert approved.approved_at == later
    assert approved.updated_at == later
    back = store.transition(record.id, Q.PENDING, at=later, reason="user un-approved")
    assert back.approved_at is None


def test_sent_time_defaults_to_the_transition_time(store: Store) -> None:
    a = store.add_draft(make_draft("a"), at=NOW)
    b = store.add_draft(make_draft("b"), at=NOW)
    move(store, a.id, PATHS[Q.SENDING])
    move(store, b.id, PATHS[Q.UNCONFIRMED])
    seen_in_sent = NOW - timedelta(minutes=1)
    assert store.transition(a.id, Q.SENT, at=NOW, reason="smtp ok").sent_at == NOW
    confirmed = store.transition(b.id, Q.SENT, at=NOW, reason="in Sent", sent_at=seen_in_sent)
    assert confirmed.sent_at == seen_in_sent


def test_snoozing_needs_a_time_which_is_cleared_on_waking(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    with pytest.raises(ValueError, match="snooze_until"):
        store.transition(record.id, Q.SNOOZED, at=NOW, reason="later")
    with pytest.raises(ValueError, match="snooze_until"):
        store.transition(record.id, Q.APPROVED, at=NOW, reason="x", snooze_until=NOW)
    until = NOW + timedelta(days=2)
    snoozed = store.transition(record.id, Q.SNOOZED, at=NOW, reason="later", snooze_until=until)
    assert snoozed.snooze_until == until
    assert store.transition(record.id, Q.PENDING, at=until, reason="woke").snooze_until is None


def test_an_error_describes_the_current_status_only(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    move(store, record.id, (Q.APPROVED, Q.SENDING))
    failed = store.transition(
        record.id, Q.FAILED, at=NOW, reason="smtp 550", error="550 mailbox unavailable"
    )
    assert failed.error == "550 mailbox unavailable"
    assert store.transition(record.id, Q.APPROVED, at=NOW, reason="retry").error is None


def test_sent_at_is_only_for_sent(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    with pytest.raises(ValueError, match="sent_at"):
        store.transition(record.id, Q.APPROVED, at=NOW, reason="x", sent_at=NOW)


def test_an_unknown_draft_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no draft with id 41"):
        store.transition(41, Q.APPROVED, at=NOW, reason="x")
    with pytest.raises(StoreError, match="no draft with id 41"):
        store.set_draft_imap_location(41, "Drafts", 3)


def test_expected_status_guards_against_a_stale_view(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    store.transition(record.id, Q.SKIPPED, at=NOW, reason="user skipped")
    with pytest.raises(DraftConflictError, match="is skipped, not pending"):
        store.transition(record.id, Q.APPROVED, at=NOW, reason="approve", expected=Q.PENDING)


def test_two_processes_cannot_both_approve_and_send_one_draft(db: Path) -> None:
    with Store.open(db) as first, Store.open(db) as second:
        draft_id = first.add_draft(make_draft(), at=NOW).id
        # Both saw it pending.
        first.transition(draft_id, Q.APPROVED, at=NOW, reason="a", expected=Q.PENDING)
        with pytest.raises(DraftConflictError):
            second.transition(draft_id, Q.APPROVED, at=NOW, reason="b", expected=Q.PENDING)
        # Both saw it approved.
        second.transition(draft_id, Q.SENDING, at=NOW, reason="b sends", expected=Q.APPROVED)
        with pytest.raises(DraftConflictError):
            first.transition(draft_id, Q.SENDING, at=NOW, reason="a sends", expected=Q.APPROVED)
        assert [e.reason for e in first.history(draft_id)] == ["drafted", "a", "b sends"]


def test_of_many_concurrent_senders_exactly_one_marks_the_draft_sending(db: Path) -> None:
    with Store.open(db) as setup:
        draft_id = setup.add_draft(make_draft(), at=NOW).id
        setup.transition(draft_id, Q.APPROVED, at=NOW, reason="approved")
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def try_to_send(name: str) -> None:
        with Store.open(db) as mine:
            barrier.wait(timeout=10)
            try:
                mine.transition(draft_id, Q.SENDING, at=NOW, reason=name, expected=Q.APPROVED)
                outcomes.append("won")
            except (DraftConflictError, TransitionError):
                outcomes.append("lost")

    threads = [threading.Thread(target=try_to_send, args=(f"t{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["lost"] * 5 + ["won"]
    with Store.open(db) as check:
        assert [e.to_status for e in check.history(draft_id)].count(Q.SENDING) == 1


def test_a_user_edited_body_is_never_overwritten_by_mailfollow(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    store.update_draft_body(record.id, "machine v2", at=NOW, user_edited=False, reason="rerender")
    edited = store.update_draft_body(
        record.id, "my words", at=NOW, user_edited=True, reason="edited in Drafts"
    )
    assert (edited.body, edited.user_edited) == ("my words", True)
    with pytest.raises(DraftEditRefusedError, match="edited by the user"):
        store.update_draft_body(record.id, "machine v3", at=NOW, user_edited=False, reason="x")
    again = store.update_draft_body(
        record.id, "my words, again", at=NOW, user_edited=True, reason="edited again"
    )
    assert (again.body, again.user_edited) == ("my words, again", True)
    assert [e.reason for e in store.history(record.id)][1:] == [
        "rerender",
        "edited in Drafts",
        "edited again",
    ]


def test_the_body_is_frozen_once_sending_starts(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    move(store, record.id, PATHS[Q.SENDING])
    with pytest.raises(DraftEditRefusedError, match="can no longer change"):
        store.update_draft_body(record.id, "late edit", at=NOW, user_edited=True, reason="x")
    assert store.get_draft(record.id).body == record.body  # type: ignore[union-attr]


def test_history_records_every_step_with_its_reason(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    steps = [(Q.APPROVED, "user approved"), (Q.SENDING, "batch 3"), (Q.SENT, "250 ok")]
    for offset, (state, reason) in enumerate(steps, start=1):
        store.transition(record.id, state, at=NOW + timedelta(minutes=offset), reason=reason)
    assert [(e.from_status, e.to_status, e.reason) for e in store.history(record.id)] == [
        (None, Q.PENDING, "drafted"),
        (Q.PENDING, Q.APPROVED, "user approved"),
        (Q.APPROVED, Q.SENDING, "batch 3"),
        (Q.SENDING, Q.SENT, "250 ok"),
    ]
    assert store.history(record.id)[-1].at == NOW + timedelta(minutes=3)


def test_drafts_are_listed_by_status_and_conversation(store: Store) -> None:
    a = store.add_draft(make_draft("a"), at=NOW)
    b = store.add_draft(make_draft("b"), at=NOW)
    store.transition(b.id, Q.SKIPPED, at=NOW, reason="no")
    assert [d.id for d in store.list_drafts()] == [a.id, b.id]
    assert [d.id for d in store.list_drafts([Q.PENDING, Q.APPROVED])] == [a.id]
    assert store.list_drafts([]) == []
    assert [d.id for d in store.list_drafts(conversation_id="b")] == [b.id]
    assert store.active_draft("a") == store.get_draft(a.id)
    assert store.active_draft("b") is None


def test_the_imap_copy_of_a_draft_is_remembered(store: Store) -> None:
    record = store.add_draft(make_draft(), at=NOW)
    store.set_draft_imap_location(record.id, "Drafts", 12)
    found = store.get_draft(record.id)
    assert found is not None
    assert (found.imap_folder, found.imap_uid) == ("Drafts", 12)


def test_sent_and_possibly_sent_drafts_count_towards_caps(store: Store) -> None:
    hour_ago = NOW - timedelta(hours=1)
    yesterday = NOW - timedelta(days=1)
    sent_old = store.add_draft(make_draft("old"), at=yesterday)
    move(store, sent_old.id, PATHS[Q.SENDING])
    store.transition(sent_old.id, Q.SENT, at=yesterday, reason="ok")
    for name, state in [("s", Q.SENT), ("u", Q.UNCONFIRMED), ("g", Q.SENDING), ("f", Q.FAILED)]:
        record = store.add_draft(make_draft(name, to=Address(f"{name}@acme.example")), at=NOW)
        move(store, record.id, PATHS[state])
    pending_back = store.add_draft(make_draft("p"), at=NOW)
    move(store, pending_back.id, (Q.APPROVED, Q.SENDING, Q.PENDING))

    assert store.count_sent_since(hour_ago) == 3
    assert store.count_sent_since(yesterday) == 4
    assert store.count_sent_since(hour_ago, recipient="u@acme.example") == 1
    assert store.count_sent_since(hour_ago, recipient="f@acme.example") == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list(Q)), max_size=25))
def test_random_status_changes_follow_the_table_and_the_history_tells_them(
    attempts: list[QueueState],
) -> None:
    with Store.memory() as store:
        draft_id = store.add_draft(make_draft(), at=NOW).id
        state, taken = Q.PENDING, []
        for target in attempts:
            until = NOW + timedelta(days=1) if target is Q.SNOOZED else None
            try:
                record = store.transition(
                    draft_id, target, at=NOW, reason="step", snooze_until=until
                )
            except TransitionError:
                assert not can_transition(state, target)
            else:
                assert can_transition(state, target)
                assert record.status is target
                taken.append((state, target))
                state = target
        assert store.get_draft(draft_id).status is state  # type: ignore[union-attr]
        events = store.history(draft_id)[1:]
        assert [(e.from_status, e.to_status) for e in events] == taken


# --- kill safety ---------------------------------------------------------------

CHILD_PRELUDE = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from mailfollow.adapters.store import FolderState, Store
from mailfollow.model import Address, FolderRole, Message

def message(uid):
    return Message(f"m{uid}@x", "subject", datetime(2026, 1, 1, tzinfo=UTC),
                   Address("a@x"), snippet="text " * 100)

def batch(first, count):
    return [(uid, message(uid), None) for uid in range(first, first + count)]

store = Store.open(Path(sys.argv[1]))
"""


Spawn = Callable[[str], "subprocess.Popen[str]"]


@pytest.fixture
def spawn(db: Path) -> Iterator[Spawn]:
    """Start ``python -c`` children on ``db``; whatever happens, none outlives the test."""
    children: list[subprocess.Popen[str]] = []

    def start(code: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD_PRELUDE + code, str(db)],
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


def read_lines(child: subprocess.Popen[str], count: int, *, timeout: float = 20) -> list[str]:
    """Wait (bounded) until the child printed ``count`` lines."""
    assert child.stdout is not None
    lines: list[str] = []
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        while len(lines) < count:
            assert selector.select(timeout), f"child printed {len(lines)} of {count} lines"
            line = child.stdout.readline()
            assert line, f"child ended early with {child.wait()}"
            lines.append(line)
    return lines


def kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=10) == -signal.SIGKILL


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_a_process_killed_inside_a_transaction_leaves_no_trace(db: Path, spawn: Spawn) -> None:
    child = spawn(
        """
with store.transaction():
    store.store_messages("INBOX", batch(1, 200),
                         folder_state=FolderState("INBOX", FolderRole.INBOX, 1, 200))
    print("written, not committed", flush=True)
    time.sleep(60)
"""
    )
    read_lines(child, 1)
    kill(child)
    assert integrity(db) == "ok"
    with Store.open(db) as store:
        assert store.count_messages() == 0
        assert store.get_folder_state("INBOX") is None


def test_a_scan_killed_at_any_point_resumes_with_nothing_lost_or_duplicated(
    db: Path, spawn: Spawn
) -> None:
    child = spawn(
        """
for first in range(1, 100_000, 20):
    state = FolderState("INBOX", FolderRole.INBOX, 1, first + 19)
    store.store_messages("INBOX", batch(first, 20), folder_state=state)
    print(first, flush=True)
"""
    )
    read_lines(child, 5)
    kill(child)  # somewhere in a later batch: maybe mid-write, maybe between batches
    assert integrity(db) == "ok"
    with Store.open(db) as store:
        state = store.get_folder_state("INBOX")
        assert state is not None
        uids = store.folder_uids("INBOX")
        assert sorted(uids) == list(range(1, state.last_uid + 1))
        assert store.count_messages() == state.last_uid
        # Resume from the saved position; overlap one batch as a careless scanner might.
        end = state.last_uid + 100
        resumed = [
            (uid, make_message(message_id=f"m{uid}@x"), None)
            for uid in range(max(1, state.last_uid - 19), end + 1)
        ]
        store.store_messages(
            "INBOX", resumed, folder_state=dataclasses.replace(state, last_uid=end)
        )
        assert store.count_messages() == end
        assert sorted(store.folder_uids("INBOX")) == list(range(1, end + 1))


def test_a_draft_marked_sending_before_a_kill_is_still_sending_afterwards(
    db: Path, spawn: Spawn
) -> None:
    with Store.open(db) as store:
        draft_id = store.add_draft(make_draft(), at=NOW).id
        store.transition(draft_id, Q.APPROVED, at=NOW, reason="user approved")
    child = spawn(
        f"""
from mailfollow.model import QueueState
now = datetime(2026, 3, 16, tzinfo=UTC)
store.transition({draft_id}, QueueState.SENDING, at=now, reason="sending",
                 expected=QueueState.APPROVED)
print("committed sending; the SMTP call would start now", flush=True)
time.sleep(60)
"""
    )
    read_lines(child, 1)
    kill(child)
    with Store.open(db) as store:
        assert store.get_draft(draft_id).status is Q.SENDING  # type: ignore[union-attr]
        # The next run cannot start it again; it can only be resolved.
        with pytest.raises(DraftConflictError):
            store.transition(draft_id, Q.SENDING, at=NOW, reason="again", expected=Q.APPROVED)


# --- size ------------------------------------------------------------------------

SIZE_BUDGET = 1536  # bytes per message, indexes included


def realistic_message(number: int, rng: random.Random) -> Message:
    """A received reply: Gmail-length ids, 3 references, a 600-character snippet.

    The words are random letters, which compress worse than real prose does,
    so the measured size errs on the high side.
    """

    def word() -> str:
        return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9)))

    def message_id() -> str:
        token = "".join(rng.choices(string.ascii_letters + string.digits + "+_=-", k=44))
        return f"CA{token}@mail.gmail.com"

    references = tuple(message_id() for _ in range(3))
    return Message(
        message_id=message_id(),
        subject=f"Re: Application for Senior Backend Engineer (req {number})",
        date=NOW - timedelta(minutes=37 * number),
        sender=Address(f"recruiter{number % 300}@talent.acme-corp.example", "Jane Smith"),
        to=(ME,),
        in_reply_to=(references[-1],),
        references=references,
        headers={
            "return-path": f"<recruiter{number % 300}@talent.acme-corp.example>",
            "content-type": 'multipart/alternative; boundary="000000000000a1b2c3d4e5f6"',
        },
        content_type="multipart/alternative",
        part_types=("multipart/alternative", "text/plain", "text/html"),
        snippet=" ".join(word() for _ in range(120))[:600],
        folder="INBOX",
        folder_role=FolderRole.INBOX,
        flags=frozenset({"\\Seen"}),
    )


def database_bytes(store: Store, db: Path) -> int:
    store._run("PRAGMA wal_checkpoint(TRUNCATE)")
    store._run("VACUUM")
    return db.stat().st_size


def test_a_stored_message_stays_within_the_size_budget(db: Path) -> None:
    count = 2000
    rng = random.Random(20260316)  # noqa: S311 (test data, not secrets)
    with Store.open(db) as store:
        empty = database_bytes(store, db)
        messages = [realistic_message(n, rng) for n in range(count)]
        store.store_messages("INBOX", [(n + 1, m, None) for n, m in enumerate(messages)])
        per_message = (database_bytes(store, db) - empty) / count
    assert 600 < per_message < SIZE_BUDGET
