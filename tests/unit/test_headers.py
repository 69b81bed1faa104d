"""core.headers: raw bytes -> Message, never raising on bad input."""

from __future__ import annotations

import base64
import quopri
import re
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mailfollow.core import headers as headers_module
from mailfollow.core.headers import (
    EPOCH,
    FETCH_HEADER_FIELDS,
    _html_text_for,
    _plain_date,
    _read_simple_message,
    _undo_transfer_encoding,
    decode_header_text,
    decode_snippet,
    html_to_text,
    parse_header_block,
    parse_message,
    simple_address_pairs,
    split_header_block,
    summarize_delivery_status,
    tidy_text,
)
from mailfollow.model import Address, FolderRole

ARRIVAL = datetime(2026, 3, 16, 9, 30, tzinfo=UTC)


def raw_message(*headers: str, body: str = "Hello.\n") -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


def simple(*extra: str, body: str = "Hello.\n") -> bytes:
    return raw_message(
        "From: Jane Smith <Jane@Acme.Example>",
        "To: alex.doe@example.org",
        "Subject: Hello",
        "Date: Mon, 16 Mar 2026 09:00:00 +0100",
        "Message-ID: <abc@acme.example>",
        *extra,
        body=body,
    )


# --------------------------------------------------------------------------- fields


def test_basic_fields_are_read_and_normalised() -> None:
    message = parse_message(
        raw_message(
            'From: "Smith, Jane" <Jane.Smith@Acme.Example>',
            "To: Alex <ALEX.DOE@example.org>, bob@example.org",
            "Cc: carol@example.org",
            "Reply-To: jobs@acme.example",
            "Subject: Interview",
            "Date: Mon, 16 Mar 2026 09:00:00 +0100",
            "Message-ID:  <abc@acme.example> ",
            "In-Reply-To: <one@example.org> <two@example.org>",
            "References: junk <root@example.org> more junk <one@example.org>",
        ),
        folder="INBOX",
        folder_role=FolderRole.INBOX,
        flags=frozenset({"\\Seen"}),
        gm_thread_id="123",
    )
    assert message.message_id == "abc@acme.example"
    assert message.sender == Address("jane.smith@acme.example", "Smith, Jane")
    assert message.to == (Address("alex.doe@example.org", "Alex"), Address("bob@example.org"))
    assert message.cc == (Address("carol@example.org"),)
    assert message.reply_to == (Address("jobs@acme.example"),)
    assert message.in_reply_to == ("one@example.org", "two@example.org")
    assert message.references == ("root@example.org", "one@example.org")
    assert message.date == datetime(2026, 3, 16, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    assert message.folder == "INBOX"
    assert message.folder_role is FolderRole.INBOX
    assert message.flags == frozenset({"\\Seen"})
    assert message.gm_thread_id == "123"
    assert not message.date_is_fallback
    assert not message.id_is_synthetic
    assert message.problems == ()


def test_a_message_id_without_angle_brackets_is_kept_stripped() -> None:
    message = parse_message(raw_message("Message-ID:  abc@acme.example  ", "Subject: x"))
    assert message.message_id == "abc@acme.example"


def test_the_first_of_duplicate_message_ids_wins() -> None:
    message = parse_message(raw_message("Message-ID: <first@x>", "Message-ID: <second@x>"))
    assert message.message_id == "first@x"


def test_an_rfc2047_subject_is_decoded_even_when_folded() -> None:
    message = parse_message(
        raw_message(
            "Subject: =?utf-8?q?Senior_Backend_Engineer_at_Acme?=\r\n =?utf-8?q?_Robotics?=",
            "Message-ID: <a@b>",
        )
    )
    assert message.subject == "Senior Backend Engineer at Acme Robotics"


def test_a_multibyte_character_split_across_encoded_words_survives() -> None:
    encoded = "Jörg".encode()
    first = base64.b64encode(encoded[:2]).decode()
    second = base64.b64encode(encoded[2:]).decode()
    assert decode_header_text(f"=?utf-8?b?{first}?= =?utf-8?b?{second}?=") == "Jörg"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?q?caf=C3=A9?==?utf-8?q?_bar?=", "café bar"),  # no space between words
        ("=?x-unknown?q?caf=C3=A9?=", "café"),  # unknown charset: UTF-8 guess
        ("=?iso-8859-1?q?caf=E9?=", "café"),
        ("=?utf-8?b?Y2Fmw6k?=", "café"),  # missing base64 padding
        ("=?utf-8*en?q?hello?=", "hello"),  # RFC 2231 language suffix
        ("plain =?utf-8?q?and?= text", "plain and text"),
        ("=?utf-8?q?broken", "=?utf-8?q?broken"),  # not a word: left alone
    ],
)
def test_malformed_encoded_words_decode_as_well_as_possible(raw: str, expected: str) -> None:
    assert decode_header_text(raw) == expected


