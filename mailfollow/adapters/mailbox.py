"""The IMAP adapter: one blocking session over imapclient.

`MailboxSession` connects (implicit TLS or STARTTLS, certificates verified;
plaintext only to loopback with ``allow_insecure``), logs in with a password
or XOAUTH2, finds folders and fetches exactly what mailfollow needs:

- per message: the header fields in ``core.headers.FETCH_HEADER_FIELDS``,
  INTERNALDATE, FLAGS, BODYSTRUCTURE (and MODSEQ, X-GM-THRID when offered);
- then the first 4 KiB of the first text part, grouped by part number.

Everything is fetched with ``BODY.PEEK`` from folders opened read-only
(EXAMINE), so a scan never marks mail read.

FETCH responses are parsed by a small tokenizer (`imap_fetch`) rather than
by imapclient's general parser, which would be the bottleneck of a first
sync, and the bulk fetches of new messages are pipelined (`imap_fetch.FetchPipe`);
imapclient still does the connection, authentication and every other
command. imapclient has no public way to send such a FETCH (nor ``1:*`` with
CHANGEDSINCE, nor LIST-STATUS), so `_uid_fetch`, `_pipe`, `list_folders` and
`_count_commands` use the imaplib connection it wraps (``IMAPClient._imap``):
check them when upgrading imapclient.

A session can be kept open between polls (the daemon): `wait_for_changes`
IDLEs on a folder until the server reports a change.

Errors: every public method translates library and socket errors at one
seam (`translate_error`): `errors.MailboxUnavailable` for what may pass
(refused, timeout, disconnect, server shutting down),
`errors.CredentialError` for a rejected login, `errors.MailboxError` for the
rest. After a `MailboxUnavailable` the session is closed; `open()` again.
"""

from __future__ import annotations

import dataclasses
import email.errors
import email.header
import functools
import logging
import re
import socket
import ssl
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, Protocol, Self, TypeVar

from imapclient import IMAPClient, imap_utf7
from imapclient import exceptions as imap_errors
from imapclient.response_parser import parse_response

from mailfollow import errors
from mailfollow.adapters.imap_fetch import (
    IMAPLIB_LOGGER,
    FetchItems,
    FetchPipe,
    opt_int,
    parse_fetch_response,
    uid_set,
)
from mailfollow.core.headers import FETCH_HEADER_FIELDS
from mailfollow.model import FolderRole
from mailfollow.transport import is_loopback_host

if TYPE_CHECKING:
    from mailfollow.config import Config

logger = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "none"]

DEFAULT_BATCH_SIZE = 500  # UIDs per FETCH: small enough to pipeline, large enough to batch
SNIPPET_BYTES = 4096  # of the first text part, enough for ~600 decoded characters
_MAX_PARTS = 500  # BODYSTRUCTURE parts looked at, as core.headers does
_MAX_DEPTH = 20


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ImapSettings:
    """How to reach the IMAP server; the secret comes separately (`Credential`).

    ``disabled_extensions`` turns off capabilities the server advertises but
    gets wrong (e.g. ``{"QRESYNC"}``); the tests use it to run the fallbacks.
    """

    host: str
    port: int
    security: Security = "tls"
    username: str = ""
    ca_file: Path | None = None
    allow_insecure: bool = False
    timeout: float = 30.0
    batch_size: int = DEFAULT_BATCH_SIZE
    disabled_extensions: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"


class Secret(Protocol):
    def reveal(self) -> str: ...


class Credential(Protocol):
    """What `mailfollow.credentials.get_credentials` returns: a login and its secret.

    ``mechanism`` is ``"password"`` (IMAP LOGIN) or ``"xoauth2"`` (an access token).
    """

    @property
    def username(self) -> str: ...

    @property
    def secret(self) -> Secret: ...

    @property
    def mechanism(self) -> str: ...


def imap_settings_from_config(config: Config) -> ImapSettings:
    """The IMAP part of the configuration, as this adapter wants it."""
    server = config.account.imap
    return ImapSettings(
        host=server.host,
        port=server.port,
        security=server.security.value,
        username=config.account.username,
        ca_file=server.ca_file,
        allow_insecure=server.allow_insecure,
    )


def check_transport(settings: ImapSettings) -> None:
    """Refuse plaintext unless it goes to loopback and the user allowed it."""
    if settings.security not in ("tls", "starttls", "none"):
        raise errors.ConfigError([f"imap.security: unknown value {settings.security!r}"])
    if settings.security != "none":
        return
    if not is_loopback_host(settings.host):
        raise errors.ConfigError(
            [
                f"imap.security: refusing plaintext IMAP to {settings.host}: only a loopback "
                "host (127.0.0.1, ::1, localhost) may be reached without TLS"
            ]
        )
    if not settings.allow_insecure:
        raise errors.ConfigError(
            [
                f"imap.security: plaintext IMAP to {settings.host} needs allow_insecure = true "
                "(loopback only, e.g. a local bridge)"
            ]
        )


# --------------------------------------------------------------------------- folders

# RFC 6154 attributes (and Gmail's older XLIST names) and the role each one marks.
SPECIAL_USE_ROLES: Mapping[str, FolderRole] = {
    "\\inbox": FolderRole.INBOX,
    "\\sent": FolderRole.SENT,
    "\\drafts": FolderRole.DRAFTS,
    "\\archive": FolderRole.ARCHIVE,
    "\\all": FolderRole.ALL,
    "\\allmail": FolderRole.ALL,
    "\\trash": FolderRole.TRASH,
    "\\junk": FolderRole.JUNK,
    "\\spam": FolderRole.JUNK,
}

