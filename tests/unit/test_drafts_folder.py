"""The Drafts-folder helpers that need no server: reading an edited copy, matching
copies to drafts, moving drafts through the queue, building the message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mailfollow import drafts_folder
from mailfollow.adapters.store import DraftRecord, Store
from mailfollow.config import Config, parse_config
from mailfollow.core.approval import TransitionError
from mailfollow.core.drafting import quote_message
from mailfollow.drafts_folder import (
    DraftCopy,
    build_mime,
    copies_of,
    edited_text,
    move_draft,
    normalize_text,
    strip_quote,
)
from mailfollow.model import Address, Draft, FolderRole, QueueState
from tests.factories import ME, NOW, make_message

Q = QueueState
JANE = Address("jane@acme.example", "Jane Smith")
APPLICATION = make_message(
    message_id="app-1@example.org",
    subject="Application for Backend Engineer",
    snippet="Dear Jane,\nI am applying for the Backend Engineer role.",
    days_ago=14,
)
QUOTE = quote_message(APPLICATION)


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.memory() as memory:
        memory.store_messages("Sent", [(1, APPLICATION, None)])
        yield memory


def config_with(tmp_path: Path, **drafts: object) -> Config:
    return parse_config(
        {
            "account": {
                "name": "Alex Doe",
                "address": ME.email,
                "imap": {"host": "imap.example.org"},
                "smtp": {"host": "smtp.example.org"},
            },
            "drafts": drafts,
            "state": {"dir": str(tmp_path)},
        }
    )


def add_draft(store: Store) -> DraftRecord:
    return store.add_draft(
        Draft(
            conversation_id="conv1",
            mailfollow_id="mf1-conv1-1",
            message_id="mailfollow.000000000000000000000001@example.org",
            sender=ME,
            to=JANE,
            subject="Re: Application for Backend Engineer",
            in_reply_to="app-1@example.org",
            references=("app-1@example.org",),
            body="Hi Jane,\nany news?\n",
            created_at=NOW,
        ),
        at=NOW,
    )


def plain(body: str, *, html: str | None = None) -> bytes:
    head = "From: Alex Doe <alex.doe@example.org>\r\nSubject: Re: x\r\nMIME-Version: 1.0\r\n"
    if html is None:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body).encode()
    return (
        head
        + "Content-Type: text/html; charset=utf-8\r\n\r\n"
        + f"<html><body>{html}</body></html>"
    ).encode()


# --- reading the user's edit ---------------------------------------------------------------


def test_our_quote_is_taken_off_the_end_of_an_edit() -> None:
    text = "Hi Jane, any update?\n\n" + QUOTE
    assert strip_quote(normalize_text(text), QUOTE) == ("Hi Jane, any update?", True)


def test_a_quote_the_client_rewrapped_is_recognised_by_its_attribution_line() -> None:
    attribution = QUOTE.split("\n", 1)[0]
    text = f"Hi Jane\n\n{attribution}\n>Dear Jane,\n>I am applying\n> for the role.\n"
    assert strip_quote(normalize_text(text), QUOTE) == ("Hi Jane", True)


def test_text_after_the_quote_is_the_users_and_stays() -> None:
    attribution = QUOTE.split("\n", 1)[0]
    text = f"Hi Jane\n\n{attribution}\n> Dear Jane,\n\nPS: my new phone number is below."
    assert strip_quote(text, QUOTE) == (text, False)


def test_an_edit_without_the_quote_says_so() -> None:
    assert strip_quote("Just this.", QUOTE) == ("Just this.", False)


def test_the_text_of_an_edited_copy_comes_from_its_plain_part() -> None:
    edited = edited_text(plain("Hello Jane,\r\n\r\nany news?\r\n\r\n" + QUOTE), quote=QUOTE)
    assert edited == drafts_folder.EditedText("Hello Jane,\n\nany news?", quoted=True)


def test_an_html_only_edit_is_read_as_text() -> None:
    edited = edited_text(plain("", html="<p>Hello Jane,</p><p>any <b>news</b>?</p>"), quote=None)
    assert edited is not None
    assert "Hello Jane," in edited.text
    assert "any news?" in edited.text
    assert "<" not in edited.text


def test_a_copy_without_any_text_gives_none() -> None:
    raw = (
        b"From: a@b.example\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: application/pdf\r\n\r\nJVBERi0x\r\n"
    )
    assert edited_text(raw, quote=None) is None


def test_texts_compare_without_line_end_and_trailing_space_differences() -> None:
    assert normalize_text("a  \r\nb\r\n\r\n") == normalize_text("a\nb") == "a\nb"


# --- matching copies ----------------------------------------------------------------------


def copy(uid: int, **changes: object) -> DraftCopy:
    fields: dict[str, object] = {
        "message_id": f"copy-{uid}@client.example",
        "folder_role": FolderRole.DRAFTS,
        "in_reply_to": ("app-1@example.org",),
        "to": (JANE,),
    }
    message = make_message(**{**fields, **changes})  # type: ignore[arg-type]
    return DraftCopy("Drafts", uid, frozenset({"\\Draft"}), message)


def test_copies_are_matched_by_their_mailfollow_id_or_message_id(store: Store) -> None:
    record = add_draft(store)
    ours = copy(3, message_id=record.message_id)
    edited = copy(5, headers={"x-mailfollow-id": record.mailfollow_id})
    other = copy(4, headers={"x-mailfollow-id": "mf1-other-1"})

    assert copies_of(record, [edited, other, ours]) == [ours, edited]


def test_a_header_less_copy_answering_the_same_message_counts_only_when_nothing_else_does(
    store: Store,
) -> None:
    record = add_draft(store)
    stripped = copy(6)

    assert copies_of(record, [stripped]) == [stripped]
    assert copies_of(record, [stripped, copy(2, message_id=record.message_id)])[0].uid == 2
    assert copies_of(record, [copy(7, to=(Address("bob@else.example"),))]) == []


# --- moving through the queue -----------------------------------------------------------------


def test_a_draft_sent_from_the_client_reaches_sent_through_approved_and_sending(
    store: Store,
) -> None:
    record = add_draft(store)

    sent = move_draft(store, record, Q.SENT, at=NOW, reason="sent from your mail client")

    steps = [e.to_status for e in store.history(record.id)]
    assert steps == [Q.PENDING, Q.APPROVED, Q.SENDING, Q.SENT]
    assert sent.sent_at == NOW
    assert {e.reason for e in store.history(record.id)[1:]} == {"sent from your mail client"}


def test_a_move_never_passes_through_failed_or_unconfirmed(store: Store) -> None:
    record = add_draft(store)
    store.transition(record.id, Q.APPROVED, at=NOW, reason="test")
    approved = store.get_draft(record.id)
    assert approved is not None

    move_draft(store, approved, Q.SKIPPED, at=NOW, reason="deleted")

    assert [e.to_status for e in store.history(record.id)][-2:] == [Q.PENDING, Q.SKIPPED]


def test_a_finished_draft_cannot_be_moved(store: Store) -> None:
    record = add_draft(store)
    skipped = store.transition(record.id, Q.SKIPPED, at=NOW, reason="test")

    with pytest.raises(TransitionError):
        move_draft(store, skipped, Q.APPROVED, at=NOW, reason="test")


def test_a_failed_step_leaves_the_draft_as_it_was(store: Store) -> None:
    record = add_draft(store)
    store.transition(record.id, Q.SNOOZED, at=NOW, reason="meanwhile", snooze_until=NOW)

    with pytest.raises(Exception, match="is snoozed, not pending"):
        move_draft(store, record, Q.SENT, at=NOW, reason="stale view")

    assert [e.to_status for e in store.history(record.id)] == [Q.PENDING, Q.SNOOZED]


# --- the message -----------------------------------------------------------------------------


def test_the_message_quotes_what_it_answers_when_quote_original_is_on(
    store: Store, tmp_path: Path
) -> None:
    record = add_draft(store)

    with_quote = build_mime(store, config_with(tmp_path), record)
    without = build_mime(store, config_with(tmp_path, quote_original=False), record)

    assert b"> Dear Jane," in with_quote
    assert b"> Dear Jane," not in without


def test_the_message_is_dated_when_it_is_approved(store: Store, tmp_path: Path) -> None:
    record = add_draft(store)
    later = NOW + timedelta(days=2)

    raw = build_mime(store, config_with(tmp_path), record, date=later)

    assert b"Date: Wed, 18 Mar 2026 09:00:00 +0000" in raw