def test_eight_bit_header_bytes_are_decoded_not_dropped() -> None:
    raw = b"From: a@b.example\r\nSubject: caf\xe9 cr\xe8me\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n"
    assert parse_message(raw).subject == "café crème"


def test_addresses_without_angle_brackets_and_encoded_names_are_read() -> None:
    message = parse_message(
        raw_message(
            "From: Big Bug bb@bug.example",
            "To: =?utf-8?q?J=C3=B6rg?= <Joerg@Example.org>, undisclosed-recipients:;",
        )
    )
    assert message.sender is not None
    assert message.sender.email == "bb@bug.example"
    assert message.to == (Address("joerg@example.org", "Jörg"),)


# --------------------------------------------------------------------------- ids and dates


def test_a_missing_message_id_gets_a_stable_synthetic_id() -> None:
    raw = raw_message("From: a@b.example", "Subject: x", "Date: Mon, 16 Mar 2026 09:00:00 +0000")
    first, second = parse_message(raw), parse_message(raw)
    assert first.id_is_synthetic
    assert first.message_id == second.message_id
    assert first.message_id.startswith("mf-")
    assert first.message_id.endswith("@mailfollow.invalid")
    assert any("Message-ID" in problem for problem in first.problems)


def test_synthetic_ids_differ_when_the_body_differs() -> None:
    headers = ("From: a@b.example", "Subject: x", "Date: Mon, 16 Mar 2026 09:00:00 +0000")
    one = parse_message(raw_message(*headers, body="one"))
    two = parse_message(raw_message(*headers, body="two"))
    assert one.message_id != two.message_id


def test_a_header_block_without_message_id_gets_a_stable_synthetic_id() -> None:
    block = b"From: a@b.example\r\nSubject: x\r\n\r\n"
    first, second = parse_header_block(block), parse_header_block(block)
    assert first.id_is_synthetic
    assert first.message_id == second.message_id


@pytest.mark.parametrize(
    "date_header",
    [
        "Date: not a date at all",
        "Date: Wed, 01 Jan 3000 00:00:00 +0100",  # far future
        "Date: Thu, 01 Jan 1970 00:00:00 +0000",  # before 1980
        "Date: Mon, 32 Foo 2026 99:99:99 +0000",
    ],
)
def test_a_broken_date_falls_back_to_the_arrival_time(date_header: str) -> None:
    message = parse_message(raw_message("Message-ID: <a@b>", date_header), internal_date=ARRIVAL)
    assert message.date == ARRIVAL
    assert message.date_is_fallback
    assert any("Date header" in problem for problem in message.problems)


def test_a_missing_date_without_arrival_time_uses_the_epoch_and_says_so() -> None:
    message = parse_message(raw_message("Message-ID: <a@b>"))
    assert message.date == EPOCH
    assert message.date_is_fallback
    assert any("1970-01-01" in problem for problem in message.problems)


def test_a_naive_arrival_time_is_taken_as_utc() -> None:
    message = parse_message(raw_message("Message-ID: <a@b>"), internal_date=datetime(2026, 3, 1))
    assert message.date == datetime(2026, 3, 1, tzinfo=UTC)


def test_a_minus_zero_zone_is_read_as_utc() -> None:
    message = parse_message(raw_message("Message-ID: <a@b>", "Date: 16 Mar 2026 09:00 -0000"))
    assert message.date == datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    assert not message.date_is_fallback


# --------------------------------------------------------------------------- headers kept


