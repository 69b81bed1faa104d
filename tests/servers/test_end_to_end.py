"""End to end: a generated job-search mailbox in a real Dovecot, `mailfollow scan`,
then `mailfollow threads --json --as-of ...` agrees with the generator's labels."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import mailfollow.sync
from mailfollow.cli import cli
from mailfollow.demo.generator import ConversationLabel, GeneratedMessage, plan_mailbox
from tests.servers.dovecot import ImapAccount, connect

AS_OF = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)  # a Monday


def write_config(tmp_path: Path, account: ImapAccount) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[account]
name = "Alex Doe"
address = "alex.doe@example.org"
aliases = ["alex@doe.example"]
username = "{account.username}"

[account.imap]
host = "127.0.0.1"
port = {account.tls_port}
security = "tls"
ca_file = "{account.ca_file}"

[account.smtp]
host = "127.0.0.1"
port = 1
security = "tls"

[account.password]
password_command = ["printf", "%s", "{account.password}"]

[state]
dir = "{tmp_path / "state"}"
""",
        encoding="utf-8",
    )
    return config


def load_mailbox(account: ImapAccount, messages: list[GeneratedMessage]) -> None:
    """APPEND every message into its folder with its flags and internal date."""
    with connect(account) as client:
        for item in messages:
            client.append(item.folder, item.raw, flags=item.flags, msg_time=item.internal_date)


@pytest.mark.parametrize("later", [False, True], ids=["texts-at-once", "texts-when-needed"])
def test_scan_then_threads_matches_the_generated_labels(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, later: bool
) -> None:
    if later:  # every folder pass counts as large: the Inbox's texts stay on the server
        monkeypatch.setattr(mailfollow.sync, "DEFER_TEXTS_FROM", 1)
    plan = plan_mailbox(seed=11, conversations=40, as_of=AS_OF)
    messages = list(plan.messages(order="date"))
    load_mailbox(imap_account, messages)
    config = write_config(tmp_path, imap_account)
    runner = CliRunner()
    env = {"MAILFOLLOW_CONFIG": str(config)}

    scanned = runner.invoke(cli, ["scan", "--no-draft"], env=env)
    assert scanned.exit_code == 0, scanned.output
    if later:
        found = re.search(r"until needed: (\d+); fetched .*: (\d+)\.", scanned.output)
        assert found, scanned.output
        left, fetched = map(int, found.groups())
        assert 0 < fetched < left  # only what could join a conversation
    listed = runner.invoke(cli, ["threads", "--json", "--as-of", AS_OF.isoformat()], env=env)
    assert listed.exit_code == 0, listed.output
    conversations = json.loads(listed.stdout)

    by_message: dict[str, dict[str, object]] = {}
    for conversation in conversations:
        for message_id in conversation["message_ids"]:
            by_message[message_id] = conversation
    wrong: dict[str, list[str]] = defaultdict(list)
    for label in plan.labels:
        found = by_message.get(label.key)
        if found is None:
            wrong["not tracked"].append(_describe(label))
            continue
        if (found["stage"], found["state"]) != (label.stage, label.expected_state):
            wrong["stage/state"].append(f"{_describe(label)} got {found['stage']}/{found['state']}")
        missing = set(label.message_ids) - set(found["message_ids"])  # type: ignore[arg-type]
        if missing:
            wrong["messages not grouped"].append(f"{_describe(label)} missing {sorted(missing)}")
    assert not wrong, json.dumps(wrong, indent=1)
    assert len(conversations) == len(plan.labels), "noise must not be tracked"


def test_a_scan_marks_nothing_as_read(imap_account: ImapAccount, tmp_path: Path) -> None:
    plan = plan_mailbox(seed=3, conversations=6, as_of=AS_OF)
    messages = [m for m in plan.messages(order="date") if m.folder == "INBOX"]
    unread_before = sum(1 for m in messages if "\\Seen" not in m.flags)
    assert unread_before, (
        "the generated inbox must hold unread replies for this test to mean anything"
    )
    load_mailbox(imap_account, messages)
    config = write_config(tmp_path, imap_account)
    result = CliRunner().invoke(cli, ["scan"], env={"MAILFOLLOW_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    with connect(imap_account) as client:
        client.select_folder("INBOX", readonly=True)
        unread_after = len(client.search(["UNSEEN"]))
    assert unread_after == unread_before


def _describe(label: ConversationLabel) -> str:
    return f"{label.scenario} {label.key} (expected {label.stage}/{label.expected_state})"


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
