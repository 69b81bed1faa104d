"""FETCH responses: parsing them, and reading pipelined bulk FETCHes fast.

imaplib sends one command, then reads its answer a line at a time through
several layers of Python. That is fine for the few commands of a poll, but a
first sync of a large mailbox spends most of its time there, and the server
sits idle while the client parses. `FetchPipe` keeps the next request queued
at the server while the client works on the last answer, and reads answers
in large chunks straight from the connection imaplib opened.

Requests in flight always ask for disjoint UIDs, so each untagged FETCH is
matched to its request by UID. That stays right even when a server runs
pipelined commands concurrently and interleaves their answers (RFC 3501,
section 5.5).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from imapclient import exceptions as imap_errors

from mailfollow import errors

logger = logging.getLogger(__name__)

IMAPLIB_LOGGER = "imapclient.imaplib"  # imapclient's protocol trace

_CHUNK = 256 * 1024
_MAX_LINE = 1_000_000  # imaplib's own limit on one response line
_LITERAL_AT_END = re.compile(rb"\{(\d+)\}$")
_TAGGED = re.compile(rb"([!#$&'*+,\-./0-9:-Z^-z|}~]+) (OK|NO|BAD)\b ?(.*)", re.IGNORECASE)

# One token of an IMAP response: "(", ")", a quoted string, a literal marker
# "{n}" ending the text before its bytes, or an atom (which may carry a
# section like BODY[HEADER.FIELDS (FROM TO)]<0>, spaces and all).
_TOKEN = re.compile(
    rb'(\()|(\))|"((?:[^"\\]|\\.)*)"|\{(\d+)\}$|([^\s()"\[\]]+(?:\[[^\]]*\](?:<\d+(?:\.\d+)?>)?)?)'
)
_NILS = frozenset({b"NIL", b"nil", b"Nil"})

# A response as imaplib hands it over: bytes, or (text ending in "{n}", literal).
Piece = bytes | tuple[bytes, bytes]
FetchItems = dict[bytes, Any]


# --------------------------------------------------------------------------- parsing


def parse_fetch_response(data: Sequence[Any]) -> dict[int, FetchItems]:
    """FETCH responses as imaplib collected them -> {uid: {ITEM: value}}.

    Lists become Python lists, NIL becomes None, quoted strings and literals
    become bytes, atoms stay bytes. Responses without a UID (unsolicited
    updates in a non-UID context) are dropped; two responses for one UID merge.
    """
    result: dict[int, FetchItems] = {}
    for values in fetch_values(data):
        _merge_response(result, values)
    return result


def fetch_values(data: Iterable[Any]) -> Iterator[list[Any]]:
    """Yield each response's parenthesised list of items (the part after "n FETCH")."""
    stack: list[list[Any]] = []
    current: list[Any] = []  # the top level: sequence number, then the item list
    for piece in data:
        if piece is None:
            continue
        if isinstance(piece, tuple):
            text, literal = piece
        else:
            text, literal = piece, None
        for opened, closed, quoted, literal_size, atom in _TOKEN.findall(text):
            if atom:  # the commonest token first
                current.append(None if atom in _NILS else atom)
            elif opened:
                inner: list[Any] = []
                current.append(inner)
                stack.append(current)
                current = inner
            elif closed:
                if not stack:
                    raise errors.MailboxError(f"unbalanced FETCH response: {text[:200]!r}")
                current = stack.pop()
                if not stack:
                    yield current[-1]
                    current = []
            elif literal_size:
                current.append(literal if literal is not None else b"")
            else:
                current.append(_unquote(quoted) if b"\\" in quoted else quoted)
    if stack:
        raise errors.MailboxError("FETCH response ended inside a list")


def opt_int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _merge_response(result: dict[int, FetchItems], values: Sequence[Any]) -> None:
    item = _item_dict(values)
    uid = opt_int(item.get(b"UID"))
    if uid is not None:
        result.setdefault(uid, {}).update(item)


def _unquote(value: bytes) -> bytes:
    if b"\\" not in value:
        return value
    return re.sub(rb"\\(.)", rb"\1", value)


def _item_dict(values: Sequence[Any]) -> FetchItems:
    item: FetchItems = {}
    for index in range(0, len(values) - 1, 2):
        key = values[index]
        if isinstance(key, bytes):
            item[key.upper()] = values[index + 1]
    return item


# --------------------------------------------------------------------------- pipelining