# Common names, most likely first, for servers without SPECIAL-USE. Compared
# case-insensitively with the whole name, then with its last component.
FALLBACK_NAMES: Mapping[FolderRole, tuple[str, ...]] = {
    FolderRole.INBOX: ("INBOX",),
    FolderRole.SENT: (
        "Sent",
        "Sent Items",
        "Sent Messages",
        "Sent Mail",
        "[Gmail]/Sent Mail",
        "[Google Mail]/Gesendet",
        "Gesendet",
        "Gesendete Elemente",
        "Envoyés",
        "Éléments envoyés",
        "Enviados",
        "Inviati",
        "Verzonden",
        "Skickat",
    ),
    FolderRole.DRAFTS: ("Drafts", "Draft", "Entwürfe", "Brouillons"),
    FolderRole.ARCHIVE: ("Archive", "Archives"),
    FolderRole.ALL: ("All Mail", "[Gmail]/All Mail", "[Google Mail]/Alle Nachrichten"),
    FolderRole.TRASH: ("Trash", "Deleted Items", "Deleted Messages", "Bin", "Papierkorb"),
    FolderRole.JUNK: ("Junk", "Spam", "Junk Email", "Junk E-mail"),
}
_UNSELECTABLE = frozenset({"\\noselect", "\\nonexistent"})


@dataclass(frozen=True)
class FolderInfo:
    """One folder from LIST: its name, hierarchy delimiter and attributes."""

    name: str
    delimiter: str | None = "/"
    flags: frozenset[str] = frozenset()  # lower-case, e.g. "\\sent", "\\hasnochildren"

    @property
    def selectable(self) -> bool:
        return not (self.flags & _UNSELECTABLE)

    @property
    def special_use(self) -> FolderRole | None:
        for flag in sorted(self.flags):
            role = SPECIAL_USE_ROLES.get(flag)
            if role is not None:
                return role
        return None


def guess_role(name: str, delimiter: str | None = "/") -> FolderRole:
    """The role a folder's name suggests, for servers (and Maildirs) without SPECIAL-USE."""
    for role, rank in _name_ranks(name, delimiter).items():
        if rank is not None:
            return role
    return FolderRole.OTHER


def _name_ranks(name: str, delimiter: str | None) -> dict[FolderRole, int | None]:
    """For each role, how well ``name`` matches its common names (lower is better)."""
    whole = name.casefold()
    last = whole.rsplit(delimiter.casefold(), 1)[-1] if delimiter else whole
    ranks: dict[FolderRole, int | None] = {}
    for role, names in FALLBACK_NAMES.items():
        folded = [n.casefold() for n in names]
        if whole in folded:
            ranks[role] = folded.index(whole)
        elif last in folded:
            ranks[role] = len(folded) + folded.index(last)
        else:
            ranks[role] = None
    return ranks


def find_role_folders(
    folders: Sequence[FolderInfo], overrides: Mapping[FolderRole, str] | None = None
) -> tuple[dict[FolderRole, str], list[str]]:
    """Which folder plays each role: the override, else SPECIAL-USE, else a common name.

    Returns the mapping and warnings (an override naming a missing folder).
    """
    selectable = [f for f in folders if f.selectable]
    by_name = {f.name: f for f in selectable}
    warnings: list[str] = []
    found: dict[FolderRole, str] = {}
    for role, name in (overrides or {}).items():
        match = by_name.get(name) or _case_insensitive(by_name, name)
        if match is None:
            warnings.append(
                f"folder {name!r} configured for {role.value} does not exist on the server"
            )
        else:
            found[role] = match.name
    for folder in selectable:
        special = folder.special_use
        if special is not None and special not in found:
            found[special] = folder.name
    for role in FALLBACK_NAMES:
        if role in found:
            continue
        candidates = [
            (rank, len(f.name), f.name)
            for f in selectable
            if (rank := _name_ranks(f.name, f.delimiter)[role]) is not None
            and f.special_use is None
        ]
        if candidates:
            found[role] = min(candidates)[2]
    return found, warnings


def _case_insensitive(by_name: Mapping[str, FolderInfo], name: str) -> FolderInfo | None:
    folded = name.casefold()
    return next((f for n, f in by_name.items() if n.casefold() == folded), None)


@dataclass(frozen=True)
class FolderStatus:
    """A folder's counters, from STATUS, LIST-STATUS or SELECT/EXAMINE."""

    uidvalidity: int | None
    uidnext: int | None
    messages: int | None
    highest_modseq: int | None = None


# --------------------------------------------------------------------------- fetched data


@dataclass(frozen=True)
class TextPart:
    """Where the first text part is and how it is encoded."""

    section: str  # IMAP part number: "1", "1.2"...
    subtype: str  # "plain" or "html"
    charset: str
    encoding: str  # Content-Transfer-Encoding, lower-case


@dataclass(frozen=True)
class BodyInfo:
    """What BODYSTRUCTURE tells about a message."""

    content_type: str = "text/plain"
    part_types: tuple[str, ...] = ()
    attachment_names: tuple[str, ...] = ()
    text_part: TextPart | None = None
    report_section: str | None = None  # a message/delivery-status part (bounces)


@dataclass(frozen=True)
class FetchedMessage:
    """One message as fetched, before header parsing."""

    uid: int
    header: bytes
    internal_date: datetime | None
    flags: frozenset[str]
    modseq: int | None = None
    body: BodyInfo = field(default_factory=BodyInfo)
    snippet: bytes = b""  # raw (still transfer-encoded) start of body.text_part
    report: bytes = b""  # start of body.report_section, the delivery report of a bounce
    gm_thread_id: str | None = None
    text_deferred: bool = False  # structure and text left on the server (fetch_message_batches)