def test_classification_headers_are_kept_decoded_under_lower_case_names() -> None:
    message = parse_message(
        simple(
            "Auto-Submitted: auto-replied",
            "X-Autoreply: yes",
            "List-Id: =?utf-8?q?Caf=C3=A9?= list <cafe.example.org>",
            "Return-Path: <>",
            "X-Failed-Recipients: a@x.example",
            "X-Failed-Recipients: b@x.example",
            "Received: from somewhere",
        )
    )
    assert message.headers["auto-submitted"] == "auto-replied"
    assert message.headers["x-autoreply"] == "yes"
    assert message.headers["list-id"] == "Café list <cafe.example.org>"
    assert message.headers["return-path"] == "<>"
    assert message.headers["x-failed-recipients"] == "a@x.example, b@x.example"
    assert "received" not in message.headers


def test_the_content_type_is_kept_whole_and_as_a_bare_type() -> None:
    message = parse_message(
        simple("Content-Type: Multipart/Report; report-type=delivery-status; boundary=XX")
    )
    assert message.content_type == "multipart/report"
    assert "report-type=delivery-status" in message.headers["content-type"]


def test_the_fetch_list_names_addressing_and_classification_headers_once() -> None:
    lowered = [name.lower() for name in FETCH_HEADER_FIELDS]
    assert len(lowered) == len(set(lowered))
    for name in ("message-id", "in-reply-to", "references", "from", "date", "auto-submitted"):
        assert name in lowered
    assert "x-mailfollow-id" in lowered
    assert "list-unsubscribe" in lowered


# --------------------------------------------------------------------------- MIME


MULTIPART = """\
From: a@b.example
Message-ID: <m@b>
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hi Alex,=0A=0Aplain part wins =E2=80=94 see you.
--inner
Content-Type: text/html; charset=utf-8

<p>the html decoy</p>
--inner--
--outer
Content-Type: application/pdf; name="ignored.pdf"
Content-Disposition: attachment; filename*=utf-8''Lebenslauf%20J%C3%B6rg.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer
Content-Type: text/plain; name="=?utf-8?q?notes_=C3=A9t=C3=A9.txt?="
Content-Disposition: attachment

attached text is not the body
--outer
Content-Type: text/calendar; method=REQUEST
Content-Disposition: inline; filename="invite.ics"

BEGIN:VCALENDAR
--outer--
"""


def test_the_mime_walk_lists_types_and_decoded_attachment_names() -> None:
    message = parse_message(MULTIPART.encode())
    assert message.attachment_names == ("Lebenslauf Jörg.pdf", "notes été.txt", "invite.ics")
    assert "text/calendar" in message.part_types
    assert message.part_types[0] == "multipart/mixed"
    assert message.content_type == "multipart/mixed"


def test_the_plain_part_is_the_snippet_and_attachments_are_not_read() -> None:
    message = parse_message(MULTIPART.encode())
    assert message.snippet == "Hi Alex,\n\nplain part wins — see you."
    assert "decoy" not in message.snippet
    assert "attached text" not in message.snippet


def test_an_html_only_message_becomes_text_without_scripts_or_styles() -> None:
    raw = (
        "From: a@b.example\nMessage-ID: <h@b>\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><head><style>p {color: red}</style><script>alert(1)</script></head>"
        "<body><p>Are you&nbsp;available   for a call?</p><p>Dana</p></body></html>"
    )
    message = parse_message(raw.encode())
    assert message.snippet == "Are you available for a call?\nDana"


def test_html_blockquotes_are_marked_as_quotes() -> None:
    text = html_to_text("<p>Sounds good.</p><blockquote><p>Could you send it?</p></blockquote>")
    assert text.splitlines() == ["Sounds good.", "> Could you send it?"]


def test_an_enclosed_message_is_one_part_not_a_tree() -> None:
    raw = (
        "From: a@b.example\nMessage-ID: <f@b>\nContent-Type: multipart/mixed; boundary=X\n\n"
        "--X\nContent-Type: text/plain\n\nsee attached\n"
        "--X\nContent-Type: message/rfc822\n\n"
        "From: c@d.example\nContent-Type: multipart/report; report-type=delivery-status; "
        "boundary=Y\n\n--Y\nContent-Type: message/delivery-status\n\nAction: failed\n--Y--\n"
        "--X--\n"
    )
    message = parse_message(raw.encode())
    assert message.part_types == ("multipart/mixed", "text/plain", "message/rfc822")
    assert message.snippet == "see attached"


