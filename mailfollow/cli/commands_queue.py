"""Commands: pending, show, approve, skip, snooze, review.

`approve` shows the message exactly as it will be sent and asks before
approving when run on a terminal (``--yes`` approves without asking; without
a terminal it refuses unless given ``--yes``). It then sends at once, through
the same checked send pass as the daemon (a reply that came in meanwhile
still cancels it); ``--no-send`` leaves the sending to the daemon.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from mailfollow import errors, outbox, pipeline
from mailfollow.adapters.store import DraftRecord, Store
from mailfollow.cli import AppContext, pass_app
from mailfollow.cli.output import iso, print_json, print_table, short_time, user_zone
from mailfollow.config import Config, parse_duration
from mailfollow.drafts_folder import normalize_text
from mailfollow.model import QueueState

Q = QueueState
_REVIEWED = (Q.PENDING, Q.UNCONFIRMED, Q.FAILED)


def _now() -> datetime:
    return datetime.now().astimezone()


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


# --------------------------------------------------------------------------- pending


def queue_item_json(item: outbox.QueueItem) -> dict[str, Any]:
    r = item.record
    return {
        "id": r.id,
        "conversation_id": r.conversation_id,
        "status": r.status.value,
        "to": r.recipient.email,
        "to_name": r.recipient.name,
        "from": r.sender.email,
        "subject": r.subject,
        "in_reply_to": r.in_reply_to,
        "references": list(r.references),
        "message_id": r.message_id,
        "mailfollow_id": r.mailfollow_id,
        "nudge_number": r.nudge_number,
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
        "approved_at": iso(r.approved_at),
        "snooze_until": iso(r.snooze_until),
        "next_try": iso(item.next_try),
        "user_edited": r.user_edited,
        "reason": item.reason,
        "error": r.error,
        "drafts_folder": {"folder": r.imap_folder, "uid": r.imap_uid} if r.imap_folder else None,
        "body": r.body,
    }


def _note(item: outbox.QueueItem, config: Config) -> str:
    r, zone = item.record, user_zone(config)
    if r.status is Q.SNOOZED:
        return f"until {short_time(r.snooze_until, zone)}"
    if r.status is Q.APPROVED and item.next_try is not None:
        return f"retry after {short_time(item.next_try, zone)}: {r.error or item.reason}"
    if r.status is Q.APPROVED:
        return "sends at the next pass"
    if r.status is Q.SENDING:
        return "being sent (settled at the next poll if interrupted)"
    if r.status is Q.PENDING and r.error:
        return r.error
    if r.status in (Q.UNCONFIRMED, Q.FAILED, Q.WITHDRAWN):
        return r.error or item.reason
    return "edited by you" if r.user_edited else ""


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def pending(app: AppContext, as_json: bool) -> None:
    """List the drafts waiting for you (and the server), with the ones sent
    nowhere and why: unconfirmed, failed, and withdrawn in the last week.

    Works on the store; it does not contact the server.
    """
    config = app.config()
    with pipeline.open_store(config) as store:
        items = outbox.list_queue(store, now=_now())
    if as_json:
        print_json([queue_item_json(i) for i in items])
        return
    if not items:
        click.echo("No drafts waiting. `mailfollow scan` drafts what is due.")
        return
    zone = user_zone(config)
    rows = [
        (
            str(i.record.id),
            i.record.status.value,
            short_time(i.record.created_at, zone),
            i.record.recipient.email,
            i.record.subject,
            _note(i, config),
        )
        for i in items
    ]
    print_table(
        ("ID", "STATUS", "CREATED", "TO", "SUBJECT", "NOTE"), rows, limits=(0, 0, 0, 30, 40, 70)
    )
    if any(i.record.status in _REVIEWED for i in items):
        click.echo(
            "\nRead one with `mailfollow show ID`; approve with `mailfollow approve ID`,"
            " or go through them with `mailfollow review`."
        )


# --------------------------------------------------------------------------- show


def _draft(store: Store, draft_id: int) -> DraftRecord:
    return outbox.require_draft(store, draft_id)


def show_lines(store: Store, config: Config, record: DraftRecord) -> list[str]:
    zone = user_zone(config)
    lines = [
        f"Draft {record.id}: {record.status.value}"
        + (" (edited by you)" if record.user_edited else ""),
        f"From:            {record.sender}",
        f"To:              {record.recipient}",
        f"Subject:         {record.subject}",
        f"In-Reply-To:     {record.in_reply_to or '-'}",
        f"References:      {' '.join(record.references) or '-'}",
        f"Message-ID:      {record.message_id}",
        f"X-Mailfollow-Id: {record.mailfollow_id}",
        f"Conversation:    {record.conversation_id} (follow-up {record.nudge_number})",
        f"Created:         {short_time(record.created_at, zone)}",
    ]
    for label, moment in (
        ("Approved", record.approved_at),
        ("Snoozed until", record.snooze_until),
        ("Sent", record.sent_at),
    ):
        if moment is not None:
            lines.append(f"{label + ':':<16} {short_time(moment, zone)}")
    if record.error:
        lines.append(f"Problem:         {record.error}")
    if record.imap_folder:
        lines.append(f"Drafts copy:     {record.imap_folder} (UID {record.imap_uid or '?'})")
    lines += ["", record.body.rstrip("\n"), "", "History:"]
    for event in store.history(record.id):
        change = (
            f"{event.from_status.value} -> {event.to_status.value}"
            if event.from_status is not None and event.from_status is not event.to_status
            else event.to_status.value
        )
        lines.append(f"  {short_time(event.at, zone)}  {change}: {event.reason}")
    return lines


@click.command()
@click.argument("draft_id", metavar="ID", type=int)
@pass_app
def show(app: AppContext, draft_id: int) -> None:
    """Show a draft: its headers, text, status and history."""
    config = app.config()
    with pipeline.open_store(config) as store:
        lines = show_lines(store, config, _draft(store, draft_id))
    for line in lines:
        click.echo(line)


# --------------------------------------------------------------------------- approve


def _edit_text(store: Store, record: DraftRecord, *, now: datetime, how: str) -> DraftRecord:
    """Open $EDITOR on the draft's text; a saved change is kept as the user's edit."""
    text = click.edit(record.body, extension=".txt", require_save=True)
    if text is None or normalize_text(text) == normalize_text(record.body):
        click.echo("Text unchanged.")
        return record
    updated = outbox.edit(store, record.id, normalize_text(text) + "\n", now=now, reason=how)
    click.echo(f"Draft {record.id}: your text is saved.")
    return updated


def _send_now(config: Config, draft_ids: Sequence[int]) -> bool:
    """Send the just-approved drafts and say how it went; False if any of them will
    not go out (failed, unconfirmed, withdrawn...), True if sent or still approved."""
    try:
        report = outbox.send_approved(config, now=_now(), only=draft_ids)
    except errors.MailfollowError:
        click.echo("Approved, but not sent now:", err=True)
        raise
    if report.busy:
        click.echo("Approved. Another mailfollow process is sending right now; it sends these too.")
        return True
    with pipeline.open_store(config) as store:
        records = [_draft(store, i) for i in draft_ids]
        reasons = {r.id: outbox.latest_reason(store, r) for r in records}
    fine = True
    for record in records:
        if record.status is Q.SENT:
            click.echo(f"Sent draft {record.id} to {record.recipient.email}.")
            continue
        fine = fine and record.status is Q.APPROVED
        why = record.error or reasons[record.id]
        if record.status is Q.APPROVED:
            click.echo(
                f"Draft {record.id} is approved but not sent yet: {why}."
                " The daemon (`mailfollow run`) sends it later."
            )
        else:
            click.echo(f"Draft {record.id} was not sent; it is {record.status.value}: {why}")
    for note in (*report.notes, *report.warnings):
        click.echo(note, err=True)
    return fine


@click.command()
@click.argument("draft_id", metavar="ID", type=int)
@click.option("--edit", "edit_first", is_flag=True, help="Edit the text in $EDITOR first.")
@click.option("--yes", "-y", is_flag=True, help="Approve without asking.")
@click.option(
    "--no-send", is_flag=True, help="Only approve; the daemon (`mailfollow run`) sends it."
)
@pass_app
def approve(app: AppContext, draft_id: int, edit_first: bool, yes: bool, no_send: bool) -> None:
    """Approve draft ID (after showing it exactly as it will be sent), then send it.

    Just before sending, the mailbox is checked once more: a reply that
    arrived meanwhile cancels the follow-up.
    """
    config = app.config()
    now = _now()
    with pipeline.open_store(config) as store:
        record = _draft(store, draft_id)
        if record.status is Q.APPROVED and not edit_first:
            click.echo(f"Draft {draft_id} is already approved.")
        else:
            if edit_first:
                record = _edit_text(store, record, now=now, how="edited with `approve --edit`")
            if not _confirmed_approval(store, config, record, now=now, yes=yes):
                return
    if no_send:
        click.echo(f"Approved draft {draft_id}; the daemon (`mailfollow run`) sends it.")
        return
    if not _send_now(config, [draft_id]):
        sys.exit(1)


def _confirmed_approval(
    store: Store, config: Config, record: DraftRecord, *, now: datetime, yes: bool
) -> bool:
    shown = outbox.preview(store, config, record.id, now=now)
    click.echo(shown.display())
    click.echo("")
    if record.status is Q.UNCONFIRMED:
        click.echo(
            "Careful: this follow-up may already have been delivered (see `mailfollow show"
            f" {record.id}`); approving sends it again, with the same Message-ID."
        )
    if not yes:
        if not _stdin_is_terminal():
            raise outbox.QueueError(
                f"not approving draft {record.id} without a confirmation: this is not a terminal;"
                " add --yes to approve it as shown"
            )
        if not click.confirm(f"Approve and send this follow-up to {record.recipient.email}?"):
            click.echo("Not approved.")
            return False
    outbox.approve(store, shown, now=now)
    return True


# --------------------------------------------------------------------------- skip, snooze


@click.command()
@click.argument("draft_id", metavar="ID", type=int)
@pass_app
def skip(app: AppContext, draft_id: int) -> None:
    """Dismiss draft ID: it is not sent (its Drafts copy goes at the next poll)."""
    config = app.config()
    with pipeline.open_store(config) as store:
        record = outbox.skip(store, draft_id, now=_now())
    click.echo(f"Skipped draft {record.id} to {record.recipient.email}.")


def _duration(text: str) -> Any:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(f"{exc} (try 3d, 36h, 1w)") from exc
    if value.total_seconds() <= 0:
        raise click.BadParameter("the duration must be positive")
    return value


@click.command()
@click.argument("draft_id", metavar="ID", type=int)
@click.argument("duration")
@pass_app
def snooze(app: AppContext, draft_id: int, duration: str) -> None:
    """Hide draft ID for DURATION (e.g. 3d, 36h, 1w); then it is pending again."""
    config = app.config()
    now = _now()
    until = now + _duration(duration)
    with pipeline.open_store(config) as store:
        record = outbox.snooze(store, draft_id, until, now=now)
    click.echo(
        f"Snoozed draft {record.id} until {short_time(record.snooze_until, user_zone(config))}."
    )


# --------------------------------------------------------------------------- review

_CHOICES = {
    "a": "approve",
    "e": "edit",
    "s": "skip",
    "z": "snooze",
    "n": "next",
    "q": "quit",
}


@click.command()
@click.option(
    "--no-send", is_flag=True, help="Only approve; the daemon (`mailfollow run`) sends them."
)
@pass_app
def review(app: AppContext, no_send: bool) -> None:
    """Go through the waiting drafts one by one: approve, edit, skip, snooze,
    next or quit. The approved ones are sent at the end."""
    config = app.config()
    approved: list[int] = []
    with pipeline.open_store(config) as store:
        waiting = store.list_drafts(_REVIEWED)
        if not waiting:
            click.echo("Nothing to review.")
            return
        for number, record in enumerate(waiting, start=1):
            click.echo(f"\n=== {number} of {len(waiting)} ===")
            outcome = _review_one(store, config, record.id)
            if outcome == "approve":
                approved.append(record.id)
            if outcome == "quit":
                break
    if approved and not no_send:
        click.echo("")
        if not _send_now(config, approved):
            sys.exit(1)
    elif approved:
        click.echo(f"Approved {len(approved)} draft(s); the daemon (`mailfollow run`) sends them.")


def _review_one(store: Store, config: Config, draft_id: int) -> str:
    """One draft: show it, act on the user's choice; returns the final choice."""
    prompt = ", ".join(f"[{key}] {word}" for key, word in _CHOICES.items())
    while True:
        now = _now()
        record = _draft(store, draft_id)
        if record.status not in _REVIEWED:
            return "next"  # settled elsewhere meanwhile
        try:
            shown: outbox.Preview | None = outbox.preview(store, config, draft_id, now=now)
        except ValueError as exc:  # HeaderInjectionError is one
            shown = None
            click.echo(f"Draft {draft_id} cannot be sent as it is: {exc}")
        click.echo(f"Draft {draft_id} ({record.status.value})")
        click.echo(shown.display() if shown else record.body)
        if record.error:
            click.echo(f"\nNote: {record.error}")
        choice = click.prompt(
            prompt, type=click.Choice(list(_CHOICES)), default="n", show_choices=False
        )
        action = _CHOICES[choice]
        if action == "approve" and shown is None:
            click.echo("It cannot be approved as it is: edit or skip it.")
            continue
        if action == "approve" and shown is not None:
            outbox.approve(store, shown, now=now, reason="approved in `mailfollow review`")
            click.echo(f"Approved draft {draft_id}.")
            return action
        if action == "edit":
            _edit_text(store, record, now=now, how="edited in `mailfollow review`")
            continue
        if action == "skip":
            outbox.skip(store, draft_id, now=now, reason="skipped in `mailfollow review`")
            click.echo(f"Skipped draft {draft_id}.")
            return action
        if action == "snooze":
            text = click.prompt("Snooze for", default="3d", value_proc=_duration)
            outbox.snooze(store, draft_id, now + text, now=now)
            click.echo(f"Snoozed draft {draft_id}.")
            return action
        if action in ("next", "quit"):
            return action


def add_commands(group: click.Group) -> None:
    """Attach this module's commands to the root group."""
    for command in (pending, show, approve, skip, snooze, review):
        group.add_command(command)