class FetchPipe:
    """Pipelined UID FETCH requests on an open imaplib connection.

    ``send`` queues a request (one or more UID FETCH commands) and returns a
    ticket at once; ``collect`` returns its answers as {uid: {ITEM: value}}.
    Commands of one request may name the same UIDs; requests in flight may
    not. Errors are imaplib's and imapclient's own (socket errors,
    ``IMAPClientAbortError`` for a broken stream, ``IMAPClientError`` for a
    refused command), so the session's error seam translates them as usual.
    """

    def __init__(self, imap: Any) -> None:
        self._imap = imap
        self._buffer = b""
        self._position = 0
        self._arrived: dict[int, FetchItems] = {}
        self._requests: dict[int, _Request] = {}
        self._tags: dict[bytes, _Request] = {}
        self._claimed: set[int] = set()
        self._next_ticket = 0
        self._trace = logging.getLogger(IMAPLIB_LOGGER).isEnabledFor(logging.DEBUG)

    @property
    def in_flight(self) -> int:
        return len(self._requests)

    def send(self, commands: Sequence[tuple[Sequence[int], str]]) -> int:
        """Queue UID FETCH commands given as (uids, items); returns a ticket."""
        request = _Request(self._next_ticket)
        self._next_ticket += 1
        for uids, items in commands:
            if not uids:
                continue
            overlap = self._claimed.intersection(uids) - request.uids
            if overlap:
                raise ValueError(f"UIDs already in flight: {sorted(overlap)[:5]}")
            request.uids.update(uids)
            tag = self._imap._new_tag()  # counted by the session, like every command
            line = tag + b" UID FETCH " + uid_set(uids).encode() + b" " + items.encode()
            if self._trace:
                logger.debug("> %r", line[:300])
            self._imap.send(line + b"\r\n")
            request.pending.add(tag)
            self._tags[tag] = request
        self._claimed.update(request.uids)
        self._requests[request.ticket] = request
        return request.ticket

    def collect(self, ticket: int) -> dict[int, FetchItems]:
        """Wait for every command of ``ticket``; its answers by UID."""
        request = self._requests[ticket]
        while request.pending:
            self._read_response()
        del self._requests[ticket]
        self._claimed.difference_update(request.uids)
        found = {uid: self._arrived.pop(uid) for uid in request.uids if uid in self._arrived}
        if not self._requests:
            self._arrived.clear()  # unsolicited updates for UIDs nobody asked about
        if request.failure is not None:
            raise imap_errors.IMAPClientError(f"FETCH failed: {request.failure}")
        return found

    def drain(self) -> None:
        """Read the answers of every request still in flight and drop them."""
        for ticket in list(self._requests):
            try:
                self.collect(ticket)
            except imap_errors.IMAPClientError as exc:
                if isinstance(exc, imap_errors.IMAPClientAbortError):
                    raise
                logger.debug("dropping a refused FETCH: %s", exc)

    # -- reading ---------------------------------------------------------

    def _read_response(self) -> None:
        pieces = self._response_pieces()
        first = pieces[0][0] if isinstance(pieces[0], tuple) else pieces[0]
        if first.startswith(b"* "):
            self._untagged(first, pieces)
        elif first.startswith(b"+"):
            raise imap_errors.IMAPClientAbortError(f"unexpected continuation: {first[:100]!r}")
        else:
            self._tagged(first)

    def _untagged(self, first: bytes, pieces: list[Piece]) -> None:
        words = first[2:40].split(None, 2)
        if len(words) >= 2 and words[1].upper() == b"FETCH":
            pieces[0] = _strip_star(pieces[0])
            for values in fetch_values(pieces):
                _merge_response(self._arrived, values)
        elif words and words[0].upper() == b"BYE":
            raise imap_errors.IMAPClientAbortError(
                f"the server closed the connection: {first.decode('utf-8', 'replace')[:200]}"
            )
        elif self._trace:
            logger.debug("< %r (ignored during a bulk FETCH)", first[:200])

    def _tagged(self, line: bytes) -> None:
        match = _TAGGED.match(line)
        request = self._tags.pop(match.group(1), None) if match else None
        if match is None or request is None:
            raise imap_errors.IMAPClientAbortError(f"unexpected response: {line[:200]!r}")
        request.pending.discard(match.group(1))
        status = match.group(2).upper()
        if self._trace:
            logger.debug("< %r", line[:300])
        if status != b"OK" and request.failure is None:
            text = match.group(3).decode("utf-8", "replace")
            request.failure = f"{status.decode()} {text}".strip()

    def _response_pieces(self) -> list[Piece]:
        """One whole response: its lines, each literal attached to the text before it."""
        pieces: list[Piece] = []
        while True:
            line = self._line()
            match = _LITERAL_AT_END.search(line) if line.endswith(b"}") else None
            if match is None:
                pieces.append(line)
                return pieces
            pieces.append((line, self._exactly(int(match.group(1)))))

    def _line(self) -> bytes:
        end = self._buffer.find(b"\r\n", self._position)
        while end < 0:
            if len(self._buffer) - self._position > _MAX_LINE:
                raise imap_errors.IMAPClientAbortError("a response line is too long")
            unread = len(self._buffer) - self._position
            self._fill()  # moves the unread bytes to the front
            end = self._buffer.find(b"\r\n", max(0, unread - 1))
        line = self._buffer[self._position : end]
        self._position = end + 2
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) - self._position < size:
            self._fill()
        data = self._buffer[self._position : self._position + size]
        self._position += size
        return data

    def _fill(self) -> None:
        chunk = self._imap.file.read1(_CHUNK)
        if not chunk:
            raise imap_errors.IMAPClientAbortError("socket error: EOF")
        self._buffer = self._buffer[self._position :] + chunk
        self._position = 0

    def release(self) -> None:
        """Hand any bytes read past the last answer back to imaplib.

        Only unsolicited data (a BYE, an EXISTS) can follow the last answer,
        and only when it arrived in the same chunk; imaplib reads it next.
        """
        leftover = self._buffer[self._position :]
        self._buffer, self._position = b"", 0
        if leftover:
            self._imap.file = io.BufferedReader(_Replay(leftover, self._imap.file))


class _Request:
    def __init__(self, ticket: int) -> None:
        self.ticket = ticket
        self.uids: set[int] = set()
        self.pending: set[bytes] = set()
        self.failure: str | None = None


class _Replay(io.RawIOBase):
    """A stream that yields ``head`` first, then reads from ``rest``."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._rest.close()
        super().close()


def _strip_star(piece: Piece) -> Piece:
    if isinstance(piece, tuple):
        return (piece[0][2:], piece[1])
    return piece[2:]


def uid_set(uids: Iterable[int]) -> str:
    """A compact UID set: runs of consecutive UIDs become ranges ("1:5,7,9:12")."""
    parts: list[str] = []
    start = previous = -1
    for uid in sorted(set(uids)):
        if uid == previous + 1 and start >= 0:
            previous = uid
            continue
        if start >= 0:
            parts.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = uid
    if start >= 0:
        parts.append(str(start) if start == previous else f"{start}:{previous}")
    return ",".join(parts)
