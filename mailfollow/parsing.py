"""Fetched IMAP data -> store rows: headers and snippets parsed, rows encoded.

Pure work on plain data, done where the data was fetched: in the syncing
process, or in its lane (mailfollow.lanes), which sends the rows back as
plain tuples.
"""

from __future__ import annotations

import codecs
import dataclasses
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mailfollow.adapters.mailbox import FetchedMessage, TextPart
from mailfollow.adapters.store import EncodedMessage, encode_message
from mailfollow.core.headers import decode_snippet, parse_header_block, summarize_delivery_status
from mailfollow.model import FolderRole, Message

SNIPPET_LIMIT = 600


@dataclass(frozen=True)
class ParsedFetch:
    """One fetched message, ready for the store (or why it is not)."""

    uid: int
    modseq: int | None
    message: EncodedMessage | None  # None: the parser failed, see ``error``
    message_id: str = ""
    problems: tuple[str, ...] = ()
    error: str = ""


def message_from_fetched(fetched: FetchedMessage, *, folder: str, role: FolderRole) -> Message:
    """A fetched header block, structure and snippet -> Message."""
    problems: list[str] = []
    text = _decode_part(fetched.snippet, fetched.body.text_part, problems)
    if fetched.body.report_section is not None and fetched.report:
        summary = summarize_delivery_status(
            decode_snippet(fetched.report, transfer_encoding="", charset="utf-8", limit=4096)
        )
        if summary:
            text = f"{summary}\n\n{text}"
    message = parse_header_block(
        fetched.header,
        snippet=text[:SNIPPET_LIMIT],
        attachment_names=fetched.body.attachment_names,
        part_types=fetched.body.part_types,
        internal_date=fetched.internal_date,
        folder=folder,
        folder_role=role,
        flags=fetched.flags,
        gm_thread_id=fetched.gm_thread_id,
        text_deferred=fetched.text_deferred,
    )
    if problems:
        message = dataclasses.replace(message, problems=(*message.problems, *problems))
    return message


def parse_batch(
    batch: Sequence[FetchedMessage], folder: str, role: FolderRole
) -> list[ParsedFetch]:
    """Parse and encode a batch; a message the parser chokes on is reported, not raised."""
    parsed = []
    for fetched in batch:
        try:
            message = message_from_fetched(fetched, folder=folder, role=role)
        except Exception:  # noqa: BLE001 (a parser bug must not stop the scan; the log shows it)
            parsed.append(
                ParsedFetch(fetched.uid, fetched.modseq, None, error=traceback.format_exc())
            )
            continue
        parsed.append(
            ParsedFetch(
                fetched.uid,
                fetched.modseq,
                encode_message(message),
                message_id=message.message_id,
                problems=message.problems,
            )
        )
    return parsed


# Parsed batches cross from a lane process (mailfollow.lanes) as plain tuples:
# pickling dataclasses costs three times as much.


def parsed_to_wire(parsed: ParsedFetch) -> tuple[Any, ...]:
    row = parsed.message
    return (
        parsed.uid,
        parsed.modseq,
        None
        if row is None
        else (
            row.message_id,
            row.date,
            row.data,
            row.flags,
            row.folder_role.value,
            row.text_deferred,
        ),
        parsed.message_id,
        parsed.problems,
        parsed.error,
    )


def parsed_from_wire(item: Sequence[Any]) -> ParsedFetch:
    uid, modseq, row, message_id, problems, error = item
    encoded = None
    if row is not None:
        row_id, date, data, flags, role, deferred = row
        encoded = EncodedMessage(row_id, date, data, flags, FolderRole(role), deferred)
    return ParsedFetch(uid, modseq, encoded, message_id, tuple(problems), error)


def _decode_part(data: bytes, part: TextPart | None, problems: list[str]) -> str:
    if part is None or not data:
        return ""
    if part.charset and not _known_charset(part.charset):
        problems.append(f"unknown charset {part.charset!r} in the text part; guessed UTF-8/Latin-1")
    return decode_snippet(
        data,
        transfer_encoding=part.encoding,
        charset=part.charset or None,
        subtype=part.subtype,
        limit=SNIPPET_LIMIT,
    )


def _known_charset(charset: str) -> bool:
    try:
        codecs.lookup(charset.strip())
    except LookupError:
        return False
    return True
