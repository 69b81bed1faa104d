"""Check that message parsing gives identical results to a reference, and time both.

Usage (from the repository root)::

    python bench/parse_equivalence.py [--realmail PATH] [--old PATH] [--repeat N]

Reads every message under ../shared/realmail (raw .eml/.txt files, Maildir
files, mbox files; read in place, never copied) and the demo mailbox, then:

- parse_message: the result for each message, with two snippet limits;
- the IMAP path (what parsing.message_from_fetched does): each message's
  header fields, the start of its first text part and its delivery report,
  cut as the IMAP adapter fetches them, through decode_snippet,
  summarize_delivery_status and parse_header_block;
- every text/html part: html_to_text, and its HTML snippet.

The reference is ``--old``, a copy of an earlier core/headers.py (e.g. one
saved with ``cp mailfollow/core/headers.py /tmp/headers_old.py`` before a
change), when that file exists; otherwise parse_message with every message
left to the stdlib's MIME parser, and the html.parser-based reader kept in
tests/unit/test_html_text.py. Any difference is printed and the exit status
is 1. Timings are the best of ``--repeat`` runs over the whole set
(time.perf_counter), per message, with the module's caches emptied first.
"""

from __future__ import annotations

import argparse
import importlib.util
import mailbox
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import compat32
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mailfollow.core import headers as new  # noqa: E402
from mailfollow.core.headers import FETCH_HEADER_FIELDS  # noqa: E402
from mailfollow.model import FolderRole  # noqa: E402
from tests.unit.test_html_text import reference_html_to_text  # noqa: E402

SNIPPET_LIMIT = 600  # sync.SNIPPET_LIMIT
SNIPPET_BYTES = 4096  # adapters.mailbox.SNIPPET_BYTES
NOT_MAIL = {".md", ".csv", ".json", ".mbox", ".MIT"}
NOT_MAIL_NAMES = ("LICENSE", "NOTICE", "COPYING", "README", "PROVENANCE")
WANTED_FIELDS = {name.lower() for name in FETCH_HEADER_FIELDS}
CACHED = ("_addresses_in", "_zone")


@dataclass(frozen=True)
class Fetched:
    """What the IMAP adapter fetches for one message (see adapters.mailbox)."""

    header: bytes
    snippet: bytes
    subtype: str
    charset: str
    encoding: str
    report: bytes
    part_types: tuple[str, ...]
    attachment_names: tuple[str, ...]


