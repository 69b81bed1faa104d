"""The approval queue's actions and the outbox's bookkeeping, on an in-memory store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mailfollow import outbox
from mailfollow.adapters.store import DraftConflictError, DraftRecord, Store
from mailfollow.config import Config, parse_config
from mailfollow.drafts_folder import MailboxAccess
from mailfollow.model import Address, Draft, FolderRole, QueueState
from tests.factories import ME, NOW, make_message

Q = QueueState
JANE = Address("jane@acme.example", "Jane Smith")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return parse_config(
        {
            "account": {
                "name": "Alex Doe",
                "address": ME.email,
                "imap": {"host": "imap.example.org"},
                "smtp": {"host": "smtp.example.org"},
            },
            "state": {"dir": str(tmp_path / "state")},
        }
    )


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.memory() as memory:
        yield memory


def add_draft(store: Store, number: int = 1, **changes: object) -> DraftRecord:
    fields: dict[str, object] = {
        "conversation_id": f"conv{number}",
        "mailfollow_id": f"mf1-conv{number}-1",
        "message_id": f"mailfollow.{number:024x}@example.org",
        "sender": ME,
        "to": JANE,
        "subject": "Re: Application for Backend Engineer",
        "in_reply_to": f"app-{number}@example.org",
        "references": (f"app-{number}@example.org",),
        "body": "Hi Jane,\n\nAny news about my application?\n\nAlex\n",
        "created_at": NOW,
    }
    fields.update(changes)
    return store.add_draft(Draft(**fields), at=NOW)  # type: ignore[arg-type]


def status(store: Store, draft_id: int) -> QueueState:
    record = store.get_draft(draft_id)
    assert record is not None
    return record.status


# --- approving -------------------------------------------------------------------------


def test_approving_keeps_exactly_the_bytes_that_were_shown(store: Store, config: Config) -> None:
    record = add_draft(store)
    shown = outbox.preview(store, config, record.id, now=NOW)

    approved = outbox.approve(store, shown, now=NOW)

    assert approved.status is Q.APPROVED
    kept = outbox.load_state(store, record.id)
    assert kept.mime == shown.raw
    assert b"Date: Mon, 16 Mar 2026 09:00:00 +0000" in shown.raw


def test_a_draft_changed_since_it_was_shown_is_not_approved(store: Store, config: Config) -> None:
    record = add_draft(store)
    shown = outbox.preview(store, config, record.id, now=NOW)
    outbox.edit(store, record.id, "Another text\n", now=NOW)

    with pytest.raises(DraftConflictError, match="changed since it was shown"):
        outbox.approve(store, shown, now=NOW)
    assert status(store, record.id) is Q.PENDING


@pytest.mark.parametrize("final", [Q.SKIPPED, Q.WITHDRAWN])
def test_a_finished_draft_cannot_be_approved(store: Store, config: Config, final: Q) -> None:
    record = add_draft(store)
    store.transition(record.id, final, at=NOW, reason="test")

    with pytest.raises(outbox.QueueError, match="cannot be approved"):
        outbox.preview(store, config, record.id, now=NOW)


def test_an_unknown_draft_is_a_clear_error(store: Store, config: Config) -> None:
    with pytest.raises(outbox.QueueError, match="no draft 42"):
        outbox.preview(store, config, 42, now=NOW)


def test_the_preview_reads_like_the_message_the_recipient_gets(
    store: Store, config: Config
) -> None:
    record = add_draft(store)

    text = outbox.preview(store, config, record.id, now=NOW).display()

    assert "To: Jane Smith <jane@acme.example>" in text
    assert "Subject: Re: Application for Backend Engineer" in text
    assert f"Message-ID: <{record.message_id}>" in text
    assert text.endswith("Any news about my application?\n\nAlex")


# --- editing, skipping, snoozing --------------------------------------------------------


def test_editing_an_approved_draft_takes_the_approval_back(store: Store, config: Config) -> None:
    record = add_draft(store)
    outbox.approve(store, outbox.preview(store, config, record.id, now=NOW), now=NOW)

    edited = outbox.edit(store, record.id, "Shorter.\n", now=NOW)

    assert (edited.status, edited.body, edited.user_edited) == (Q.PENDING, "Shorter.\n", True)
    assert outbox.load_state(store, record.id) == outbox.SendState()


def test_skipping_an_approved_draft_goes_back_through_pending_in_one_step(
    store: Store, config: Config
) -> None:
    record = add_draft(store)
    outbox.approve(store, outbox.preview(store, config, record.id, now=NOW), now=NOW)

    outbox.skip(store, record.id, now=NOW)

    steps = [(e.from_status, e.to_status) for e in store.history(record.id)]
    assert steps[-2:] == [(Q.APPROVED, Q.PENDING), (Q.PENDING, Q.SKIPPED)]
    assert store.history(record.id)[-1].reason == "skipped with `mailfollow skip`"


def test_a_draft_being_sent_cannot_be_skipped(store: Store) -> None:
    record = add_draft(store)
    store.transition(record.id, Q.APPROVED, at=NOW, reason="test")
    store.transition(record.id, Q.SENDING, at=NOW, reason="test")

    with pytest.raises(outbox.QueueError, match="being sent right now"):
        outbox.skip(store, record.id, now=NOW)


def test_a_snoozed_draft_comes_back_when_its_time_comes(store: Store) -> None:
    record = add_draft(store)
    outbox.snooze(store, record.id, NOW + timedelta(days=3), now=NOW)

    early = outbox.wake_snoozed(store, now=NOW + timedelta(days=2))
    due = outbox.wake_snoozed(store, now=NOW + timedelta(days=3))

    assert early == []
    assert [r.id for r in due] == [record.id]
    assert status(store, record.id) is Q.PENDING


def test_snoozing_again_moves_the_end(store: Store) -> None:
    record = add_draft(store)
    outbox.snooze(store, record.id, NOW + timedelta(days=1), now=NOW)

    again = outbox.snooze(store, record.id, NOW + timedelta(days=5), now=NOW)

    assert again.status is Q.SNOOZED
    assert again.snooze_until == NOW + timedelta(days=5)


def test_a_snooze_must_end_in_the_future(store: Store) -> None:
    record = add_draft(store)
    with pytest.raises(ValueError, match="future"):
        outbox.snooze(store, record.id, NOW, now=NOW)


# --- bookkeeping ------------------------------------------------------------------------


def test_the_send_state_survives_a_round_trip_through_the_store(store: Store) -> None:
    record = add_draft(store)
    state = outbox.SendState(
        body_sha256="ab", mime=b"raw\r\n", attempts=2, next_try=NOW, last_error="451 later"
    )

    outbox.save_state(store, record.id, state)

    assert outbox.load_state(store, record.id) == state
    outbox.forget_state(store, record.id)
    assert outbox.load_state(store, record.id) == outbox.SendState()


def test_retries_wait_five_minutes_then_double_up_to_six_hours() -> None:
    waits = [outbox.retry_delay(n) for n in range(1, 10)]
    assert waits[:3] == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]
    assert waits[-1] == timedelta(hours=6)
    assert waits == sorted(waits)


def test_a_skipped_follow_up_is_declined_only_in_the_same_round_of_silence(store: Store) -> None:
    record = add_draft(store)
    outbox.skip(store, record.id, now=NOW)

    same_round = outbox.declined_followup(store, "conv1", 1, since=NOW - timedelta(days=3))
    after_a_reply = outbox.declined_followup(store, "conv1", 1, since=NOW + timedelta(days=1))
    next_nudge = outbox.declined_followup(store, "conv1", 2, since=None)

    assert same_round is not None
    assert f"draft {record.id}" in same_round
    assert after_a_reply is None
    assert next_nudge is None


def test_a_mailfollow_id_already_used_gets_a_counter(store: Store) -> None:
    add_draft(store)
    assert outbox.unused_mailfollow_id(store, "mf1-conv1-1") == "mf1-conv1-1.2"
    assert outbox.unused_mailfollow_id(store, "mf1-conv9-1") == "mf1-conv9-1"


def test_the_queue_lists_withdrawn_drafts_for_a_week_with_the_reason(store: Store) -> None:
    waiting = add_draft(store, 1)
    gone = add_draft(store, 2)
    store.transition(gone.id, Q.WITHDRAWN, at=NOW, reason="they replied")

    this_week = outbox.list_queue(store, now=NOW + timedelta(days=6))
    later = outbox.list_queue(store, now=NOW + timedelta(days=8))

    assert [(i.record.id, i.reason) for i in this_week] == [
        (waiting.id, "drafted"),
        (gone.id, "they replied"),
    ]
    assert [i.record.id for i in later] == [waiting.id]


# --- recovery ---------------------------------------------------------------------------


def interrupted(store: Store) -> DraftRecord:
    record = add_draft(store)
    store.transition(record.id, Q.APPROVED, at=NOW, reason="test")
    return store.transition(record.id, Q.SENDING, at=NOW, reason="test: killed mid-send")


def test_an_interrupted_send_not_in_sent_becomes_unconfirmed_and_is_never_resent(
    store: Store, config: Config
) -> None:
    record = interrupted(store)

    recovered = outbox.recover_interrupted(store, config, MailboxAccess(None), now=NOW)

    assert [r.status for r in recovered] == [Q.UNCONFIRMED]
    unconfirmed = store.get_draft(record.id)
    assert unconfirmed is not None
    assert "may or may not have gone out" in (unconfirmed.error or "")
    assert store.list_drafts([Q.APPROVED, Q.SENDING]) == []


def test_an_interrupted_send_already_in_sent_becomes_sent(store: Store, config: Config) -> None:
    record = interrupted(store)
    copy = make_message(message_id=record.message_id, folder_role=FolderRole.SENT)
    store.store_messages("Sent", [(7, copy, None)])

    recovered = outbox.recover_interrupted(store, config, MailboxAccess(None), now=NOW)

    assert [r.status for r in recovered] == [Q.SENT]


def test_recovery_waits_while_another_process_is_sending(store: Store, config: Config) -> None:
    record = interrupted(store)

    with outbox.send_lock(config.state_dir) as alone:
        recovered = outbox.recover_interrupted(store, config, MailboxAccess(None), now=NOW)

    assert alone
    assert recovered == []
    assert status(store, record.id) is Q.SENDING


def test_the_send_lock_admits_one_holder_at_a_time(tmp_path: Path) -> None:
    with outbox.send_lock(tmp_path) as first, outbox.send_lock(tmp_path) as second:
        assert (first, second) == (True, False)
    with outbox.send_lock(tmp_path) as after:
        assert after


def test_a_send_pass_reports_the_number_sent_as_an_int() -> None:
    assert int(outbox.SendReport()) == 0