def test_a_delivery_report_snippet_starts_with_its_action_and_status() -> None:
    raw = (
        "From: MAILER-DAEMON@mx.example\nMessage-ID: <d@mx>\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
        "Final-Recipient: rfc822; gone@acme.example\nAction: failed\nStatus: 5.1.1\n"
        "--B--\n"
    )
    message = parse_message(raw.encode())
    assert message.snippet.startswith("Action: failed\nStatus: 5.1.1\n\nYour message")


def test_utf8_text_under_a_wrong_seven_bit_label_is_read_as_utf8() -> None:
    raw = (
        b"From: a@b.example\nMessage-ID: <j@b>\n"
        b'Content-Type: text/plain; charset="ISO-2022-JP"\n\n'
        + "メール could not be delivered".encode()
    )
    assert parse_message(raw).snippet == "メール could not be delivered"


def test_a_multipart_whose_boundary_is_lost_still_yields_text() -> None:
    raw = b"From: a@b.example\nMessage-ID: <l@b>\nContent-Type: multipart/mixed\n\nJust text.\n"
    assert parse_message(raw).snippet == "Just text."


def test_the_snippet_is_cut_to_the_limit() -> None:
    message = parse_message(simple(body="word " * 500), snippet_limit=50)
    assert len(message.snippet) == 50


def test_a_header_block_takes_its_snippet_and_parts_from_the_caller() -> None:
    block = (
        b"From: Jane <jane@acme.example>\r\nMessage-ID: <x@acme>\r\n"
        b"Subject: =?utf-8?q?R=C3=A9sum=C3=A9?=\r\nContent-Type: text/plain\r\n\r\n"
    )
    message = parse_header_block(
        block,
        snippet="Thanks!",
        attachment_names=["cv.pdf"],
        internal_date=ARRIVAL,
    )
    assert message.subject == "Résumé"
    assert message.snippet == "Thanks!"
    assert message.attachment_names == ("cv.pdf",)
    assert message.part_types == ("text/plain",)
    assert message.date == ARRIVAL
    assert message.date_is_fallback


# --------------------------------------------------------------------------- decode_snippet


def test_truncated_base64_decodes_the_complete_part() -> None:
    data = base64.b64encode(b"Hello there, Alex")[:-3]
    assert decode_snippet(data, transfer_encoding="base64", charset="utf-8").startswith("Hello th")


def test_truncated_quoted_printable_drops_a_cut_escape() -> None:
    data = quopri.encodestring("café crème".encode())[:-4]
    assert decode_snippet(data, transfer_encoding="quoted-printable", charset="utf-8") == "café cr"


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("café".encode(), "no-such-charset", "café"),  # unknown label: UTF-8
        ("café".encode("latin-1"), None, "café"),  # not UTF-8: Latin-1 family
        ("café".encode("latin-1"), "us-ascii", "café"),  # 8-bit under an ASCII label
        ("café".encode("latin-1"), "zlib", "café"),  # a bytes codec is not a charset
        ("Grüße".encode("cp1252"), "windows-1252", "Grüße"),
    ],
)
def test_charsets_fall_back_sensibly(data: bytes, charset: str | None, expected: str) -> None:
    assert decode_snippet(data, transfer_encoding="8bit", charset=charset) == expected


def test_whitespace_collapses_but_line_breaks_stay() -> None:
    text = decode_snippet(
        b"  Hi   Alex,\r\n\r\n\r\n\r\n> quoted\t line  \r\n", transfer_encoding=None, charset=None
    )
    assert text == "Hi Alex,\n\n> quoted line"


def test_html_subtype_is_turned_into_text() -> None:
    text = decode_snippet(
        b"<p>One</p><p>Two</p>", transfer_encoding=None, charset=None, subtype="html"
    )
    assert text == "One\nTwo"


def test_summarize_delivery_status_lists_action_and_status_lines() -> None:
    report = (
        "Reporting-MTA: dns; x\n\nFinal-Recipient: rfc822; a@b\nAction: Failed\nStatus: 5.1.1\n"
    )
    assert summarize_delivery_status(report) == "Action: failed\nStatus: 5.1.1"


# --------------------------------------------------------------------------- properties


