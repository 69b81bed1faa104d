"""Fetched IMAP data -> store rows: parsed and encoded here or in a worker process.

A first sync of a large mailbox is bound by the client's CPU. Reading the
IMAP answers and writing the database stay in the syncing process; parsing
headers and snippets and encoding rows (pure work on plain data) can go to
one worker process, on another core, a batch behind the fetch. Later polls
bring a handful of messages, so they parse in process: starting a worker
costs more than it saves.
"""

from __future__ import annotations

import codecs
import dataclasses
import logging
import multiprocessing
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol, Self

from mailfollow.adapters.mailbox import BodyInfo, FetchedMessage, TextPart
from mailfollow.adapters.store import EncodedMessage, encode_message
from mailfollow.core.headers import decode_snippet, parse_header_block, summarize_delivery_status
from mailfollow.model import FolderRole, Message

logger = logging.getLogger(__name__)

SNIPPET_LIMIT = 600
# Below this many new messages in a folder a worker process is not worth its
# start-up (about 0.2 s of CPU to start Python and import the parser).
WORKER_THRESHOLD = 2000
# Batches the worker may have waiting before the syncing process parses the
# next one itself: one to work on and one ready, so it never idles.
WORKER_QUEUE = 2


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


class PendingBatch(Protocol):
    def done(self) -> bool: ...

    def result(self) -> list[ParsedFetch]: ...


class BatchParser(Protocol):
    def submit(
        self, batch: Sequence[FetchedMessage], folder: str, role: FolderRole
    ) -> PendingBatch: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class _Done:
    parsed: list[ParsedFetch]

    def done(self) -> bool:
        return True

    def result(self) -> list[ParsedFetch]:
        return self.parsed


class InlineParser:
    """Parses in the calling process, at once."""

    def submit(
        self, batch: Sequence[FetchedMessage], folder: str, role: FolderRole
    ) -> PendingBatch:
        return _Done(parse_batch(batch, folder, role))

    def close(self) -> None:
        pass


class WorkerParser:
    """Parses in one worker process; parses in process instead if the worker dies.

    The worker is forked when this process runs a single thread (a one-off
    scan): it is ready at once, with the parser already imported. A process
    with threads (the daemon) spawns it instead, a fresh interpreter that
    takes about a fifth of a second to start: a forked copy of a threaded
    process can deadlock on a lock another thread held.
    """

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context(_start_method()),
            initializer=_leave_interrupts_to_the_parent,
        )
        self._pool.submit(_warm_up)  # start the process now, while the first batch is fetched

    @property
    def alive(self) -> bool:
        return self._pool is not None

    def submit(
        self, batch: Sequence[FetchedMessage], folder: str, role: FolderRole
    ) -> PendingBatch:
        if self._pool is not None:
            try:
                future = self._pool.submit(_parse_sent_batch, _sendable(batch), folder, role)
            except (BrokenProcessPool, RuntimeError, OSError) as exc:
                self.give_up(exc)
            else:
                return _InWorker(self, future, batch, folder, role)
        return _Done(parse_batch(batch, folder, role))

    def close(self, *, wait: bool = True) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def give_up(self, exc: BaseException) -> None:
        """Stop using a worker that failed; later batches are parsed in process."""
        logger.warning("the parsing worker failed (%s); parsing in this process", exc)
        self.close(wait=False)