@dataclass(frozen=True)
class FolderChanges:
    """Flag changes and expunges since a MODSEQ (CONDSTORE / QRESYNC)."""

    flags: Mapping[int, tuple[frozenset[str], int | None]]
    vanished: frozenset[int] | None  # None: the server cannot say (no QRESYNC)


# --------------------------------------------------------------------------- error seam


def translate_error(exc: BaseException, *, server: str) -> errors.MailfollowError | None:
    """The mailfollow error for a library or socket error; None for anything else (a bug)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, imap_errors.LoginError):
        if "[UNAVAILABLE]" in text.upper():
            return errors.MailboxUnavailable(f"{server}: login temporarily refused: {text}")
        return errors.CredentialError(f"{server} rejected the login: {text}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return errors.MailboxError(
            f"{server}: the server's certificate is not trusted ({exc.verify_message}); "
            "check the host name, or set imap.ca_file to the CA that signed it"
        )
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return errors.MailboxUnavailable(f"{server}: connection closed during TLS: {text}")
    if isinstance(exc, ssl.SSLError):
        return errors.MailboxError(
            f"{server}: TLS failed ({text}); is the port right for imap.security?"
        )
    if isinstance(exc, TimeoutError):
        return errors.MailboxUnavailable(f"{server}: timed out")
    if isinstance(exc, socket.gaierror):
        return errors.MailboxUnavailable(f"{server}: cannot resolve the host name: {text}")
    if isinstance(exc, ConnectionRefusedError):
        return errors.MailboxUnavailable(f"{server}: connection refused")
    if isinstance(exc, OSError | EOFError):
        return errors.MailboxUnavailable(f"{server}: connection lost: {text}")
    if isinstance(exc, imap_errors.IMAPClientAbortError):
        return errors.MailboxUnavailable(f"{server}: connection lost: {text}")
    if isinstance(exc, imap_errors.CapabilityError):
        return errors.MailboxError(f"{server}: {text}")
    if isinstance(exc, imap_errors.IMAPClientError):
        if "[UNAVAILABLE]" in text.upper() or "[SERVERBUG]" in text.upper():
            return errors.MailboxUnavailable(f"{server}: {text}")
        return errors.MailboxError(f"{server}: {text}")
    return None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _imap_call(
    method: Callable[Concatenate[MailboxSession, _P], _R],
) -> Callable[Concatenate[MailboxSession, _P], _R]:
    """Run a session method behind the error seam; a lost connection closes the session."""

    @functools.wraps(method)
    def wrapper(self: MailboxSession, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            translated = self._translated(exc)
            if translated is exc:
                raise
            raise translated from exc

    return wrapper


# --------------------------------------------------------------------------- session


class MailboxSession:
    """One logged-in IMAP connection; a context manager, and reusable after `close()`.

    ``commands`` counts the IMAP commands sent since `open()`, so callers can
    check what a poll costs.
    """

    def __init__(self, settings: ImapSettings, credentials: Callable[[], Credential]) -> None:
        self.settings = settings
        self._credentials = credentials
        self._client: Any = None
        self._capabilities: frozenset[str] = frozenset()
        self._selected: str | None = None
        self.commands = 0
        # The login last used: a second connection of the same sync logs in
        # with it (mailfollow.lanes) instead of asking for it again.
        self.credential: Credential | None = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._client is not None

    @property
    def capabilities(self) -> frozenset[str]:
        """What the server offers after login, minus ``settings.disabled_extensions``."""
        return self._capabilities

    def has(self, capability: str) -> bool:
        return capability.upper() in self._capabilities

    @property
    def condstore(self) -> bool:
        return self.has("CONDSTORE") or self.has("QRESYNC")

    @property
    def qresync(self) -> bool:
        return self.has("QRESYNC")

    @property
    def gmail(self) -> bool:
        return self.has("X-GM-EXT-1")

    @property
    def selected(self) -> str | None:
        return self._selected

    @_imap_call
    def open(self) -> None:
        """Connect, secure the connection, log in and enable CONDSTORE/QRESYNC."""
        if self._client is not None:
            return
        check_transport(self.settings)
        self.commands = 0
        try:
            client = self._connect()
            self._login(client)
            self._capabilities = self._usable_capabilities(client)
            client.normalise_times = False
            self._enable_extensions(client)
        except BaseException:
            self.abort()  # whatever failed, leave no half-open connection behind
            raise
        logger.debug("logged in to %s as %s", self.settings, self.settings.username)

    def close(self) -> None:
        """Log out (or just drop the connection if that fails); never raises."""
        client, self._client, self._selected = self._client, None, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # noqa: BLE001 (the connection may already be gone; nothing to do)
            _shutdown_quietly(client)

    def abort(self) -> None:
        """Drop the connection without logging out (after an error)."""
        client, self._client, self._selected = self._client, None, None
        if client is not None:
            _shutdown_quietly(client)

    # -- folders ---------------------------------------------------------

    @_imap_call
    def list_folders(self) -> tuple[list[FolderInfo], dict[str, FolderStatus]]:
        """Every folder, and their status when the server has LIST-STATUS (one command)."""
        client = self._require_client()
        if not self.has("LIST-STATUS"):
            return [_folder_info(entry) for entry in client.list_folders()], {}
        returns = ["SPECIAL-USE"] if self.has("SPECIAL-USE") else []
        returns.append(f"STATUS ({' '.join(self._status_items())})")
        imap = client._imap
        imap.untagged_responses.pop("STATUS", None)
        typ, data = imap._simple_command("LIST", '""', '"*"', f"RETURN ({' '.join(returns)})")
        _check_ok("LIST", typ, data)
        _, listed = imap._untagged_response(typ, data, "LIST")
        status_lines = imap.untagged_responses.pop("STATUS", [])
        folders = [_folder_info(entry) for entry in client._proc_folder_list(listed)]
        return folders, _parse_status_lines(status_lines)

    @_imap_call
    def status(self, folder: str) -> FolderStatus:
        """STATUS of one folder (one command)."""
        raw = self._require_client().folder_status(folder, self._status_items())
        return _folder_status(raw)

    @_imap_call
    def select(self, folder: str) -> FolderStatus:
        """Open ``folder`` read-only (EXAMINE), so nothing can be marked read."""
        client = self._require_client()
        self._selected = None
        raw = client.select_folder(folder, readonly=True)
        self._selected = folder
        return FolderStatus(
            uidvalidity=opt_int(raw.get(b"UIDVALIDITY")),
            uidnext=opt_int(raw.get(b"UIDNEXT")),
            messages=opt_int(raw.get(b"EXISTS")),
            highest_modseq=opt_int(raw.get(b"HIGHESTMODSEQ")) if self.condstore else None,
        )

    # -- message lists ---------------------------------------------------

    @_imap_call
    def search_uids(self, *, above: int = 0) -> list[int]:
        """UIDs greater than ``above`` in the selected folder, ascending (one command)."""
        criteria = ["ALL"] if above <= 0 else ["UID", f"{above + 1}:*"]
        uids = self._require_client().search(criteria)
        return sorted(uid for uid in uids if uid > above)

    @_imap_call
    def fetch_changes(self, *, since_modseq: int) -> FolderChanges:
        """Flags changed since ``since_modseq`` (new messages included) and, with
        QRESYNC, the UIDs expunged since.

        One ``UID FETCH 1:* (FLAGS) (CHANGEDSINCE m [VANISHED])``.
        """
        imap = self._require_client()._imap
        imap.untagged_responses.pop("VANISHED", None)
        modifier = f"(CHANGEDSINCE {since_modseq}{' VANISHED' if self.qresync else ''})"
        responses = self._uid_fetch("1:*", "(UID FLAGS)", modifier)
        vanished: frozenset[int] | None = None
        if self.qresync:
            vanished = frozenset(
                uid
                for line in imap.untagged_responses.pop("VANISHED", [])
                for uid in _vanished_uids(line)
            )
        flags = {
            uid: (_flag_set(item.get(b"FLAGS")), _modseq(item.get(b"MODSEQ")))
            for uid, item in responses.items()
            if b"FLAGS" in item
        }
        return FolderChanges(flags=flags, vanished=vanished)

    @_imap_call
    def fetch_flags(self, uids: Sequence[int]) -> dict[int, frozenset[str]]:
        """Current flags of ``uids`` (one command per batch)."""
        flags: dict[int, frozenset[str]] = {}
        for batch in batches(uids, self.settings.batch_size):
            for uid, item in self._uid_fetch(uid_set(batch), "(UID FLAGS)").items():
                if b"FLAGS" in item:
                    flags[uid] = _flag_set(item[b"FLAGS"])
        return flags

    def fetch_messages(self, uids: Sequence[int]) -> list[FetchedMessage]:
        """Headers, dates, flags, structure and snippets of ``uids``."""
        return [m for _, batch in self.fetch_message_batches(uids) for m in batch]

    def fetch_message_batches(
        self, uids: Sequence[int], *, batch_size: int | None = None, texts: bool = True
    ) -> Generator[tuple[Sequence[int], list[FetchedMessage]], None, None]:
        """Each batch of ``uids`` in order, with what `fetch_messages` gives for it
        (a message expunged meanwhile is missing from the list, not from the batch).

        Per batch, one FETCH for headers, dates, flags and structure, then one
        per distinct part number for the snippets; ``texts=False`` leaves out
        the structure and the snippets (the messages come back ``text_deferred``),
        which spares the server opening every message file. The requests are pipelined:
        while the caller works on one batch, the server is already answering
        for the next, so neither side waits for the other. Leaving the loop
        early is safe: the answers still on their way are read and dropped.
        """
        groups = list(batches(uids, batch_size or self.settings.batch_size))
        if not groups:
            return
        pipe = self._pipe()
        items = self._message_items(texts=texts)
        # Header requests go out two batches ahead: when the server is slow to
        # get the CPU (both cores busy parsing), the next answers are queued
        # already instead of only then being asked for.
        metadata: deque[int] = deque()

        def ask_metadata(index: int) -> None:
            if index < len(groups):
                metadata.append(self._pipe_call(pipe.send, [(groups[index], items)]))

        try:
            ask_metadata(0)
            ask_metadata(1)
            fetched = self._fetched_metadata(pipe, metadata.popleft(), texts=texts)
            sections = self._send_sections(pipe, fetched if texts else [])
            ask_metadata(2)
            for index in range(len(groups)):
                answers = self._pipe_call(pipe.collect, sections)
                current = _with_sections(fetched, answers) if texts else fetched
                if metadata:
                    fetched = self._fetched_metadata(pipe, metadata.popleft(), texts=texts)
                    sections = self._send_sections(pipe, fetched if texts else [])
                    ask_metadata(index + 3)
                yield groups[index], current
        finally:
            self._finish_pipe(pipe)

    def _pipe(self) -> FetchPipe:
        return FetchPipe(self._require_client()._imap)

    def _pipe_call(self, step: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """One pipelined step behind the error seam."""
        try:
            return step(*args, **kwargs)
        except Exception as exc:
            raise self._translated(exc) from exc

    def _fetched_metadata(
        self, pipe: FetchPipe, ticket: int, *, texts: bool
    ) -> list[FetchedMessage]:
        responses = self._pipe_call(pipe.collect, ticket)
        return [
            message
            for uid, item in sorted(responses.items())
            if (message := _fetched_message(uid, item, text_deferred=not texts)) is not None
        ]

    def _send_sections(self, pipe: FetchPipe, messages: Sequence[FetchedMessage]) -> int:
        """One FETCH per part number for the first SNIPPET_BYTES of the text and report parts."""
        by_section: dict[str, list[int]] = {}
        for message in messages:
            for section in (_text_section(message.body), message.body.report_section):
                if section:
                    by_section.setdefault(section, []).append(message.uid)
        commands = [
            (section_uids, f"(UID BODY.PEEK[{section}]<0.{SNIPPET_BYTES}>)")
            for section, section_uids in sorted(by_section.items())
        ]
        return self._pipe_call(pipe.send, commands)

    def _finish_pipe(self, pipe: FetchPipe) -> None:
        """Read what is still on its way (the caller stopped early); a broken stream aborts."""
        if self._client is None:
            return
        try:
            pipe.drain()
            pipe.release()
        except Exception as exc:  # noqa: BLE001 (the connection is unusable; start afresh)
            logger.debug("dropping the IMAP connection after an unfinished FETCH: %s", exc)
            self.abort()

    @_imap_call
    def wait_for_changes(self, folder: str, *, timeout: float) -> bool:
        """IDLE on ``folder`` until the server reports a change or ``timeout`` passes.

        True when something changed (new mail, an expunge, new flags): sync
        then. Costs two commands (NOOP, IDLE). Servers without IDLE raise
        MailboxError; poll them instead.
        """
        if not self.has("IDLE"):
            raise errors.MailboxError(f"{self.settings}: the server has no IDLE; poll instead")
        client = self._require_client()
        if self._selected != folder:
            self.select(folder)
        # Collect what changed since the last command first: an update that
        # arrives together with IDLE's "+ idling" would sit in imaplib's read
        # buffer where polling the socket cannot see it.
        _, pending = client.noop()
        if any(_is_change(r) for r in pending):
            return True
        deadline = time.monotonic() + timeout
        changed = False
        client.idle()
        try:
            while not changed and (remaining := deadline - time.monotonic()) > 0:
                changed = any(_is_change(r) for r in client.idle_check(timeout=remaining))
        finally:
            _, late = client.idle_done()
        return changed or any(_is_change(r) for r in late)

    @_imap_call
    def noop(self) -> None:
        """Keep the connection alive (and collect pending updates)."""
        self._require_client().noop()

    # -- drafts and sent copies ------------------------------------------
    # For mailfollow.drafts_folder and mailfollow.outbox. Only delete_messages
    # opens a folder read-write; it forgets the selection afterwards, so the
    # next select() EXAMINEs again.

    @_imap_call
    def append(
        self, folder: str, raw: bytes, *, flags: Sequence[str] = (), when: datetime | None = None
    ) -> int | None:
        """APPEND exactly ``raw`` to ``folder`` with ``flags`` (e.g. ``\\Draft``, ``\\Seen``).

        Returns the new UID from the APPENDUID response code (UIDPLUS), or None
        when the server does not say; `search_header` finds the message then.
        """
        response = self._require_client().append(folder, raw, flags=tuple(flags), msg_time=when)
        text = response if isinstance(response, bytes) else str(response).encode()
        found = re.search(rb"\[APPENDUID \d+ (\d+)\]", text, re.IGNORECASE)
        return int(found.group(1)) if found else None

    @_imap_call
    def search_header(self, folder: str, name: str, value: str) -> list[int]:
        """UIDs in ``folder`` whose ``name`` header contains ``value`` (UID SEARCH HEADER).

        Servers match substrings, case-insensitively: callers check the result.
        ``value`` must be printable ASCII without IMAP specials (a Message-ID
        without its angle brackets, an X-Mailfollow-Id).
        """
        if not re.fullmatch(r"[!-~]+", value) or any(c in value for c in '(){}%*"\\]'):
            raise errors.MailboxError(f"cannot search {folder!r} for the value {value!r}")
        if self._selected != folder:
            self.select(folder)
        return sorted(int(uid) for uid in self._require_client().search(["HEADER", name, value]))

    @_imap_call
    def fetch_full(self, folder: str, uid: int) -> bytes | None:
        """The whole message as stored (BODY.PEEK[], so it stays unread); None when gone."""
        if self._selected != folder:
            self.select(folder)
        data = self._uid_fetch(str(uid), "(UID BODY.PEEK[])").get(uid, {}).get(b"BODY[]")
        return data if isinstance(data, bytes) else None

    @_imap_call
    def delete_messages(self, folder: str, uids: Sequence[int]) -> bool:
        """Flag ``uids`` ``\\Deleted`` and expunge exactly those (UID EXPUNGE).

        Without UIDPLUS a plain EXPUNGE would also remove whatever else the user
        marked deleted, so the messages are only flagged. Returns whether they
        were expunged.
        """
        if not uids:
            return True
        client = self._require_client()
        self._selected = None
        client.select_folder(folder, readonly=False)
        client.add_flags(list(uids), [b"\\Deleted"], silent=True)
        if not self.has("UIDPLUS"):
            return False
        client.uid_expunge(list(uids))
        return True

    # -- internals -------------------------------------------------------

    def _translated(self, exc: Exception) -> Exception:
        """The error to raise for ``exc``; a lost connection closes the session."""
        if isinstance(exc, errors.MailboxUnavailable):
            self.abort()
            return exc
        if isinstance(exc, errors.MailfollowError):
            return exc
        translated = translate_error(exc, server=str(self.settings))
        if translated is None:
            return exc  # a bug: let it show as itself
        if isinstance(translated, errors.MailboxUnavailable):
            self.abort()
        return translated

    def _require_client(self) -> Any:
        if self._client is None:
            raise errors.MailboxUnavailable(f"{self.settings}: not connected")
        return self._client

    def _connect(self) -> Any:
        settings = self.settings
        context = self._tls_context() if settings.security != "none" else None
        client = IMAPClient(
            settings.host,
            port=settings.port,
            ssl=settings.security == "tls",
            ssl_context=context,
            timeout=settings.timeout,
        )
        self._client = client
        _count_commands(client, self)
        if settings.security == "starttls":
            if b"STARTTLS" not in client.capabilities():
                raise errors.MailboxError(
                    f"{settings}: the server does not offer STARTTLS; refusing to log in "
                    'without TLS (use security = "tls" if it speaks implicit TLS)'
                )
            client.starttls(context)
        return client

    def _tls_context(self) -> ssl.SSLContext:
        ca_file = self.settings.ca_file
        if ca_file is not None and not ca_file.is_file():
            raise errors.ConfigError([f"imap.ca_file: {ca_file} is not a readable file"])
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _login(self, client: Any) -> None:
        credential = self._credentials()
        self.credential = credential
        username = credential.username or self.settings.username
        if str(credential.mechanism).lower() == "xoauth2":
            client.oauth2_login(username, credential.secret.reveal())
        else:
            client.login(username, credential.secret.reveal())

    def _usable_capabilities(self, client: Any) -> frozenset[str]:
        # Cache the CAPABILITY sent with the login response now: SELECT flushes it.
        offered = {c.decode("ascii", "replace").upper() for c in client.capabilities()}
        disabled = {c.upper() for c in self.settings.disabled_extensions}
        if "CONDSTORE" in disabled:
            disabled.add("QRESYNC")
        return frozenset(offered - disabled)

    def _enable_extensions(self, client: Any) -> None:
        if not self.has("ENABLE"):
            return
        if self.qresync:
            client.enable("QRESYNC")
        elif self.has("CONDSTORE"):
            client.enable("CONDSTORE")

    def _status_items(self) -> list[str]:
        items = ["MESSAGES", "UIDNEXT", "UIDVALIDITY"]
        if self.condstore:
            items.append("HIGHESTMODSEQ")
        return items

    def _message_items(self, *, texts: bool = True) -> str:
        fields = " ".join(FETCH_HEADER_FIELDS)
        items = ["UID", f"BODY.PEEK[HEADER.FIELDS ({fields})]", "INTERNALDATE", "FLAGS"]
        if texts:  # the structure says which part holds the text, and names attachments
            items.append("BODYSTRUCTURE")
        if self.condstore:
            items.append("MODSEQ")
        if self.gmail:
            items.append("X-GM-THRID")
        return f"({' '.join(items)})"

    def _uid_fetch(
        self, uids: str, items: str, modifiers: str | None = None
    ) -> dict[int, dict[bytes, Any]]:
        imap = self._require_client()._imap
        args = [uids, items] if modifiers is None else [uids, items, modifiers]
        # imapclient's trace formats every response line even when nobody
        # listens; silence it for bulk fetches unless the protocol log is on.
        quiet = not logging.getLogger(IMAPLIB_LOGGER).isEnabledFor(logging.DEBUG)
        saved_debug = imap.debug
        if quiet:
            imap.debug = 0
        try:
            typ, data = imap.uid("FETCH", *args)
        finally:
            imap.debug = saved_debug
        _check_ok("FETCH", typ, data)
        return parse_fetch_response(data)


def _count_commands(client: Any, session: MailboxSession) -> None:
    """Count every tagged command the connection sends (imaplib makes one tag each)."""
    imap = client._imap
    new_tag = imap._new_tag

    def counting_new_tag() -> bytes:
        session.commands += 1
        return new_tag()  # type: ignore[no-any-return]

    imap._new_tag = counting_new_tag


_CHANGE_RESPONSES = frozenset({b"EXISTS", b"EXPUNGE", b"FETCH", b"VANISHED"})


def _is_change(response: Any) -> bool:
    """Whether an untagged IDLE response reports a change (not a keep-alive "OK")."""
    if not isinstance(response, tuple) or not response:
        return False
    return any(
        isinstance(word, bytes) and word.upper() in _CHANGE_RESPONSES for word in response[:2]
    )


def _shutdown_quietly(client: Any) -> None:
    try:
        client.shutdown()
    except Exception as exc:  # noqa: BLE001 (already broken; closing is best effort)
        logger.debug("closing the IMAP connection: %s", exc)


def _check_ok(command: str, typ: str, data: Sequence[Any]) -> None:
    if typ != "OK":
        detail = data[0] if data else b""
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        raise imap_errors.IMAPClientError(f"{command} failed: {typ} {text}")


# --------------------------------------------------------------------------- small parsers


def parse_uid_set(text: str) -> list[int]:
    """The UIDs of a sequence set such as "1:3,7" (no "*")."""
    uids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition(":")
        first, last = int(low), int(high or low)
        uids.extend(range(min(first, last), max(first, last) + 1))
    return uids


def _vanished_uids(line: Any) -> list[int]:
    text = line.decode("ascii", "replace") if isinstance(line, bytes) else str(line)
    text = text.strip()
    if text.upper().startswith("(EARLIER)"):
        text = text[len("(EARLIER)") :]
    return parse_uid_set(text.strip())


def batches(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    """``items`` in consecutive slices of at most ``size`` (at least 1)."""
    size = max(1, size)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _decode_folder_name(name: Any) -> str:
    if isinstance(name, int):
        return str(name)
    if isinstance(name, bytes):
        return str(imap_utf7.decode(name))
    return str(name)


def _folder_info(entry: tuple[Any, Any, Any]) -> FolderInfo:
    flags, delimiter, name = entry
    return FolderInfo(
        name=_decode_folder_name(name),
        delimiter=delimiter.decode("ascii", "replace") if isinstance(delimiter, bytes) else None,
        flags=frozenset(
            (f.decode("ascii", "replace") if isinstance(f, bytes) else str(f)).lower()
            for f in flags
        ),
    )


def _folder_status(raw: Mapping[bytes, Any]) -> FolderStatus:
    values = {k.upper() if isinstance(k, bytes) else str(k).encode(): v for k, v in raw.items()}
    return FolderStatus(
        uidvalidity=opt_int(values.get(b"UIDVALIDITY")),
        uidnext=opt_int(values.get(b"UIDNEXT")),
        messages=opt_int(values.get(b"MESSAGES")),
        highest_modseq=opt_int(values.get(b"HIGHESTMODSEQ")),
    )


def _parse_status_lines(lines: Sequence[Any]) -> dict[str, FolderStatus]:
    lines = [line for line in lines if line not in (b"", None)]
    if not lines:
        return {}
    parsed = parse_response(lines)
    statuses: dict[str, FolderStatus] = {}
    for index in range(0, len(parsed) - 1, 2):
        name, items = parsed[index], parsed[index + 1]
        if not isinstance(items, tuple):
            continue
        pairs = dict(zip(items[::2], items[1::2], strict=False))
        statuses[_decode_folder_name(name)] = _folder_status(pairs)
    return statuses


def _fetched_message(
    uid: int, item: Mapping[bytes, Any], *, text_deferred: bool = False
) -> FetchedMessage | None:
    header = next(
        (v for k, v in item.items() if k.startswith(b"BODY[HEADER") and isinstance(v, bytes)),
        None,
    )
    if header is None:
        return None  # an unsolicited update, or the message vanished meanwhile
    thread = item.get(b"X-GM-THRID")
    return FetchedMessage(
        uid=uid,
        header=header,
        internal_date=parse_internal_date(item.get(b"INTERNALDATE")),
        flags=_flag_set(item.get(b"FLAGS")),
        modseq=_modseq(item.get(b"MODSEQ")),
        body=parse_bodystructure(item.get(b"BODYSTRUCTURE")),
        gm_thread_id=thread.decode("ascii", "replace") if isinstance(thread, bytes) else None,
        text_deferred=text_deferred,
    )


def _text_section(body: BodyInfo) -> str | None:
    return body.text_part.section if body.text_part else None


def _with_sections(
    messages: Sequence[FetchedMessage], responses: Mapping[int, FetchItems]
) -> list[FetchedMessage]:
    """``messages`` with the snippet and report parts fetched for them attached."""
    combined = []
    for message in messages:
        item = responses.get(message.uid)
        if item is None:
            combined.append(message)
            continue
        body = message.body
        snippet = _section_data(item, _text_section(body))
        report = _section_data(item, body.report_section)
        combined.append(dataclasses.replace(message, snippet=snippet, report=report))
    return combined


def _section_data(item: Mapping[bytes, Any], section: str | None) -> bytes:
    """The bytes of BODY[section] in a FETCH answer (the server writes it "BODY[1.2]<0>")."""
    if not section:
        return b""
    prefix = f"BODY[{section}]".encode()
    for key, value in item.items():
        if key.startswith(prefix) and key[len(prefix) : len(prefix) + 1] in (b"", b"<"):
            return value if isinstance(value, bytes) else b""
    return b""


def _flag_set(value: Any) -> frozenset[str]:
    if not isinstance(value, list):
        return frozenset()
    # \Recent belongs to this session, not to the message.
    return frozenset(
        f.decode("utf-8", "replace") for f in value if isinstance(f, bytes) and f != b"\\Recent"
    )


def _modseq(value: Any) -> int | None:
    if isinstance(value, list) and value:
        return opt_int(value[0])
    return opt_int(value)


_MONTHS = {
    name: number
    for number, name in enumerate(
        b"JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1
    )
}
_INTERNALDATE = re.compile(
    rb"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\s*$"
)


def parse_internal_date(value: Any) -> datetime | None:
    """ "17-Jul-1996 02:44:25 -0700" -> an aware datetime (None when unreadable)."""
    if not isinstance(value, bytes):
        return None
    match = _INTERNALDATE.match(value)
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    month_number = _MONTHS.get(month.upper())
    if month_number is None:
        return None
    offset = timedelta(hours=int(off_h), minutes=int(off_m))
    try:
        return datetime(
            int(year),
            month_number,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(-offset if sign == b"-" else offset),
        )
    except ValueError:
        return None


# --------------------------------------------------------------------------- BODYSTRUCTURE


def parse_bodystructure(structure: Any) -> BodyInfo:
    """Part types, attachment names, the first text part and any delivery report.

    Mirrors ``core.headers.parse_message``: types and names are listed once
    each, an enclosed message (message/rfc822) counts as one part, and a part
    with a file name or an attachment disposition is never the message's text.
    """
    if not isinstance(structure, list) or not structure:
        return BodyInfo()
    walk = _StructureWalk()
    walk.visit(structure, section="")
    return BodyInfo(
        content_type=walk.part_types[0] if walk.part_types else "text/plain",
        part_types=tuple(walk.part_types),
        attachment_names=tuple(walk.attachment_names),
        text_part=walk.plain or walk.html,
        report_section=walk.report,
    )


class _StructureWalk:
    def __init__(self) -> None:
        self.part_types: list[str] = []
        self.attachment_names: list[str] = []
        self.plain: TextPart | None = None
        self.html: TextPart | None = None
        self.report: str | None = None
        self._count = 0

    def visit(self, node: list[Any], *, section: str, depth: int = 0) -> None:
        """Visit a body; ``section`` is "" for the top level of a multipart message."""
        self._count += 1
        if self._count > _MAX_PARTS or depth > _MAX_DEPTH:
            return
        if isinstance(node[0], list):
            self._visit_multipart(node, section=section, depth=depth)
        else:
            self._visit_leaf(node, section=section or "1")

    def _visit_multipart(self, node: list[Any], *, section: str, depth: int) -> None:
        # The parts come first, then the subtype and the extension data.
        count = next((i for i, child in enumerate(node) if not isinstance(child, list)), len(node))
        self._add_type(f"multipart/{_text(_at(node, count)).lower() or 'mixed'}")
        for number, child in enumerate(node[:count], start=1):
            if child:
                child_section = f"{section}.{number}" if section else str(number)
                self.visit(child, section=child_section, depth=depth + 1)

    def _visit_leaf(self, node: list[Any], *, section: str) -> None:
        main = _text(_at(node, 0)).lower() or "text"
        sub = _text(_at(node, 1)).lower() or "plain"
        content_type = f"{main}/{sub}"
        self._add_type(content_type)
        params = _params(_at(node, 2))
        encoding = _text(_at(node, 5)).lower() or "7bit"
        # Type-specific fields shift where MD5 and the disposition sit.
        encapsulated = main == "message" and sub in ("rfc822", "global")
        md5_index = 8 if main == "text" else 10 if encapsulated else 7
        disposition, disposition_params = _disposition(_at(node, md5_index + 1))
        filename = _collapse(disposition_params.get("filename") or params.get("name") or "")
        if filename and filename not in self.attachment_names:
            self.attachment_names.append(filename)
        if content_type == "message/delivery-status":
            self.report = self.report or section
        elif filename or disposition == "attachment":
            return  # an attached .txt or .html is not the message's text
        elif content_type == "text/plain" and self.plain is None:
            self.plain = TextPart(section, sub, params.get("charset", ""), encoding)
        elif content_type == "text/html" and self.html is None:
            self.html = TextPart(section, sub, params.get("charset", ""), encoding)

    def _add_type(self, content_type: str) -> None:
        if content_type not in self.part_types:
            self.part_types.append(content_type)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _at(node: Sequence[Any], index: int) -> Any:
    return node[index] if index < len(node) else None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _disposition(value: Any) -> tuple[str, dict[str, str]]:
    if not isinstance(value, list) or not value:
        return "", {}
    return _text(value[0]).lower(), _params(_at(value, 1))


def _params(value: Any) -> dict[str, str]:
    """A BODYSTRUCTURE parameter list, with RFC 2231 and RFC 2047 encodings undone."""
    if not isinstance(value, list):
        return {}
    raw: dict[str, str] = {}
    for index in range(0, len(value) - 1, 2):
        raw[_text(value[index]).lower()] = _text(value[index + 1])
    if not any("*" in key for key in raw) and not any("=?" in text for text in raw.values()):
        return raw  # the common case: nothing encoded, nothing split
    return {name: _decode_param(name, raw) for name in {_param_base(k) for k in raw}}


def _param_base(key: str) -> str:
    return key.split("*", 1)[0]


def _decode_param(name: str, raw: Mapping[str, str]) -> str:
    if name in raw and "=?" not in raw[name]:
        return raw[name]
    if name in raw:
        return _decode_words(raw[name])
    if f"{name}*" in raw:
        return _decode_2231(raw[f"{name}*"], encoded=True)
    pieces: list[tuple[int, str, bool]] = []
    for key, text in raw.items():
        match = re.fullmatch(rf"{re.escape(name)}\*(\d+)(\*?)", key)
        if match:
            pieces.append((int(match.group(1)), text, bool(match.group(2))))
    pieces.sort()
    if not pieces:
        return ""
    first_encoded = pieces[0][2]
    joined = "".join(text for _, text, _ in pieces)
    return _decode_2231(joined, encoded=first_encoded)


def _decode_2231(value: str, *, encoded: bool) -> str:
    if not encoded:
        return value
    charset, _, rest = value.partition("'")
    _language, _, text = rest.partition("'")
    if not _:
        return urllib.parse.unquote(value)
    try:
        return urllib.parse.unquote(text, encoding=charset or "utf-8", errors="replace")
    except LookupError:
        return urllib.parse.unquote(text, encoding="utf-8", errors="replace")


def _decode_words(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (LookupError, ValueError, UnicodeDecodeError, email.errors.HeaderParseError):
        return value