HEADER_NAMES = [
    "From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Auto-Submitted",
    "List-Id", "Return-Path", "X-Failed-Recipients", "MIME-Version",
]  # fmt: skip
header_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "=?utf-8?q?=C3=A9?=",
            "=?bogus?b?!!!?=",
            "=?utf-8?b?",
            "multipart/mixed; boundary=",
            "multipart/report; report-type=delivery-status; boundary=b",
            'text/plain; charset="zlib"',
            "base64",
            "<a@b> <c@d",
            "attachment; filename*=utf-8''%FF%FE",
        ]
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_parse_message_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    message = parse_message(raw)
    assert message.message_id
    assert message.date.tzinfo is not None


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values), max_size=12),
    st.binary(max_size=400),
)
def test_parse_message_never_raises_on_header_soup(
    headers: list[tuple[str, str]], body: bytes
) -> None:
    block = "\r\n".join(f"{name}: {value}" for name, value in headers)
    raw = block.encode("utf-8", "surrogatepass") + b"\r\n\r\n" + body
    message = parse_message(raw)
    assert message.message_id
    assert isinstance(message.snippet, str)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600))
def test_parse_header_block_never_raises(block: bytes) -> None:
    assert parse_header_block(block).message_id


@settings(max_examples=100, deadline=None)
@given(
    st.binary(max_size=400),
    st.sampled_from([None, "base64", "quoted-printable", "7bit", "x-uuencode"]),
    st.sampled_from([None, "utf-8", "latin-1", "iso-2022-jp", "utf-16", "bogus", "rot13"]),
    st.sampled_from(["plain", "html"]),
)
def test_decode_snippet_never_raises(
    data: bytes, encoding: str | None, charset: str | None, subtype: str
) -> None:
    text = decode_snippet(
        data, transfer_encoding=encoding, charset=charset, subtype=subtype, limit=80
    )
    assert len(text) <= 80


# --------------------------------------------------------------------------- fast paths
#
# parse_header_block, the address lists, dates, snippets and HTML have fast paths
# on the sync's hot path; each must give exactly what the general code gives.

ATEXT = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~"
words = st.text(alphabet=ATEXT + "ÄÖéçЖ.", min_size=1, max_size=8)
local_parts = st.text(alphabet=ATEXT + ".", min_size=1, max_size=10)
domains = st.lists(st.text(alphabet="abcxyz019-", min_size=1, max_size=6), min_size=1, max_size=3)
quoted_names = st.text(alphabet="abc XYZ,.;:()<>@'[]é", max_size=12).map(lambda t: f'"{t}"')
comments = st.text(alphabet="abc XYZ.'-é", max_size=12).map(lambda t: f"({t})")
spaces = st.sampled_from(["", " ", "  ", "\t", " \t "])


@st.composite
def simple_addresses(draw: st.DrawFn) -> str:
    address = f"{draw(local_parts)}@{'.'.join(draw(domains))}"
    shape = draw(st.sampled_from(["bare", "angle", "named", "comment"]))
    if shape == "bare":
        return address
    if shape == "comment":
        return f"{address}{draw(spaces)}{draw(comments)}"
    if shape == "angle":
        return f"<{draw(spaces)}{address}{draw(spaces)}>"
    name = draw(st.lists(st.one_of(words, quoted_names), min_size=1, max_size=4))
    return f"{' '.join(name)}{draw(spaces)}<{address}>"


@st.composite
def simple_address_lists(draw: st.DrawFn) -> str:
    items = draw(st.lists(simple_addresses(), min_size=1, max_size=4))
    return ",".join(f"{draw(spaces)}{item}{draw(spaces)}" for item in items)


@settings(max_examples=300, deadline=None)
@given(simple_address_lists())
def test_plain_address_lists_take_the_fast_path_and_agree_with_getaddresses(value: str) -> None:
    assert simple_address_pairs(value) == getaddresses([value])


address_soup = st.lists(
    st.sampled_from([*"ab.@<> \t,\"()\\:;[]=?-_'\xe9\xa0\u2028", "x@y.z", "Jo Smith", '"A, B"']),
    max_size=24,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(address_soup, simple_address_lists()))
def test_the_fast_address_path_either_declines_or_agrees_with_getaddresses(value: str) -> None:
    pairs = simple_address_pairs(value)
    assert pairs is None or pairs == getaddresses([value])