def _start_method() -> str:
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def _leave_interrupts_to_the_parent() -> None:
    """Ctrl-C reaches the whole process group: the syncing process stops the
    worker itself, so the worker must not die on it with a traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _warm_up() -> None:
    """Nothing: running it makes the worker start and import this module."""


@dataclass(frozen=True)
class _InWorker:
    owner: WorkerParser
    future: Future[list[tuple[Any, ...]]]
    batch: Sequence[FetchedMessage]
    folder: str
    role: FolderRole

    def done(self) -> bool:
        return self.future.done()

    def result(self) -> list[ParsedFetch]:
        try:
            return [_received_parse(item) for item in self.future.result()]
        except BrokenProcessPool as exc:  # the worker was killed or crashed
            self.owner.give_up(exc)
            return parse_batch(self.batch, self.folder, self.role)


# Batches cross to the worker and back as plain tuples: pickling dataclasses
# costs three times as much, about 10 us a message both ways.


def _sendable(batch: Sequence[FetchedMessage]) -> list[tuple[Any, ...]]:
    return [
        (
            m.uid,
            m.header,
            m.internal_date,
            m.flags,
            m.modseq,
            _sendable_body(m.body),
            m.snippet,
            m.report,
            m.gm_thread_id,
            m.text_deferred,
        )
        for m in batch
    ]


def _sendable_body(body: BodyInfo) -> tuple[Any, ...]:
    part = body.text_part
    return (
        body.content_type,
        body.part_types,
        body.attachment_names,
        None if part is None else (part.section, part.subtype, part.charset, part.encoding),
        body.report_section,
    )


def _parse_sent_batch(
    items: Sequence[tuple[Any, ...]], folder: str, role: FolderRole
) -> list[tuple[Any, ...]]:
    """parse_batch in the worker, from and to what _sendable and _received_parse read."""
    batch = []
    for uid, header, date, flags, modseq, body, snippet, report, thread, deferred in items:
        content_type, part_types, names, part, report_section = body
        batch.append(
            FetchedMessage(
                uid,
                header,
                date,
                flags,
                modseq,
                BodyInfo(
                    content_type,
                    part_types,
                    names,
                    None if part is None else TextPart(*part),
                    report_section,
                ),
                snippet,
                report,
                thread,
                deferred,
            )
        )
    return [
        (
            p.uid,
            p.modseq,
            None if p.message is None else _sendable_row(p.message),
            p.message_id,
            p.problems,
            p.error,
        )
        for p in parse_batch(batch, folder, role)
    ]


def _sendable_row(m: EncodedMessage) -> tuple[Any, ...]:
    return (m.message_id, m.date, m.data, m.flags, m.folder_role, m.text_deferred)


def _received_parse(item: tuple[Any, ...]) -> ParsedFetch:
    uid, modseq, row, message_id, problems, error = item
    encoded = None
    if row is not None:
        row_id, date, data, flags, role, deferred = row
        encoded = EncodedMessage(row_id, date, data, flags, role, deferred)
    return ParsedFetch(uid, modseq, encoded, message_id, problems, error)


class ParseQueue:
    """Batches parsed in fetch order and handed back in that order.

    A batch goes to the worker unless it already has `WORKER_QUEUE` batches
    waiting; then this process parses it itself. Whichever side is slower,
    both cores stay busy.
    """

    def __init__(self, parser: BatchParser, folder: str, role: FolderRole) -> None:
        self._parser = parser
        self._inline = InlineParser()
        self._folder = folder
        self._role = role
        self._queue: deque[tuple[Sequence[int], PendingBatch]] = deque()

    def put(self, key: Sequence[int], batch: Sequence[FetchedMessage]) -> None:
        waiting = sum(1 for _, pending in self._queue if not pending.done())
        parser = self._inline if waiting >= WORKER_QUEUE else self._parser
        self._queue.append((key, parser.submit(batch, self._folder, self._role)))

    def ready(self) -> Iterator[tuple[Sequence[int], list[ParsedFetch]]]:
        """The batches at the head of the queue that are parsed."""
        while self._queue and self._queue[0][1].done():
            key, pending = self._queue.popleft()
            yield key, pending.result()

    def rest(self) -> Iterator[tuple[Sequence[int], list[ParsedFetch]]]:
        """Every batch left, waiting for the worker where needed."""
        while self._queue:
            key, pending = self._queue.popleft()
            yield key, pending.result()


class Parsers:
    """Chooses the parser for each fetch of a sync pass; owns the worker, if any.

    The worker, once started for a large folder, serves the rest of the pass
    (the start-up is paid once); `close` (or leaving the ``with`` block) stops it.
    """

    def __init__(self, *, threshold: int | None = None) -> None:
        self._threshold = WORKER_THRESHOLD if threshold is None else threshold
        self._inline = InlineParser()
        self._worker: WorkerParser | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def expect(self, new_messages: int) -> None:
        """Start the worker now if the pass will bring that many messages: it
        takes a fifth of a second to start, time the first fetches can hide."""
        self._started_for(new_messages)

    def for_fetch(self, new_messages: int) -> BatchParser:
        """The worker for a large fetch on a machine with cores to spare, else inline."""
        return self._started_for(new_messages) or self._inline

    def _started_for(self, new_messages: int) -> WorkerParser | None:
        if self._worker is not None and self._worker.alive:
            return self._worker
        if new_messages < self._threshold or (os.cpu_count() or 1) < 2:
            return None
        try:
            self._worker = WorkerParser()
        except (OSError, RuntimeError) as exc:
            logger.warning("cannot start a parsing worker (%s); parsing in this process", exc)
            return None
        logger.info("%d new messages: parsing them in a worker process", new_messages)
        return self._worker

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()


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
