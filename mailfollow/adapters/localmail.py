"""Local mail sources: a Maildir (with Maildir++ subfolders) or mbox files.

They feed the same store as the IMAP sync (see ``sync.sync_local``), for
importing an export, a demo, or mail a local client already downloaded.

- ``maildir:PATH``: PATH is a Maildir (``cur``/``new``/``tmp``); the top is
  INBOX, each ``.Name`` subfolder is a folder (``.A.B`` becomes ``A/B``).
  Flags come from the file names (``:2,FRS``), the arrival time from the
  file's modification time.
- ``mbox:PATH``: PATH is an mbox file, named after its file name ("Sent.mbox"
  is "Sent"), or a directory of them. Flags come from the Status / X-Status
  headers, the arrival time from the "From " line.

A folder's role is guessed from its name like an IMAP folder without
SPECIAL-USE. Each message gets a stable 63-bit key standing in for an IMAP
UID: a hash of the Maildir file's unique name, or of the mbox message's bytes.
Each folder also gets a ``stamp`` (modification times) that changes whenever
its files change, so an unchanged folder is not read again.
"""

from __future__ import annotations

import email.utils
import hashlib
import mailbox
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from imapclient import imap_utf7

from mailfollow import errors
from mailfollow.adapters.mailbox import guess_role
from mailfollow.core.headers import parse_message
from mailfollow.model import FolderRole, Message

_MAILDIR_FLAGS = {
    "S": "\\Seen",
    "R": "\\Answered",
    "F": "\\Flagged",
    "D": "\\Draft",
    "T": "\\Deleted",
}
_MBOX_FLAGS = {"R": "\\Seen", "A": "\\Answered", "F": "\\Flagged", "D": "\\Deleted"}
_MBOX_X_FLAGS = {"A": "\\Answered", "F": "\\Flagged", "D": "\\Deleted", "T": "\\Draft"}
_STATUS_LINE = re.compile(rb"(?im)^(x-status|status):[ \t]*([A-Za-z]*)[ \t]*\r?$")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_NOT_MBOX_SUFFIXES = (".msf", ".dat", ".json", ".sqlite", ".db")


@dataclass(frozen=True)
class LocalFolder:
    name: str
    role: FolderRole
    stamp: int  # changes whenever the folder's files change
    path: Path = field(repr=False, default=Path())


@dataclass(frozen=True)
class LocalMessage:
    """One message found in a local folder, not yet parsed."""

    key: int  # stable across runs; plays the part of an IMAP UID
    raw: bytes = field(repr=False)
    flags: frozenset[str] = frozenset()
    internal_date: datetime | None = None

    def parse(self, *, folder: str, role: FolderRole) -> Message:
        return parse_message(
            self.raw,
            internal_date=self.internal_date,
            folder=folder,
            folder_role=role,
            flags=self.flags,
        )


class LocalSource(Protocol):
    def folders(self) -> list[LocalFolder]: ...

    def messages(self, folder: LocalFolder) -> Iterator[LocalMessage]: ...


def open_source(source: str) -> LocalSource:
    """ "maildir:PATH" or "mbox:PATH" -> a source; ConfigError when it cannot be read."""
    kind, _, location = source.partition(":")
    if not location:
        raise errors.ConfigError([f"source {source!r}: expected maildir:PATH or mbox:PATH"])
    path = Path(location).expanduser()
    kind = kind.strip().lower()
    if kind == "maildir":
        return MaildirSource(path)
    if kind == "mbox":
        return MboxSource(path)
    raise errors.ConfigError([f"source {source!r}: unknown kind {kind!r} (maildir or mbox)"])


