"""Commands: threads, plan, explain, track, ignore."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

import click

from mailfollow import pipeline
from mailfollow.adapters.store import Store
from mailfollow.cli import AppContext, pass_app
from mailfollow.cli.output import (
    iso,
    parse_moment,
    print_json,
    print_table,
    short_time,
    user_zone,
)
from mailfollow.config import Config
from mailfollow.core.policy import explain as explain_verdict
from mailfollow.drafts_folder import MailboxAccess
from mailfollow.errors import MailfollowError
from mailfollow.model import Stage, State


def _now() -> datetime:
    return datetime.now().astimezone()


def _assess(config: Config, as_of: str | None) -> tuple[list[pipeline.Assessment], datetime]:
    now = parse_moment(as_of, user_zone(config)) if as_of else _now()
    with pipeline.open_store(config) as store:
        return _assess_store(store, config, now), now


def _assess_store(store: Store, config: Config, now: datetime) -> list[pipeline.Assessment]:
    """Assess from the store; the account is reached only for texts a large sync
    left on the server."""
    with MailboxAccess.for_config(config) as mailbox:
        texts = pipeline.MailboxTexts(store, mailbox)
        return pipeline.assess(store, config, now=now, texts=texts)


def conversation_json(item: pipeline.Assessment) -> dict[str, Any]:
    c, v = item.conversation, item.verdict
    return {
        "id": c.id,
        "stage": c.stage.value,
        "state": v.state.value,
        "counterpart": c.counterpart.email,
        "counterpart_name": c.counterpart.name,
        "company": c.company,
        "subject": c.subject,
        "message_ids": list(c.message_ids),
        "last_sent_at": iso(v.last_sent_at),
        "last_reply_at": iso(v.last_reply_at),
        "nudges_sent": c.nudges_sent,
        "due_at": iso(v.due_at),
        "reasons": list(v.reasons),
    }


def print_conversations(config: Config, items: list[pipeline.Assessment]) -> None:
    zone = user_zone(config)
    rows = [
        (
            a.conversation.id,
            a.verdict.state.value,
            a.conversation.stage.value,
            short_time(a.verdict.due_at, zone),
            a.conversation.counterpart.email,
            a.conversation.subject,
        )
        for a in items
    ]
    print_table(
        ("ID", "STATE", "STAGE", "DUE", "COUNTERPART", "SUBJECT"), rows, limits=(0, 0, 0, 0, 32, 48)
    )


def find_assessment(items: list[pipeline.Assessment], key: str) -> pipeline.Assessment:
    """By conversation id (or a unique prefix of it) or by any Message-ID in it."""
    key = key.strip().strip("<>")
    exact = [a for a in items if a.conversation.id == key or key in a.conversation.message_ids]
    if exact:
        return exact[0]
    prefixed = [a for a in items if a.conversation.id.startswith(key)]
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        raise MailfollowError(f"{key!r} matches {len(prefixed)} conversations; give more of the id")
    raise MailfollowError(f"no tracked conversation {key!r} (see `mailfollow threads`)")


_STATES = click.Choice([s.value for s in State])
_STAGES = click.Choice([s.value for s in Stage])
_AS_OF = click.option(
    "--as-of",
    metavar="DATETIME",
    help="Evaluate at this moment instead of now (ISO 8601; without an offset, in your time zone).",
)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--state", "states", type=_STATES, multiple=True, help="Only these states (repeatable)."
)
@_AS_OF
@pass_app
def threads(app: AppContext, as_json: bool, states: tuple[str, ...], as_of: str | None) -> None:
    """List the tracked conversations and where each stands.

    Works on what the last `mailfollow scan` stored; it does not contact the server.
    """
    config = app.config()
    items, _ = _assess(config, as_of)
    if states:
        items = [a for a in items if a.verdict.state.value in states]
    if as_json:
        print_json([conversation_json(a) for a in items])
    elif not items:
        click.echo("No tracked conversations yet. Run `mailfollow scan` first.")
    else:
        print_conversations(config, items)


@click.command()
@click.option(
    "--days", default=7, show_default=True, type=click.IntRange(min=0), help="How far ahead."
)
@_AS_OF
@pass_app
def plan(app: AppContext, days: int, as_of: str | None) -> None:
    """What becomes due in the next DAYS days, and when (drafts nothing)."""
    config = app.config()
    items, now = _assess(config, as_of)
    horizon = now + timedelta(days=days)
    coming = sorted(
        (
            a
            for a in items
            if a.verdict.due_at is not None
            and a.verdict.due_at <= horizon
            and a.verdict.state in (State.DUE, State.WAITING, State.PROMISED)
        ),
        key=lambda a: a.verdict.due_at or now,
    )
    if not coming:
        click.echo(f"Nothing becomes due in the next {days} day(s).")
        return
    zone = user_zone(config)
    rows = [
        (
            short_time(a.verdict.due_at, zone),
            "now" if a.verdict.state is State.DUE else a.verdict.state.value,
            a.conversation.id,
            a.conversation.stage.value,
            a.conversation.counterpart.email,
            a.conversation.subject,
        )
        for a in coming
    ]
    print_table(
        ("WHEN", "STATE", "ID", "STAGE", "COUNTERPART", "SUBJECT"),
        rows,
        limits=(0, 0, 0, 0, 32, 44),
    )


@click.command()
@click.argument("conversation")
@_AS_OF
@pass_app
def explain(app: AppContext, conversation: str, as_of: str | None) -> None:
    """Show a conversation's timeline, how each message was classified, and why
    it is or is not due. CONVERSATION is an id (or its start) or a Message-ID."""
    config = app.config()
    items, _ = _assess(config, as_of)
    item = find_assessment(items, conversation)
    c = item.conversation
    click.echo(f"Conversation {c.id}: {c.subject}")
    click.echo(f"  with {c.counterpart}" + (f" ({c.company})" if c.company else ""))
    click.echo(f"  stage {c.stage.value}, {c.nudges_sent} follow-up(s) sent")
    click.echo("")
    for line in explain_verdict(c, item.verdict):
        click.echo(line)


@click.command()
@click.argument("message_id")
@click.option("--stage", type=_STAGES, required=True, help="What kind of conversation it starts.")
@pass_app
def track(app: AppContext, message_id: str, stage: str) -> None:
    """Track a message you sent (or a conversation) that mailfollow missed.

    The correction is kept in the store and survives later scans.
    """
    config = app.config()
    target = message_id.strip().strip("<>")
    with pipeline.open_store(config) as store:
        store.add_correction("track", target, stage=Stage(stage), at=_now())
    click.echo(f"Tracking {target} as {stage}.")


@click.command()
@click.argument("target")
@pass_app
def ignore(app: AppContext, target: str) -> None:
    """Stop tracking a conversation (TARGET: conversation id or Message-ID)."""
    config = app.config()
    key = target.strip().strip("<>")
    with pipeline.open_store(config) as store:
        items = _assess_store(store, config, _now())
        # A Message-ID not tracked yet is kept as it is: the correction applies later.
        with contextlib.suppress(MailfollowError):
            key = find_assessment(items, key).conversation.id
        store.add_correction("ignore", key, at=_now())
    click.echo(f"Ignoring {key}; `mailfollow track` undoes it.")


def add_commands(group: click.Group) -> None:
    """Attach this module's commands to the root group."""
    for command in (threads, plan, explain, track, ignore):
        group.add_command(command)
