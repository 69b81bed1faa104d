"""Parsed batches as they cross from a lane process, and the spawned lane's start."""

from __future__ import annotations

import pickle
import runpy
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailfollow.adapters.mailbox import BodyInfo, FetchedMessage, TextPart
from mailfollow.model import FolderRole
from mailfollow.parsing import parse_batch, parsed_from_wire, parsed_to_wire

HEADER = b"From: Jane <jane@acme.example>\r\nSubject: %s\r\nMessage-ID: <m%d@x>\r\n%s\r\n"


def fetched(
    uid: int, *, subject: bytes = b"Hi", extra: bytes = b"", **fields: object
) -> FetchedMessage:
    return FetchedMessage(
        uid=uid,
        header=HEADER % (subject, uid, extra),
        internal_date=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        flags=frozenset({"\\Seen"}),
        **fields,  # type: ignore[arg-type]
    )


SHAPES = [
    fetched(1),
    fetched(2, modseq=7, text_deferred=True),
    fetched(
        3,
        body=BodyInfo(
            "multipart/mixed",
            ("multipart/mixed", "text/plain"),
            ("cv.pdf",),
            TextPart("1", "plain", "utf-8", "7bit"),
        ),
        snippet=b"Thanks for applying",
    ),
    fetched(4, extra=b"Date: not a date\r\n"),  # a problem to report
    fetched(5, subject=b"=?utf-8?q?Gr=C3=BC=C3=9Fe?=", extra=b"Message-ID: <dup@x>\r\n"),
]


@given(st.lists(st.sampled_from(SHAPES), max_size=6), st.sampled_from(list(FolderRole)))
def test_a_parsed_batch_crosses_the_pipe_unchanged(
    batch: list[FetchedMessage], role: FolderRole
) -> None:
    parsed = parse_batch(batch, "INBOX", role)

    wire = pickle.dumps([parsed_to_wire(p) for p in parsed])
    crossed = [parsed_from_wire(item) for item in pickle.loads(wire)]  # noqa: S301 (our own bytes)

    assert crossed == parsed


def test_a_message_the_parser_failed_on_crosses_with_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mailfollow.parsing

    def choke(*_: object, **__: object) -> None:
        raise ValueError("a parser bug")

    monkeypatch.setattr(mailfollow.parsing, "message_from_fetched", choke)
    (parsed,) = parse_batch([fetched(1)], "INBOX", FolderRole.INBOX)

    crossed = parsed_from_wire(parsed_to_wire(parsed))

    assert crossed == parsed
    assert crossed.message is None
    assert "ValueError: a parser bug" in crossed.error


def test_starting_a_lane_from_python_m_mailfollow_does_not_rerun_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # "spawn" runs the parent's main module again in the lane under this name.
    runpy.run_module("mailfollow.__main__", run_name="__mp_main__")

    assert capsys.readouterr() == ("", "")
