"""`mailfollow pending`, `show`, `approve`, `skip`, `snooze` and `review`, on a store
filled directly (sending itself is covered in tests/servers/test_outbox.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mailfollow import outbox
from mailfollow.adapters.store import DraftRecord, Store
from mailfollow.cli import cli, commands_queue
from mailfollow.config import load_config
from mailfollow.model import Address, Draft, QueueState
from tests.factories import ME, NOW

Q = QueueState


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands_queue, "_now", lambda: NOW)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[account]
name = "Alex Doe"
address = "{ME.email}"
[account.imap]
host = "imap.example.org"
[account.smtp]
host = "smtp.example.org"
[policy]
timezone = "UTC"
[state]
dir = "{tmp_path / "state"}"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def store(config_path: Path) -> Iterator[Store]:
    with Store.open(load_config(config_path).store_path()) as opened:
        yield opened


def add_draft(store: Store, number: int = 1, **changes: object) -> DraftRecord:
    fields: dict[str, object] = {
        "conversation_id": f"conv{number}",
        "mailfollow_id": f"mf1-conv{number}-1",
        "message_id": f"mailfollow.{number:024x}@example.org",
        "sender": ME,
        "to": Address(f"jane@acme{number}.example", "Jane Smith"),
        "subject": f"Re: Application {number}",
        "in_reply_to": f"app-{number}@example.org",
        "references": (f"app-{number}@example.org",),
        "body": f"Hi Jane,\n\nAny news about application {number}?\n\nAlex\n",
        "created_at": NOW - timedelta(hours=number),
    }
    fields.update(changes)
    return store.add_draft(Draft(**fields), at=NOW)  # type: ignore[arg-type]


def invoke(config_path: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(
        cli, list(args), env={"MAILFOLLOW_CONFIG": str(config_path)}, input=input
    )


def status(store: Store, draft_id: int) -> QueueState:
    record = store.get_draft(draft_id)
    assert record is not None
    return record.status


# --- pending and show ---------------------------------------------------------------------


def test_pending_json_lists_each_waiting_draft_with_its_text_and_reason(
    config_path: Path, store: Store
) -> None:
    first = add_draft(store, 1)
    failed = add_draft(store, 2)
    store.transition(failed.id, Q.APPROVED, at=NOW, reason="test")
    store.transition(failed.id, Q.SENDING, at=NOW, reason="test")
    store.transition(failed.id, Q.FAILED, at=NOW, reason="refused", error="550 no such user")
    skipped = add_draft(store, 3)
    store.transition(skipped.id, Q.SKIPPED, at=NOW, reason="test")

    result = invoke(config_path, "pending", "--json")

    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [i["id"] for i in items] == [first.id, failed.id]
    item = items[0]
    assert item["conversation_id"] == "conv1"
    assert item["to"] == "jane@acme1.example"
    assert item["subject"] == "Re: Application 1"
    assert item["in_reply_to"] == "app-1@example.org"
    assert item["status"] == "pending"
    assert item["created_at"] == first.created_at.isoformat()
    assert item["body"] == first.body
    assert (items[1]["status"], items[1]["error"]) == ("failed", "550 no such user")


def test_pending_shows_a_table_with_why_a_draft_is_stuck(config_path: Path, store: Store) -> None:
    record = add_draft(store)
    store.transition(record.id, Q.APPROVED, at=NOW, reason="test")
    store.transition(record.id, Q.SENDING, at=NOW, reason="test")
    store.transition(record.id, Q.UNCONFIRMED, at=NOW, reason="x", error="may have gone out")

    result = invoke(config_path, "pending")

    assert result.exit_code == 0, result.output
    assert "unconfirmed" in result.output
    assert "may have gone out" in result.output
    assert "mailfollow approve ID" in result.output


def test_pending_says_so_when_nothing_waits(config_path: Path, store: Store) -> None:
    result = invoke(config_path, "pending")
    assert result.exit_code == 0
    assert "No drafts waiting" in result.output


def test_show_prints_headers_text_and_history(config_path: Path, store: Store) -> None:
    record = add_draft(store)
    outbox.skip(store, record.id, now=NOW)

    result = invoke(config_path, "show", str(record.id))

    assert result.exit_code == 0, result.output
    assert f"Draft {record.id}: skipped" in result.output
    assert "To:              Jane Smith <jane@acme1.example>" in result.output
    assert f"Message-ID:      {record.message_id}" in result.output
    assert "Any news about application 1?" in result.output
    assert "pending -> skipped: skipped with `mailfollow skip`" in result.output


def test_show_of_an_unknown_draft_fails_clearly(config_path: Path, store: Store) -> None:
    result = invoke(config_path, "show", "99")
    assert result.exit_code == 1
    assert "no draft 99" in result.output


# --- approve ----------------------------------------------------------------------------------


def test_approve_without_a_terminal_and_without_yes_refuses(
    config_path: Path, store: Store
) -> None:
    record = add_draft(store)

    result = invoke(config_path, "approve", str(record.id))

    assert result.exit_code == 1
    assert "not a terminal" in result.output
    assert "--yes" in result.output
    assert status(store, record.id) is Q.PENDING


def test_approve_yes_shows_the_exact_message_and_approves_it(
    config_path: Path, store: Store
) -> None:
    record = add_draft(store)

    result = invoke(config_path, "approve", str(record.id), "--yes", "--no-send")

    assert result.exit_code == 0, result.output
    assert "Subject: Re: Application 1" in result.output
    assert "Any news about application 1?" in result.output
    assert status(store, record.id) is Q.APPROVED
    kept = outbox.load_state(store, record.id).mime
    assert b"Subject: Re: Application 1" in kept
    assert b"Any news about application 1?" in kept


def test_approve_on_a_terminal_asks_first(
    config_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands_queue, "_stdin_is_terminal", lambda: True)
    record = add_draft(store)

    declined = invoke(config_path, "approve", str(record.id), "--no-send", input="n\n")
    still = status(store, record.id)
    accepted = invoke(config_path, "approve", str(record.id), "--no-send", input="y\n")

    assert declined.exit_code == 0
    assert "Not approved." in declined.output
    assert still is Q.PENDING
    assert accepted.exit_code == 0
    assert status(store, record.id) is Q.APPROVED


def test_approve_edit_keeps_the_new_text_as_the_users(
    config_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = add_draft(store)
    monkeypatch.setattr("click.edit", lambda text, **kw: text.replace("Any news", "Any update"))

    result = invoke(config_path, "approve", str(record.id), "--edit", "--yes", "--no-send")

    assert result.exit_code == 0, result.output
    edited = store.get_draft(record.id)
    assert edited is not None
    assert edited.user_edited
    assert "Any update about application 1?" in edited.body
    assert b"Any update about application 1?" in outbox.load_state(store, record.id).mime


def test_approve_refuses_a_draft_that_cannot_be_approved(config_path: Path, store: Store) -> None:
    record = add_draft(store)
    outbox.skip(store, record.id, now=NOW)

    result = invoke(config_path, "approve", str(record.id), "--yes")

    assert result.exit_code == 1
    assert "cannot be approved" in result.output


def test_approving_an_unconfirmed_draft_warns_it_may_go_out_twice(
    config_path: Path, store: Store
) -> None:
    record = add_draft(store)
    store.transition(record.id, Q.APPROVED, at=NOW, reason="test")
    store.transition(record.id, Q.SENDING, at=NOW, reason="test")
    store.transition(record.id, Q.UNCONFIRMED, at=NOW, reason="test")

    result = invoke(config_path, "approve", str(record.id), "--yes", "--no-send")

    assert result.exit_code == 0, result.output
    assert "may already have been delivered" in result.output
    assert status(store, record.id) is Q.APPROVED


# --- skip and snooze ----------------------------------------------------------------------------


def test_skip_dismisses_the_draft(config_path: Path, store: Store) -> None:
    record = add_draft(store)

    result = invoke(config_path, "skip", str(record.id))

    assert result.exit_code == 0
    assert f"Skipped draft {record.id}" in result.output
    assert status(store, record.id) is Q.SKIPPED


def test_snooze_hides_the_draft_for_the_given_duration(config_path: Path, store: Store) -> None:
    record = add_draft(store)

    result = invoke(config_path, "snooze", str(record.id), "3d")

    assert result.exit_code == 0, result.output
    snoozed = store.get_draft(record.id)
    assert snoozed is not None
    assert snoozed.status is Q.SNOOZED
    assert snoozed.snooze_until == NOW + timedelta(days=3)
    assert "until 2026-03-19 09:00" in result.output


def test_snooze_with_a_bad_duration_is_a_usage_error(config_path: Path, store: Store) -> None:
    record = add_draft(store)

    result = invoke(config_path, "snooze", str(record.id), "soon")

    assert result.exit_code == 2
    assert "not a duration" in result.output
    assert status(store, record.id) is Q.PENDING


# --- review -------------------------------------------------------------------------------------


def test_review_walks_through_the_drafts_and_acts_on_each_choice(
    config_path: Path, store: Store
) -> None:
    ids = [add_draft(store, n).id for n in (1, 2, 3, 4, 5)]

    result = invoke(config_path, "review", "--no-send", input="s\nz\n2d\na\nq\n")

    assert result.exit_code == 0, result.output
    assert [status(store, i) for i in ids] == [
        Q.SKIPPED,
        Q.SNOOZED,
        Q.APPROVED,
        Q.PENDING,
        Q.PENDING,
    ]
    assert "=== 4 of 5 ===" in result.output
    assert "=== 5 of 5 ===" not in result.output
    assert "Approved 1 draft(s)" in result.output


def test_review_edit_shows_the_new_text_before_the_next_choice(
    config_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = add_draft(store)
    monkeypatch.setattr("click.edit", lambda text, **kw: "Brand new text.\n")

    result = invoke(config_path, "review", "--no-send", input="e\nn\n")

    assert result.exit_code == 0, result.output
    assert result.output.index("Brand new text.") > result.output.index("your text is saved")
    edited = store.get_draft(record.id)
    assert edited is not None
    assert edited.body == "Brand new text.\n"
    assert edited.user_edited
    assert edited.status is Q.PENDING


def test_review_with_nothing_waiting_says_so(config_path: Path, store: Store) -> None:
    result = invoke(config_path, "review")
    assert result.exit_code == 0
    assert "Nothing to review." in result.output


# --- the demo still runs without a server ---------------------------------------------------


def test_the_demo_drafts_without_touching_any_server(config_path: Path) -> None:
    result = invoke(config_path, "demo")

    assert result.exit_code == 0, result.output
    assert "follow-up(s) drafted. Nothing was sent" in result.output