@pytest.mark.parametrize(
    "value",
    [
        "a@b.example,",  # an empty item: Python versions disagree on these
        "a@b.example,,c@d.example",
        "Group: a@b.example;",
        '"Smith \\"JJ\\"" <a@b.example>',  # an escape inside quotes
        "a@b.example (Smith, John)",  # a comma inside a comment
        "Big Bug bb@bug.example",
        "<@route:a@b.example>",
        "",
    ],
)
def test_unusual_address_lists_are_left_to_the_stdlib(value: str) -> None:
    assert simple_address_pairs(value) is None


HEADER_LINES = [
    "From: Jane <jane@acme.example>",
    "To: alex@example.org",
    "Subject: =?utf-8?q?caf=C3=A9?= plans",
    "Date: Mon, 16 Mar 2026 09:00:00 +0100",
    "Message-ID: <a@b>",
    "Content-Type: text/plain;",
    " charset=utf-8",
    "\tcontinued",
    "   ",
    "From somebody Mon Mar 16 09:00:00 2026",
    ": no name",
    "Bad Name: value",
    "X-Empty:",
    "caf\udce9: 8-bit name",
    "Subject: caf\udce9",
    "Content-Type: t\udce9xt/html",
    "",
]
line_ends = st.sampled_from(["\r\n", "\n", "\r", "\r\n", "\x0b", ""])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(HEADER_LINES), line_ends), max_size=10))
def test_split_header_block_reads_a_block_as_the_compat32_parser_does(
    lines: list[tuple[str, str]],
) -> None:
    block = "".join(line + end for line, end in lines).encode("ascii", "surrogateescape")
    parsed = BytesHeaderParser(policy=compat32).parsebytes(block)
    fields, defects = split_header_block(block)
    assert fields == list(parsed.raw_items())
    assert sorted(set(defects)) == sorted({type(d).__name__ for d in parsed.defects})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(HEADER_LINES), line_ends), max_size=10))
def test_a_header_block_gives_the_fields_parse_message_gives(lines: list[tuple[str, str]]) -> None:
    block = "".join(line + end for line, end in lines).encode("ascii", "surrogateescape")
    fast = parse_header_block(block, internal_date=ARRIVAL)
    general = parse_message(block, internal_date=ARRIVAL)
    assert fast.id_is_synthetic == general.id_is_synthetic  # synthetic ids hash other bytes
    if not fast.id_is_synthetic:
        assert fast.message_id == general.message_id
    for name in ("subject", "date", "date_is_fallback", "sender", "to", "cc", "reply_to"):
        assert getattr(fast, name) == getattr(general, name), name
    assert (fast.in_reply_to, fast.references) == (general.in_reply_to, general.references)
    assert fast.headers == general.headers
    assert fast.content_type == general.content_type


day_names = st.sampled_from(["", "Mon, ", "Fri, ", "xyz, ", ", "])
months = st.sampled_from(["Jan", "feb", "MAR", "Sep", "Dec", "Foo", "June"])
zones = st.sampled_from(["+0000", "-0000", "+0100", "-0530", "+2400", "+9999", "GMT", "+01"])


@settings(max_examples=400, deadline=None)
@given(
    day_names,
    st.integers(0, 35),
    months,
    st.integers(0, 3000),
    st.integers(0, 25),
    st.integers(0, 61),
    st.one_of(st.none(), st.integers(0, 61)),
    zones,
    st.sampled_from(["", " (UTC)", " extra words"]),
)
def test_common_dates_are_read_as_parsedate_to_datetime_reads_them(
    weekday: str,
    day: int,
    month: str,
    year: int,
    hour: int,
    minute: int,
    second: int | None,
    zone: str,
    tail: str,
) -> None:
    clock = f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second is not None else "")
    text = f"{weekday}{day} {month} {year} {clock} {zone}{tail}"
    fast = _plain_date(text)
    if fast is None:
        return  # left to the stdlib
    expected = parsedate_to_datetime(text)
    if expected.tzinfo is None:
        expected = expected.replace(tzinfo=UTC)
    assert fast == expected
    assert fast.utcoffset() == expected.utcoffset()


