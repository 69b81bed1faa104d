"""threads, plan, explain, track and ignore on the bundled demo mailbox (a local Maildir)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mailfollow.cli import cli
from mailfollow.cli.commands_mailbox import _write_demo_maildir
from mailfollow.demo import DEMO_AS_OF, demo_labels

AS_OF = DEMO_AS_OF.isoformat()


@pytest.fixture
def scanned(tmp_path: Path) -> dict[str, str]:
    """A config for the demo mailbox's owner, and one `scan --no-draft` of it."""
    maildir = tmp_path / "Maildir"
    _write_demo_maildir(maildir)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[account]
name = "Alex Doe"
address = "alex.doe@example.org"
aliases = ["alex@doe.example"]
[account.imap]
host = "imap.example.org"
[account.smtp]
host = "smtp.example.org"
[state]
dir = "{tmp_path / "state"}"
""",
        encoding="utf-8",
    )
    env = {"MAILFOLLOW_CONFIG": str(config), "SOURCE": f"maildir:{maildir}"}
    result = run(env, "scan", "--no-draft", "--source", env["SOURCE"])
    assert "tracked conversation" in result.output
    return env


def run(env: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def threads_json(env: dict[str, str]) -> list[dict[str, object]]:
    return json.loads(run(env, "threads", "--json", "--as-of", AS_OF).stdout)  # type: ignore[no-any-return]


def test_threads_json_agrees_with_the_demo_labels(scanned: dict[str, str]) -> None:
    conversations = threads_json(scanned)
    labels, _ = demo_labels()
    by_message = {m: c for c in conversations for m in c["message_ids"]}  # type: ignore[attr-defined]
    got = {
        label.key: (by_message[label.key]["stage"], by_message[label.key]["state"])
        for label in labels
    }
    expected = {label.key: (label.stage, label.expected_state) for label in labels}
    assert got == expected
    required = {
        "id",
        "stage",
        "state",
        "counterpart",
        "subject",
        "message_ids",
        "last_sent_at",
        "last_reply_at",
        "nudges_sent",
        "due_at",
    }
    assert all(required <= set(c) for c in conversations)
    assert all(
        c["due_at"] is None or "+" in str(c["due_at"]) or str(c["due_at"]).endswith("Z")
        for c in conversations
    )


def test_state_filter_keeps_only_that_state(scanned: dict[str, str]) -> None:
    due = json.loads(run(scanned, "threads", "--json", "--state", "due", "--as-of", AS_OF).stdout)
    assert due
    assert {c["state"] for c in due} == {"due"}


def test_explain_gives_the_timeline_and_the_reasons(scanned: dict[str, str]) -> None:
    replied = next(c for c in threads_json(scanned) if c["state"] == "replied")
    text = run(scanned, "explain", str(replied["id"]), "--as-of", AS_OF).output
    assert "=> replied" in text
    assert "human_reply" in text
    assert str(replied["subject"]) in text


def test_plan_lists_what_becomes_due_soon(scanned: dict[str, str]) -> None:
    conversations = threads_json(scanned)
    waiting = [c for c in conversations if c["state"] == "waiting" and c["due_at"]]
    text = run(scanned, "plan", "--days", "30", "--as-of", AS_OF).output
    assert waiting
    assert all(str(c["id"]) in text for c in waiting)


def test_ignore_survives_a_later_scan(scanned: dict[str, str]) -> None:
    due = next(c for c in threads_json(scanned) if c["state"] == "due")
    run(scanned, "ignore", str(due["id"]))
    run(scanned, "scan", "--no-draft", "--source", scanned["SOURCE"])
    after = {c["id"]: c["state"] for c in threads_json(scanned)}
    assert after[due["id"]] == "ignored"


def test_track_starts_a_conversation_from_an_untracked_message(scanned: dict[str, str]) -> None:
    tracked_ids = {m for c in threads_json(scanned) for m in c["message_ids"]}  # type: ignore[attr-defined]
    _, noise = demo_labels()
    personal = next(
        n for n in noise if n.kind == "personal_sent" and n.message_id not in tracked_ids
    )
    run(scanned, "track", personal.message_id, "--stage", "networking")
    after = threads_json(scanned)
    started = [c for c in after if personal.message_id in c["message_ids"]]  # type: ignore[operator]
    assert len(started) == 1
    assert started[0]["stage"] == "networking"
