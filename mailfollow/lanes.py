"""A second IMAP connection, in a helper process, for large sync passes.

A first sync of a large mailbox is bound by the client's CPU: reading the
IMAP answers, parsing headers and snippets, encoding rows. When a pass
brings thousands of new messages, a helper process (the lane) logs in with
a connection of its own; each folder's new UIDs are dealt out in batches,
every other batch to the lane, which fetches and parses them while this
process does the rest. Both cores work, and the server answers both
connections at once.

The lane sends back rows ready for the store, as plain tuples; only the
syncing process writes the store, batch by batch in UID order, so an
interrupted pass resumes exactly as one over a single connection does. A
lane that fails (cannot log in, loses its connection, dies) is dropped with
a warning and the syncing process fetches what it had not delivered.

The lane is forked when the syncing process runs a single thread (a one-off
scan): it starts in milliseconds. A process with threads (the daemon)
spawns it instead, a fresh interpreter that takes about a fifth of a second
to start: a forked copy of a threaded process can deadlock on a lock
another thread held. The lane's credential (a password or token) reaches it
through the process start, never through a file.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, SpawnContext
from typing import Any, Self

from mailfollow import errors
from mailfollow.adapters.mailbox import Credential, ImapSettings, MailboxSession
from mailfollow.model import FolderRole
from mailfollow.parsing import ParsedFetch, parse_batch, parsed_from_wire, parsed_to_wire

logger = logging.getLogger(__name__)

# New messages in a pass from which a lane is worth starting (a spawned one
# costs about 0.2 s of CPU; ordinary polls bring a handful of messages).
LANE_THRESHOLD = 2000
# Seconds between checks that a silent lane is still alive.
_LIVENESS_CHECK = 1.0


class LaneFailed(errors.MailboxError):
    """The lane cannot go on; what it did not deliver must be fetched again."""


class Lane:
    """The helper process and its connection, seen from the syncing process.

    ``fetch`` asks it for the batches of some UIDs of a folder; ``next_batch``
    returns them in order, waiting when needed. Requests are answered in the
    order they were made.
    """

    def __init__(self, settings: ImapSettings, credential: Credential) -> None:
        context = _process_context()
        self._conn, theirs = context.Pipe()
        self.process = context.Process(
            target=_lane_main,
            args=(theirs, settings, credential),
            name="mailfollow-lane",
            daemon=True,
        )
        self.process.start()
        theirs.close()
        self._arrived: deque[tuple[list[int], list[ParsedFetch]]] = deque()
        self._requests = 0  # fetches asked for and not yet fully received
        self._failure: LaneFailed | None = None  # met while collecting, told by next_batch
        self.commands = 0  # IMAP commands the lane reported

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch(
        self,
        folder: str,
        role: FolderRole,
        uidvalidity: int,
        uids: Sequence[int],
        *,
        batch_size: int,
        texts: bool,
    ) -> None:
        """Ask for ``uids`` of ``folder`` (as of ``uidvalidity``) in batches of ``batch_size``."""
        self._send((folder, role.value, uidvalidity, list(uids), batch_size, texts))
        self._requests += 1

    def next_batch(self) -> tuple[list[int], list[ParsedFetch]]:
        """The next batch asked for: its UIDs and parsed messages. LaneFailed if
        the lane fails first."""
        while not self._arrived:
            if self._failure is not None:
                raise self._failure
            if self._requests == 0:
                raise LaneFailed("no batch was asked of the lane")
            self._receive()
        return self._arrived.popleft()

    def collect(self) -> None:
        """Take in what the lane has sent so far, so that it never waits on a
        full pipe (call between batches of one's own)."""
        try:
            while self._requests and self._failure is None and self._conn.poll():
                self._receive()
        except LaneFailed as exc:
            self._failure = exc  # next_batch reports it once the batches before it are used

    def close(self) -> None:
        """Ask an idle lane to log out and end; end a busy one (its work is
        no longer wanted: the pass failed or gave up on it) or a stuck one."""
        if self._conn.closed:
            return
        self.collect()  # the end of the last fetch may still be in the pipe
        if self._requests == 0:
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(None)
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self._conn.close()

    def _send(self, request: Any) -> None:
        try:
            self._conn.send(request)
        except (OSError, ValueError) as exc:
            raise LaneFailed(f"the lane process is gone ({exc})") from exc

    def _receive(self) -> None:
        try:
            while not self._conn.poll(_LIVENESS_CHECK):
                if not self.process.is_alive():
                    raise LaneFailed(f"the lane process ended (exit code {self.process.exitcode})")
            kind, payload = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise LaneFailed(f"the lane process is gone ({exc})") from exc
        if kind == "batch":
            uids, rows = payload
            self._arrived.append((uids, [parsed_from_wire(row) for row in rows]))
        elif kind == "done":
            self._requests -= 1
            self.commands += payload
        else:
            raise LaneFailed(str(payload))


class Lanes:
    """The lane of one sync pass, if any: started for a large pass, dropped
    for the rest of the pass once it failed."""

    def __init__(self, session: MailboxSession, *, threshold: int | None = None) -> None:
        self._session = session
        self._threshold = LANE_THRESHOLD if threshold is None else threshold
        self._lane: Lane | None = None
        self._given_up = False
        self._ended_commands = 0  # of lanes closed already

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def commands(self) -> int:
        """IMAP commands the pass's lanes sent, a dropped one's included."""
        return self._ended_commands + (0 if self._lane is None else self._lane.commands)

    def expect(self, new_messages: int) -> None:
        """Start the lane now if the pass will bring that many messages, so it
        logs in while the first batches are fetched here."""
        self.for_fetch(new_messages)

    def for_fetch(self, new_messages: int) -> Lane | None:
        """The lane for a fetch of ``new_messages`` (started if worth it), or None."""
        if self._lane is not None or self._given_up:
            return self._lane
        if new_messages < self._threshold or (os.cpu_count() or 1) < 2:
            return None
        credential = self._session.credential
        if credential is None:
            return None
        try:
            self._lane = Lane(self._session.settings, credential)
        except (OSError, RuntimeError) as exc:
            self._drop(f"cannot start a second connection ({exc})")
            return None
        logger.info("%d new messages: fetching over two connections", new_messages)
        return self._lane

    def failed(self, exc: Exception) -> None:
        """Stop using a lane that failed; the pass goes on over one connection."""
        self._drop(f"the second connection failed ({exc})")

    def close(self) -> None:
        lane, self._lane = self._lane, None
        if lane is not None:
            lane.close()
            self._ended_commands += lane.commands

    def _drop(self, why: str) -> None:
        logger.warning("%s; fetching over one connection", why)
        self._given_up = True
        self.close()


def _process_context() -> ForkContext | SpawnContext:
    """Fork when this process runs a single thread, else spawn (see the module docstring)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _lane_main(conn: Connection, settings: ImapSettings, credential: Credential) -> None:
    """The lane process: log in, then fetch and parse what is asked until told to stop."""
    # Ctrl-C reaches the whole process group; the syncing process ends the lane.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()  # what the process started with is never garbage (see sync._heap_frozen)
    try:
        with MailboxSession(settings, lambda: credential) as session:
            while (request := conn.recv()) is not None:
                folder, role, uidvalidity, uids, batch_size, texts = request
                before = session.commands
                if session.selected != folder:
                    status = session.select(folder)
                    if status.uidvalidity != uidvalidity:
                        raise errors.MailboxError(f"{folder}: UIDVALIDITY changed meanwhile")
                for batch, fetched in session.fetch_message_batches(
                    uids, batch_size=batch_size, texts=texts
                ):
                    parsed = parse_batch(fetched, folder, FolderRole(role))
                    conn.send(("batch", (list(batch), [parsed_to_wire(p) for p in parsed])))
                conn.send(("done", session.commands - before))
    except (EOFError, BrokenPipeError):
        return  # the syncing process went away
    except Exception as exc:  # noqa: BLE001 (reported to the syncing process, which goes on alone)
        with contextlib.suppress(OSError):
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
