"""The pipelined FETCH reader, fed scripted server answers.

A real server answers pipelined commands in order and in whole lines, so the
orders and splits a server is allowed to produce but Dovecot never does on
demand (interleaved answers, a literal cut across reads, data after the last
answer) are scripted here; tests/servers covers the reader against Dovecot.
"""

from __future__ import annotations

import io

import pytest
from imapclient import exceptions as imap_errors

from mailfollow.adapters.imap_fetch import FetchPipe, parse_fetch_response, uid_set


class ScriptedConnection:
    """What FetchPipe uses of an imaplib connection, answering from a script."""

    def __init__(self, answer: bytes, *, chunk: int = 1 << 20) -> None:
        self.file: io.BufferedReader = io.BufferedReader(_Chunked(answer, chunk))
        self.sent: list[bytes] = []
        self._tags = 0

    def _new_tag(self) -> bytes:
        self._tags += 1
        return f"T{self._tags}".encode()

    def send(self, data: bytes) -> None:
        self.sent.append(data)


class _Chunked(io.RawIOBase):
    """A stream that hands out at most ``chunk`` bytes per read, like a socket."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self._data = data
        self._chunk = chunk

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = min(len(buffer), self._chunk, len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size


HEADER = b"Subject: Hello\r\nFrom: a@b.example\r\n\r\n"
ANSWER = (
    b"* 1 FETCH (UID 10 BODY[HEADER.FIELDS (SUBJECT FROM)] {%d}\r\n" % len(HEADER)
    + HEADER
    + b' FLAGS (\\Seen) INTERNALDATE "02-Mar-2026 09:30:00 +0000")\r\n'
    + b"* 2 FETCH (UID 11 BODY[HEADER.FIELDS (SUBJECT FROM)] {%d}\r\n" % len(HEADER)
    + HEADER
    + b" FLAGS ())\r\n"
    + b"T1 OK Fetch completed\r\n"
)


def test_a_request_gets_every_answer_by_uid_with_its_literal() -> None:
    connection = ScriptedConnection(ANSWER)
    pipe = FetchPipe(connection)

    ticket = pipe.send([([10, 11], "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] FLAGS)")])
    answers = pipe.collect(ticket)

    assert connection.sent == [
        b"T1 UID FETCH 10:11 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] FLAGS)\r\n"
    ]
    assert set(answers) == {10, 11}
    assert answers[10][b"BODY[HEADER.FIELDS (SUBJECT FROM)]"] == HEADER
    assert answers[10][b"FLAGS"] == [b"\\Seen"]
    assert answers[11][b"FLAGS"] == []
    assert pipe.in_flight == 0


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_answers_cut_anywhere_between_reads_parse_the_same(chunk: int) -> None:
    whole = FetchPipe(ScriptedConnection(ANSWER))
    expected = whole.collect(whole.send([([10, 11], "(UID FLAGS)")]))
    pipe = FetchPipe(ScriptedConnection(ANSWER, chunk=chunk))

    assert pipe.collect(pipe.send([([10, 11], "(UID FLAGS)")])) == expected


def test_interleaved_answers_of_two_requests_go_to_the_request_that_asked() -> None:
    answer = (
        b"* 3 FETCH (UID 30 FLAGS (\\Seen))\r\n"
        b"* 1 FETCH (UID 10 FLAGS (\\Draft))\r\n"
        b"T2 OK done\r\n"
        b"* 4 FETCH (UID 31 FLAGS ())\r\n"
        b"T1 OK done\r\n"
    )
    pipe = FetchPipe(ScriptedConnection(answer))
    first = pipe.send([([10], "(UID FLAGS)")])
    second = pipe.send([([30, 31], "(UID FLAGS)")])

    assert pipe.collect(first) == {10: {b"UID": b"10", b"FLAGS": [b"\\Draft"]}}
    assert pipe.collect(second) == {
        30: {b"UID": b"30", b"FLAGS": [b"\\Seen"]},
        31: {b"UID": b"31", b"FLAGS": []},
    }


def test_requests_in_flight_may_not_ask_for_the_same_uid() -> None:
    pipe = FetchPipe(ScriptedConnection(b""))
    pipe.send([([1, 2, 3], "(UID FLAGS)")])

    with pytest.raises(ValueError, match="already in flight"):
        pipe.send([([3, 4], "(UID FLAGS)")])


def test_the_commands_of_one_request_may_share_uids_and_their_items_merge() -> None:
    answer = (
        b'* 1 FETCH (UID 5 BODY[1]<0> "text")\r\nT1 OK\r\n'
        b'* 1 FETCH (UID 5 BODY[2]<0> "report")\r\nT2 OK\r\n'
    )
    pipe = FetchPipe(ScriptedConnection(answer))
    ticket = pipe.send([([5], "(UID BODY.PEEK[1]<0.10>)"), ([5], "(UID BODY.PEEK[2]<0.10>)")])

    assert pipe.collect(ticket) == {
        5: {b"UID": b"5", b"BODY[1]<0>": b"text", b"BODY[2]<0>": b"report"}
    }


def test_a_refused_fetch_raises_after_its_answers_are_read() -> None:
    answer = b"* 1 FETCH (UID 1 FLAGS ())\r\nT1 NO [SERVERBUG] Internal error\r\n"
    pipe = FetchPipe(ScriptedConnection(answer))
    ticket = pipe.send([([1], "(UID FLAGS)")])

    with pytest.raises(imap_errors.IMAPClientError, match="NO \\[SERVERBUG\\] Internal error"):
        pipe.collect(ticket)
    assert pipe.in_flight == 0


def test_a_bye_in_the_middle_of_the_answers_aborts() -> None:
    answer = b"* 1 FETCH (UID 1 FLAGS ())\r\n* BYE Server shutting down\r\n"
    pipe = FetchPipe(ScriptedConnection(answer))

    with pytest.raises(imap_errors.IMAPClientAbortError, match="shutting down"):
        pipe.collect(pipe.send([([1, 2], "(UID FLAGS)")]))


def test_a_connection_that_ends_mid_answer_aborts() -> None:
    pipe = FetchPipe(ScriptedConnection(b"* 1 FETCH (UID 1 BODY[] {100}\r\nshort"))

    with pytest.raises(imap_errors.IMAPClientAbortError, match="EOF"):
        pipe.collect(pipe.send([([1], "(UID BODY.PEEK[])")]))


def test_a_tagged_answer_nobody_sent_aborts() -> None:
    pipe = FetchPipe(ScriptedConnection(b"X9 OK what\r\n"))

    with pytest.raises(imap_errors.IMAPClientAbortError, match="unexpected response"):
        pipe.collect(pipe.send([([1], "(UID FLAGS)")]))


def test_other_untagged_data_during_a_fetch_is_skipped() -> None:
    answer = b"* 7 EXISTS\r\n* 1 FETCH (UID 1 FLAGS ())\r\n* 2 EXPUNGE\r\nT1 OK\r\n"
    pipe = FetchPipe(ScriptedConnection(answer))

    assert pipe.collect(pipe.send([([1], "(UID FLAGS)")])) == {1: {b"UID": b"1", b"FLAGS": []}}


def test_bytes_read_past_the_last_answer_are_handed_back_to_the_connection() -> None:
    answer = b"* 1 FETCH (UID 1 FLAGS ())\r\nT1 OK\r\n* 8 EXISTS\r\n* 3 RECENT\r\n"
    connection = ScriptedConnection(answer)
    pipe = FetchPipe(connection)
    pipe.collect(pipe.send([([1], "(UID FLAGS)")]))

    pipe.release()

    assert connection.file.readline() == b"* 8 EXISTS\r\n"
    assert connection.file.readline() == b"* 3 RECENT\r\n"


def test_draining_reads_and_drops_what_is_still_in_flight() -> None:
    answer = b"* 1 FETCH (UID 1 FLAGS ())\r\nT1 OK\r\n* 2 FETCH (UID 2 FLAGS ())\r\nT2 NO gone\r\n"
    pipe = FetchPipe(ScriptedConnection(answer))
    pipe.send([([1], "(UID FLAGS)")])
    pipe.send([([2], "(UID FLAGS)")])

    pipe.drain()

    assert pipe.in_flight == 0


def test_the_parser_matches_the_pipe_on_imaplib_style_pieces() -> None:
    pieces = [
        (b"1 (UID 10 BODY[HEADER.FIELDS (SUBJECT FROM)] {%d}" % len(HEADER), HEADER),
        b" FLAGS (\\Seen))",
    ]

    assert parse_fetch_response(pieces)[10][b"BODY[HEADER.FIELDS (SUBJECT FROM)]"] == HEADER


@pytest.mark.parametrize(
    ("uids", "text"),
    [([1, 2, 3, 5, 7, 8], "1:3,5,7:8"), ([9], "9"), ([4, 2, 3, 3], "2:4"), ([], "")],
)
def test_uid_sets_are_compact(uids: list[int], text: str) -> None:
    assert uid_set(uids) == text
