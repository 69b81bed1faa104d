"""Small builders of plain model objects for unit tests."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

from mailfollow.model import Address, FolderRole, Message

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # a Monday
ME = Address("alex.doe@example.org", "Alex Doe")

_counter = itertools.count(1)


def make_message(
    *,
    sender: Address | str = ME,
    to: tuple[Address | str, ...] = (Address("jane@acme.example", "Jane Smith"),),
    subject: str = "Application: Backend Engineer",
    date: datetime | None = None,
    days_ago: float | None = None,
    message_id: str | None = None,
    in_reply_to: tuple[str, ...] = (),
    references: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
    snippet: str = "",
    attachment_names: tuple[str, ...] = (),
    folder_role: FolderRole | None = None,
    **extra: object,
) -> Message:
    """A Message with sensible defaults; addresses may be given as plain strings."""
    sender_addr = Address(sender) if isinstance(sender, str) else sender
    when = date or (NOW - timedelta(days=days_ago if days_ago is not None else 10))
    role = folder_role or (FolderRole.SENT if sender_addr == ME else FolderRole.INBOX)
    return Message(
        message_id=message_id or f"m{next(_counter)}@test.example",
        subject=subject,
        date=when,
        sender=sender_addr,
        to=tuple(Address(a) if isinstance(a, str) else a for a in to),
        in_reply_to=in_reply_to,
        references=references,
        headers=headers or {},
        snippet=snippet,
        attachment_names=attachment_names,
        folder=role.value.upper() if role is FolderRole.INBOX else role.value.title(),
        folder_role=role,
        **extra,  # type: ignore[arg-type]
    )


def as_deferred(message: Message) -> Message:
    """``message`` as a large sync stores it: headers only, text and MIME
    structure left on the server (Message.text_deferred)."""
    return dataclasses.replace(
        message,
        snippet="",
        attachment_names=(),
        part_types=(message.content_type,),
        text_deferred=True,
    )
