"""Commands: scan, demo, login."""

from __future__ import annotations

import mailbox
import os
import sys
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

import click

from mailfollow import pipeline
from mailfollow.cli import AppContext, pass_app
from mailfollow.cli.commands_conversations import print_conversations
from mailfollow.cli.output import print_table
from mailfollow.config import Config, parse_config
from mailfollow.model import State
from mailfollow.progress import Progress

_ANSWERED = (
    State.REPLIED,
    State.YOUR_TURN,
    State.PROMISED,
    State.REJECTED,
    State.BOUNCED,
    State.OFFER,
)
# Maildir info flags for the IMAP system flags the demo mailbox uses.
_MAILDIR_FLAG = {"\\Seen": "S", "\\Answered": "R", "\\Flagged": "F", "\\Draft": "D"}


def print_poll_report(report: pipeline.PollReport) -> None:
    synced = report.sync
    rows = [
        (
            f.name,
            f.role.value,
            "unchanged" if f.unchanged else f"{f.new} new",
            str(f.changed),
            str(f.removed),
        )
        for f in synced.folders
    ]
    if rows:
        print_table(("FOLDER", "ROLE", "MESSAGES", "CHANGED", "REMOVED"), rows)
    click.echo(
        f"{synced.new} new, {synced.changed} changed, {synced.removed} removed message(s);"
        f" {len(synced.warnings)} warning(s)."
    )
    if synced.deferred or report.texts_fetched:
        click.echo(
            f"Texts left on the server until needed: {synced.deferred}; fetched for messages"
            f" that could join a conversation: {report.texts_fetched}."
        )
    states = Counter(a.verdict.state.value for a in report.assessments)
    if states:
        summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        click.echo(f"{report.conversations} tracked conversation(s): {summary}.")
    for record in report.withdrawn:
        click.echo(f"Withdrew draft {record.id} to {record.recipient.email}.")
    if report.drafted:
        click.echo(
            f"Drafted {len(report.drafted)} follow-up(s); review them with `mailfollow pending`."
        )
    for refusal in report.refusals:
        click.echo(f"No draft for {refusal.conversation_id}: {refusal.reason}")


@click.command()
@click.option(
    "--source",
    metavar="maildir:PATH|mbox:PATH",
    help="Read a local Maildir or mbox file (e.g. a webmail export) instead of the IMAP account.",
)
@click.option("--no-draft", is_flag=True, help="Only look: sync and evaluate, draft nothing.")
@pass_app
def scan(app: AppContext, source: str | None, no_draft: bool) -> None:
    """Run one pass: sync the mailbox, re-evaluate conversations, draft what is due."""
    config = app.config()
    now = datetime.now().astimezone()
    with Progress(stream=sys.stderr) as progress:
        report = pipeline.poll_once(
            config, now=now, source=source, draft=not no_draft, progress=progress
        )
    print_poll_report(report)


def _demo_config(state_dir: Path) -> Config:
    """Settings for the demo mailbox's owner; the servers are never contacted."""
    return parse_config(
        {
            "account": {
                "name": "Alex Doe",
                "address": "alex.doe@example.org",
                "aliases": ["alex@doe.example"],
                "imap": {"host": "imap.example.org"},
                "smtp": {"host": "smtp.example.org"},
            },
            "drafts": {"signature": "+1 555 0100\nlinkedin.com/in/alexdoe"},
            "state": {"dir": str(state_dir)},
        }
    )


def _write_demo_maildir(root: Path) -> int:
    """Unpack the bundled demo mailbox into a Maildir with its folders and flags."""
    from mailfollow.demo import demo_messages

    inbox = mailbox.Maildir(root, create=True)
    folders: dict[str, mailbox.Maildir] = {}
    count = 0
    for item in demo_messages():
        if item.folder.upper() == "INBOX":
            box = inbox
        else:
            box = folders.setdefault(item.folder, inbox.add_folder(item.folder))
        message = mailbox.MaildirMessage(item.raw)
        message.set_subdir("cur")
        message.set_flags(
            "".join(sorted(_MAILDIR_FLAG[f] for f in item.flags if f in _MAILDIR_FLAG))
        )
        key = box.add(message)
        stamp = item.internal_date.timestamp()
        os.utime(Path(box._path) / "cur" / f"{key}:2,{message.get_flags()}", (stamp, stamp))
        count += 1
    return count


@click.command()
@pass_app
def demo(app: AppContext) -> None:
    """Run the whole pipeline on the bundled demo mailbox and show what it found.

    Everything happens in a temporary directory; no server is contacted.
    """
    from mailfollow.demo import DEMO_AS_OF

    with tempfile.TemporaryDirectory(prefix="mailfollow-demo-") as tmp:
        root = Path(tmp)
        count = _write_demo_maildir(root / "Maildir")
        config = _demo_config(root / "state")
        click.echo(
            f"Demo mailbox: {count} messages of a job search,"
            f" evaluated as of {DEMO_AS_OF:%A %Y-%m-%d %H:%M} UTC.\n"
        )
        report = pipeline.poll_once(config, now=DEMO_AS_OF, source=f"maildir:{root / 'Maildir'}")
        items = list(report.assessments)
        click.echo("Tracked conversations:")
        print_conversations(config, items)
        click.echo("")
        states = Counter(a.verdict.state for a in items)
        click.echo(
            f"{len(items)} conversations: "
            + ", ".join(
                f"{n} {s.value}" for s, n in sorted(states.items(), key=lambda p: p[0].value)
            )
        )
        click.echo(
            f"{states[State.DUE]} due for a follow-up; "
            f"{sum(states[s] for s in _ANSWERED)} answered, turned down or bounced"
            " (never nudged).\n"
        )
        for record in report.drafted[:3]:
            click.echo(f"--- draft {record.id} (waiting for approval) ---")
            click.echo(f"To: {record.recipient}")
            click.echo(f"Subject: {record.subject}\n")
            click.echo(record.body.rstrip())
            click.echo("")
        if len(report.drafted) > 3:
            click.echo(f"... and {len(report.drafted) - 3} more draft(s).")
        click.echo(
            f"{len(report.drafted)} follow-up(s) drafted. Nothing was sent: with a real account"
            " they wait in `mailfollow pending` and in your Drafts folder until you approve them."
        )
        click.echo(
            "Try `mailfollow explain ID` on your own mailbox to see why a conversation is due."
        )


@click.command()
@pass_app
def login(app: AppContext) -> None:
    """Ask for the mail password once and keep it in the system keyring."""
    from mailfollow.credentials import store_password

    config = app.config()
    password = click.prompt(
        f"Password for {config.account.username} at {config.account.imap.host}", hide_input=True
    )
    store_password(config, password)
    click.echo("Password stored in the keyring.")


def add_commands(group: click.Group) -> None:
    """Attach this module's commands to the root group."""
    for command in (scan, demo, login):
        group.add_command(command)