def tidy_line_by_line(text: str) -> str:
    """tidy_text as first written: one line at a time."""
    text = re.sub("[\u200b\u200c\u200d\u2060\ufeff\u034f\u00ad]", "", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = (
        re.sub(r"[ \t\f\v\u00a0\u2007\u202f]+", " ", line).strip() for line in text.split("\n")
    )
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


messy_text = st.lists(
    st.sampled_from([*"ab .\t\n\r\f\v\u00a0\u2007\u202f\u200b\u00ad\u2028\x1c>\xe9", "\r\n", "  "]),
    max_size=200,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(messy_text)
@example("a\r\u200b\na")  # an invisible character between CR and LF
def test_tidy_text_tidies_as_it_would_line_by_line(text: str) -> None:
    assert tidy_text(text) == tidy_line_by_line(text)


@settings(max_examples=300, deadline=None)
@given(messy_text, st.integers(1, 120))
def test_a_snippet_tidies_only_what_it_needs_yet_reads_like_the_whole(
    text: str, limit: int
) -> None:
    snippet = decode_snippet(
        text.encode("utf-8"), transfer_encoding=None, charset="utf-8", limit=limit
    )
    assert snippet == tidy_text(text)[:limit]


html_pieces = st.sampled_from(
    [
        "<p>", "</p>", "<div class='gmail_quote'>", "</div>", "<blockquote>", "</blockquote>",
        "<br>", "<br/>", "<script>var x = '<p>';</script>", "<style>p {}</style>", "<td>",
        "</td>", "<b>", "</b>", "&amp;", "&nbsp;", "&#233;", "<!-- c -->", "<![if x]>",
        "<![endif]>", "<![bogus]>", "<!doctype html>", "<", ">", "\n", "  ", "word ",
        "Hello, this is a rather long sentence of visible text. ", "<head><title>t</title>",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(html_pieces, max_size=60), st.integers(1, 200))
def test_html_snippets_stop_parsing_early_yet_read_like_the_whole_page(
    pieces: list[str], limit: int
) -> None:
    markup = "".join(pieces)
    snippet = decode_snippet(
        markup.encode("utf-8"), transfer_encoding=None, charset="utf-8", subtype="html", limit=limit
    )
    assert snippet == tidy_text(html_to_text(markup))[:limit]


def test_a_long_html_page_is_read_only_as_far_as_the_snippet_needs() -> None:
    paragraph = "<p>" + "A sentence of visible text in a long newsletter. " * 4 + "</p>\n"
    markup = "<html><body>" + paragraph * 400 + "</body></html>"
    read = _html_text_for(markup, 200)
    assert len(read) < len(html_to_text(markup)) // 50
    assert tidy_text(read)[:200] == tidy_text(html_to_text(markup))[:200]


def test_a_page_the_html_parser_cannot_read_is_read_whole_as_before() -> None:
    markup = "<p>" + "text " * 400 + "</p><![bogus section]> tail <b>x</b>"
    assert _html_text_for(markup, 50) == html_to_text(markup)  # the plain tag-stripping fallback
    assert "<" not in html_to_text(markup)


# --------------------------------------------------------------------------- own MIME reading


def stdlib_parse_message(raw: bytes, monkeypatch: pytest.MonkeyPatch, **options: int) -> object:
    """parse_message with every message left to the stdlib parser."""
    with monkeypatch.context() as patched:
        patched.setattr(headers_module, "_read_simple_message", lambda raw: None)
        return parse_message(raw, **options)


def message_state(message: EmailMessage) -> tuple[object, ...]:
    """All a parsed message holds, but preamble and epilogue (which are not kept)."""
    payload = message._payload  # type: ignore[attr-defined]
    parts = [message_state(part) for part in payload] if isinstance(payload, list) else payload
    return (
        message.raw_items() and list(message.raw_items()),
        parts,
        message.get_unixfrom(),
        [type(defect).__name__ for defect in message.defects],
        message.get_default_type(),
        message.get_charset(),
    )


field_values = st.sampled_from(
    ["a@b.example", "=?utf-8?q?caf=C3=A9?=", "x\t y", "", "  spaced  ", "b\xe9", "v; name=a.txt"]
)


@st.composite
def mime_parts(draw: st.DrawFn, depth: int = 0) -> list[str]:
    """The lines of a MIME part (without line ends), sometimes slightly malformed."""
    kinds = ["text", "html", "attachment", "report"] + (
        ["multipart", "rfc822"] if depth < 3 else []
    )
    kind = draw(st.sampled_from(kinds))
    lines = [f"X-Field-{depth}: {draw(field_values)}"] if draw(st.booleans()) else []
    if draw(st.integers(0, 30)) == 0:
        lines.append(draw(st.sampled_from(["Bad Line", " continued", ":no name", "From x"])))
    body = draw(st.lists(st.sampled_from(["Hi", "--", "", "a=3D", "caf\xe9", " x "]), max_size=4))
    if kind == "multipart":
        boundary = draw(st.sampled_from(["B1", "=_b 2", "b3"])) + str(depth)
        lines += [f'Content-Type: multipart/mixed; boundary="{boundary}"', "", *body]
        for _ in range(draw(st.integers(0, 3))):
            lines += [f"--{boundary}" + draw(st.sampled_from(["", " ", "\t"]))]
            lines += draw(mime_parts(depth + 1))
        if draw(st.integers(0, 10)):
            lines += [f"--{boundary}--", *body]
        return lines
    if kind == "rfc822":
        return [*lines, "Content-Type: message/rfc822", "", *draw(mime_parts(depth + 1))]
    if kind == "report":
        blocks = ["Reporting-MTA: dns; mx.example", "", "Action: failed", "Status: 5.1.1"]
        return [*lines, "Content-Type: message/delivery-status", "", *blocks, *body[:1]]
    content_type = {"text": "text/plain", "html": "text/html", "attachment": "text/plain"}[kind]
    lines.append(f"Content-Type: {content_type}; charset=utf-8")
    if kind == "attachment":
        lines.append('Content-Disposition: attachment; filename="a.txt"')
    return [*lines, "", *body]


@st.composite
def raw_mime_messages(draw: st.DrawFn) -> bytes:
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = ["From: a@b.example", "Subject: test", *draw(mime_parts())]
    if draw(st.booleans()):
        lines.insert(0, "From a@b.example Mon Jan  1 00:00:00 2026")
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    if draw(st.integers(0, 8)) == 0:  # a line end of the other kind somewhere
        other = "\r\n" if newline == "\n" else "\n"
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + other + text[cut:]
    return text.encode("utf-8", "surrogateescape")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_mime_messages())
def test_a_message_read_without_the_stdlib_parser_is_what_that_parser_makes_of_it(
    raw: bytes,
) -> None:
    read = _read_simple_message(raw)
    if read is not None:
        assert message_state(read) == message_state(message_from_bytes(raw, policy=compat32))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_mime_messages(), st.sampled_from([600, 40]))
def test_parse_message_gives_what_it_gave_with_the_stdlib_parser_alone(
    raw: bytes, limit: int
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        expected = stdlib_parse_message(raw, monkeypatch, snippet_limit=limit)
    assert parse_message(raw, snippet_limit=limit) == expected


def test_well_formed_multipart_mail_is_read_without_the_stdlib_parser() -> None:
    read = _read_simple_message(MULTIPART.encode())
    assert read is not None
    assert [part.get_content_type() for part in read.walk()][:2] == [
        "multipart/mixed",
        "multipart/alternative",
    ]


def test_malformed_mail_is_left_to_the_stdlib_parser() -> None:
    no_close = b"Content-Type: multipart/mixed; boundary=X\n\n--X\n\nbody\n"
    mixed_line_ends = b"From: a@b.example\r\nTo: c@d.example\nSubject: x\r\n\r\nbody"
    assert _read_simple_message(no_close) is None
    assert _read_simple_message(mixed_line_ends) is None


def old_undo_transfer_encoding(data: bytes, encoding: str) -> bytes:
    """The transfer decoding as first written, with regular expressions."""
    if encoding == "base64":
        compact = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        compact = compact[: len(compact) - len(compact) % 4]
        return base64.b64decode(compact)
    data = re.sub(rb"=[0-9A-Fa-f]?\Z", b"", data)
    return quopri.decodestring(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b"=")), st.booleans())
@example(b"caf=C3=A", False)
@example(b"SGVsbG8gd29y\r\nbGQ=", True)
def test_a_cut_body_part_decodes_as_the_regular_expressions_decoded_it(
    data: bytes, is_base64: bool
) -> None:
    encoding = "base64" if is_base64 else "quoted-printable"
    assert _undo_transfer_encoding(data, encoding) == old_undo_transfer_encoding(data, encoding)