def main() -> int:
    args = _arguments()
    messages = list(_messages(args.realmail))
    fetched = [_fetched(raw) for raw in messages]
    html_parts = [html for raw in messages for html in _html_parts(raw)]
    print(f"{len(messages)} messages, {len(html_parts)} text/html parts")
    old = _load(args.old) if args.old.is_file() else None
    print(f"reference: {args.old if old else 'the stdlib MIME parser and html.parser'}")

    differences = _compare(messages, fetched, html_parts, old)
    print(f"differences: {differences}")
    _timings(messages, fetched, html_parts, old, args.repeat)
    return 1 if differences else 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--realmail", type=Path, default=REPO.parent / "shared" / "realmail")
    parser.add_argument("--old", type=Path, default=Path("/tmp/headers_old.py"))  # noqa: S108
    parser.add_argument("--repeat", type=int, default=3)
    return parser.parse_args()


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("headers_old", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- inputs


def _messages(realmail: Path) -> Iterable[bytes]:
    for path in sorted(realmail.rglob("*")):
        if not path.is_file() or path.name.startswith(NOT_MAIL_NAMES):
            continue
        if path.suffix == ".mbox":
            yield from (message.as_bytes() for message in mailbox.mbox(path))
        elif path.suffix not in NOT_MAIL:
            data = path.read_bytes()
            if b":" in data[:2000]:  # a header field, so likely mail (not a bare body)
                yield data
    yield from (
        message.as_bytes() for message in mailbox.mbox(REPO / "mailfollow/demo/mailbox.mbox")
    )


def _fetched(raw: bytes) -> Fetched:
    """The fetched pieces, cut the way the IMAP adapter cuts them."""
    parsed = message_from_bytes(raw, policy=compat32)
    types: list[str] = []
    names: list[str] = []
    texts: list[EmailMessage] = []
    reports: list[EmailMessage] = []
    for part in parsed.walk():
        content_type = part.get_content_type()
        if content_type not in types:
            types.append(content_type)
        name = part.get_filename()
        if name and str(name) not in names:
            names.append(str(name))
        if content_type == "message/delivery-status":
            reports.append(part)
        elif not name and content_type in ("text/plain", "text/html"):
            disposition = str(part.get("Content-Disposition", "")).lower()
            if not disposition.startswith("attachment"):
                texts.append(part)
    texts.sort(key=lambda part: part.get_content_type() != "text/plain")
    text = texts[0] if texts else None
    charset = text.get_param("charset") if text is not None else None
    return Fetched(
        header=_header_fields(raw),
        snippet=_raw_body(text)[:SNIPPET_BYTES] if text is not None else b"",
        subtype=text.get_content_subtype() if text is not None else "plain",
        charset=charset if isinstance(charset, str) else "",
        encoding=str(text.get("Content-Transfer-Encoding", "7bit")).strip().lower() if text else "",
        report=_raw_body(reports[0])[:SNIPPET_BYTES] if reports else b"",
        part_types=tuple(types),
        attachment_names=tuple(names),
    )


def _header_fields(raw: bytes) -> bytes:
    """BODY.PEEK[HEADER.FIELDS (...)]: the wanted fields in order, CRLF, a blank line."""
    end = re.search(rb"\r?\n\r?\n", raw)
    kept: list[bytes] = []
    keep = False
    for line in re.split(rb"\r?\n", raw[: end.start()] if end else raw):
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower().decode("latin-1")
        keep = b":" in line and name in WANTED_FIELDS
        if keep:
            kept.append(line)
    return b"\r\n".join(kept) + b"\r\n\r\n"


def _raw_body(part: EmailMessage) -> bytes:
    payload = part.get_payload()
    text = "\n\n".join(str(p) for p in payload) if isinstance(payload, list) else str(payload)
    return re.sub(rb"\r?\n", b"\r\n", text.encode("utf-8", "surrogateescape"))


def _html_parts(raw: bytes) -> Iterable[str]:
    for part in message_from_bytes(raw, policy=compat32).walk():
        if part.get_content_type() == "text/html":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                charset = part.get_param("charset")
                yield new.decode_bytes(data, charset if isinstance(charset, str) else None)


# --------------------------------------------------------------------------- the paths


def _imap_path(module: Any, fetched: Fetched) -> object:
    """parsing.message_from_fetched's use of core.headers."""
    text = ""
    if fetched.snippet:
        text = module.decode_snippet(
            fetched.snippet,
            transfer_encoding=fetched.encoding,
            charset=fetched.charset or None,
            subtype=fetched.subtype,
            limit=SNIPPET_LIMIT,
        )
    if fetched.report:
        report = module.decode_snippet(
            fetched.report, transfer_encoding="", charset="utf-8", limit=4096
        )
        summary = module.summarize_delivery_status(report)
        if summary:
            text = f"{summary}\n\n{text}"
    return module.parse_header_block(
        fetched.header,
        snippet=text[:SNIPPET_LIMIT],
        attachment_names=fetched.attachment_names,
        part_types=fetched.part_types,
        folder="INBOX",
        folder_role=FolderRole.INBOX,
    )


def _html_snippet(module: Any, markup: str) -> str:
    data = markup.encode("utf-8", "surrogateescape")
    return str(module.decode_snippet(data, transfer_encoding=None, charset="utf-8", subtype="html"))


def _stdlib_parse(raw: bytes, **options: Any) -> object:
    """parse_message with the stdlib's MIME parser reading every message."""
    reader = new._read_simple_message
    new._read_simple_message = lambda raw: None  # type: ignore[assignment]
    try:
        return new.parse_message(raw, **options)
    finally:
        new._read_simple_message = reader


def _compare(messages: list[bytes], fetched: list[Fetched], html_parts: list[str], old: Any) -> int:
    def report(kind: str, key: object, expected: object, got: object) -> None:
        nonlocal differences
        differences += 1
        if differences <= 5:
            print(f"DIFFERENT {kind}: {str(key)[:80]!r}\n  reference: {expected!r}\n  new: {got!r}")

    differences = 0
    for raw in messages:
        for limit in (SNIPPET_LIMIT, 120):
            got = new.parse_message(raw, snippet_limit=limit)
            if old is not None:
                expected = old.parse_message(raw, snippet_limit=limit)
            else:
                expected = _stdlib_parse(raw, snippet_limit=limit)
            if got != expected:
                report("parse_message", raw[:80], expected, got)
    if old is not None:
        for item in fetched:
            if _imap_path(new, item) != _imap_path(old, item):
                report("IMAP path", item.header[:80], _imap_path(old, item), _imap_path(new, item))
    reference_text: Callable[[str], str] = old.html_to_text if old else reference_html_to_text
    for markup in html_parts:
        if new.html_to_text(markup) != reference_text(markup):
            report("html_to_text", markup[:80], reference_text(markup), new.html_to_text(markup))
        if old is not None and _html_snippet(new, markup) != _html_snippet(old, markup):
            report(
                "HTML snippet", markup[:80], _html_snippet(old, markup), _html_snippet(new, markup)
            )
    return differences


# --------------------------------------------------------------------------- timing


def _best_of(repeat: int, module: Any, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        for name in CACHED:
            cached = getattr(module, name, None)
            if cached is not None:
                cached.cache_clear()
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _timings(
    messages: list[bytes], fetched: list[Fetched], html_parts: list[str], old: Any, repeat: int
) -> None:
    cases: list[tuple[str, int, Callable[[Any], Callable[[], object]]]] = [
        ("parse_message", len(messages), lambda m: lambda: [m.parse_message(r) for r in messages]),
        ("IMAP path", len(fetched), lambda m: lambda: [_imap_path(m, f) for f in fetched]),
        (
            "html_to_text per text/html part",
            len(html_parts),
            lambda m: lambda: [m.html_to_text(h) for h in html_parts],
        ),
        (
            "HTML snippet per text/html part",
            len(html_parts),
            lambda m: lambda: [_html_snippet(m, h) for h in html_parts],
        ),
    ]
    print(f"\nmicroseconds each, best of {repeat} (time.perf_counter over the whole set)")
    for label, count, make in cases:
        now = _best_of(repeat, new, make(new)) / count * 1e6
        if old is None:
            print(f"  {label:34s} new {now:8.1f}")
            continue
        before = _best_of(repeat, old, make(old)) / count * 1e6
        print(f"  {label:34s} old {before:8.1f}  new {now:8.1f}  ({before / now:.2f}x)")


if __name__ == "__main__":
    raise SystemExit(main())