def stable_key(data: bytes) -> int:
    """A positive 63-bit integer derived from ``data`` (fits SQLite's INTEGER)."""
    digest = hashlib.blake2b(data, digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


# --------------------------------------------------------------------------- Maildir


class MaildirSource:
    def __init__(self, path: Path) -> None:
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise errors.ConfigError([f"maildir {path}: not a Maildir (no cur/ or new/ inside)"])
        self.path = path

    def folders(self) -> list[LocalFolder]:
        root = mailbox.Maildir(self.path, factory=None, create=False)
        found = [LocalFolder("INBOX", FolderRole.INBOX, _maildir_stamp(self.path), self.path)]
        for raw_name in sorted(root.list_folders()):
            name = _folder_name(raw_name)
            path = self.path / f".{raw_name}"
            found.append(LocalFolder(name, guess_role(name, "/"), _maildir_stamp(path), path))
        return found

    def messages(self, folder: LocalFolder) -> Iterator[LocalMessage]:
        box = mailbox.Maildir(folder.path, factory=None, create=False)
        details = _maildir_details(folder.path)
        for key in box.iterkeys():
            try:
                raw = box.get_bytes(key)
            except (KeyError, FileNotFoundError):
                continue  # delivered elsewhere or deleted while we read
            flags, arrived = details.get(key, (frozenset(), None))
            yield LocalMessage(stable_key(key.encode()), raw, flags, arrived)


def _folder_name(raw_name: str) -> str:
    # Maildir++ keeps hierarchy with "." and non-ASCII in IMAP's modified UTF-7.
    parts = [str(imap_utf7.decode(part.encode("ascii", "replace"))) for part in raw_name.split(".")]
    return "/".join(parts)


def _maildir_stamp(path: Path) -> int:
    # A delivery, a deletion or a flag change (a rename) all touch new/ or cur/.
    stamps = [_mtime_ns(path / sub) for sub in ("new", "cur")]
    return max(stamps) if stamps else 0


def _maildir_details(path: Path) -> dict[str, tuple[frozenset[str], datetime | None]]:
    """Flags and arrival time of each message, from its file name and mtime."""
    details: dict[str, tuple[frozenset[str], datetime | None]] = {}
    for sub in ("new", "cur"):
        try:
            entries = list(os.scandir(path / sub))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            key, _, info = entry.name.partition(":")
            flags = frozenset(
                _MAILDIR_FLAGS[c] for c in info.partition(",")[2] if c in _MAILDIR_FLAGS
            )
            try:
                arrived = datetime.fromtimestamp(entry.stat().st_mtime, tz=UTC)
            except OSError:
                arrived = None
            details[key] = (flags, arrived)
    return details


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


# --------------------------------------------------------------------------- mbox


class MboxSource:
    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise errors.ConfigError([f"mbox {path}: no such file or directory"])
        self.path = path

    def folders(self) -> list[LocalFolder]:
        files = [self.path] if self.path.is_file() else _mbox_files(self.path)
        found = []
        for file in files:
            name = _mbox_folder_name(file)
            found.append(LocalFolder(name, guess_role(name, "/"), _mtime_ns(file), file))
        return found

    def messages(self, folder: LocalFolder) -> Iterator[LocalMessage]:
        box = mailbox.mbox(folder.path, factory=None, create=False)
        try:
            for key in box.iterkeys():
                with_from = box.get_bytes(key, from_=True)
                from_line, _, raw = with_from.partition(b"\n")
                yield LocalMessage(
                    stable_key(raw), raw, _mbox_flags(raw), _from_line_date(from_line)
                )
        finally:
            box.close()


def _mbox_files(directory: Path) -> list[Path]:
    files = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() in _NOT_MBOX_SUFFIXES:
            continue
        with path.open("rb") as handle:
            if handle.read(5) == b"From ":
                files.append(path)
    return files


def _mbox_folder_name(path: Path) -> str:
    name = path.stem if path.suffix.lower() in (".mbox", ".mbx") else path.name
    return "INBOX" if name.casefold() == "inbox" else name


def _mbox_flags(raw: bytes) -> frozenset[str]:
    end = _HEADER_END.search(raw)
    header = raw[: end.start()] if end else raw
    flags: set[str] = set()
    for name, letters in _STATUS_LINE.findall(header):
        table = _MBOX_X_FLAGS if name.lower() == b"x-status" else _MBOX_FLAGS
        flags.update(table[c] for c in letters.decode("ascii").upper() if c in table)
    return frozenset(flags)


def _from_line_date(line: bytes) -> datetime | None:
    # "From sender@example.org Mon Mar  2 10:00:00 2026": the date follows the address.
    parts = line.decode("ascii", "replace").rstrip("\r").split(None, 2)
    if len(parts) < 3:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(parts[2])
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
