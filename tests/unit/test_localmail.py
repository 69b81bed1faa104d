"""Local sources (Maildir, mbox) feeding the store, and the progress display."""

from __future__ import annotations

import io
import logging
import mailbox
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailfollow import errors
from mailfollow.adapters.localmail import open_source, stable_key
from mailfollow.adapters.store import FolderState, Store
from mailfollow.model import FolderRole
from mailfollow.progress import Progress, format_duration, render_line
from mailfollow.sync import sync_local

SENT_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def raw_message(n: int, *, subject: str = "Application", date: str | None = None) -> bytes:
    date = date or "Mon, 02 Mar 2026 09:00:00 +0000"
    return (
        f"From: Alex Doe <alex.doe@example.org>\r\n"
        f"To: jane@acme.example\r\n"
        f"Subject: {subject} {n}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <local-{n}@example.org>\r\n"
        f"\r\nHello Jane, message {n}.\r\n"
    ).encode()


@pytest.fixture
def store() -> Store:
    return Store.memory()


def make_maildir(root: Path) -> mailbox.Maildir:
    box = mailbox.Maildir(root, create=True)
    for folder in ("Sent", "Drafts", "Projects", "Entw&APw-rfe"):
        box.add_folder(folder)
    return box


def add(box: mailbox.Maildir, raw: bytes, flags: str = "") -> str:
    message = mailbox.MaildirMessage(raw)
    if flags:
        message.set_subdir("cur")
        message.set_flags(flags)
    return box.add(message)


# --- Maildir -------------------------------------------------------------------------------


def test_a_maildir_is_imported_with_folder_roles_and_flags(tmp_path: Path, store: Store) -> None:
    box = make_maildir(tmp_path / "Mail")
    add(box, raw_message(1))
    add(box.get_folder("Sent"), raw_message(2), flags="S")
    add(box.get_folder("Drafts"), raw_message(3), flags="D")
    add(box.get_folder("Projects"), raw_message(4), flags="RF")

    report = sync_local(store, f"maildir:{tmp_path / 'Mail'}")

    roles = {f.name: f.role for f in report.folders}
    assert roles == {
        "INBOX": FolderRole.INBOX,
        "Drafts": FolderRole.DRAFTS,
        "Entwürfe": FolderRole.DRAFTS,
        "Projects": FolderRole.OTHER,
        "Sent": FolderRole.SENT,
    }
    assert (report.fetched, report.new, store.count_messages()) == (4, 4, 4)
    sent = store.get_message("local-2@example.org")
    assert sent is not None
    assert (sent.folder_role, sent.subject) == (FolderRole.SENT, "Application 2")
    assert sent.flags == frozenset({"\\Seen"})
    assert "message 2" in sent.snippet
    project = store.get_message("local-4@example.org")
    assert project is not None
    assert project.flags == frozenset({"\\Answered", "\\Flagged"})


def test_a_second_maildir_import_reads_only_changed_folders(tmp_path: Path, store: Store) -> None:
    box = make_maildir(tmp_path / "Mail")
    add(box, raw_message(1))
    add(box.get_folder("Sent"), raw_message(2))
    source = f"maildir:{tmp_path / 'Mail'}"
    sync_local(store, source)
    add(box.get_folder("Sent"), raw_message(3))
    os.utime(tmp_path / "Mail" / ".Sent" / "new", ns=(1, 2))  # a certainly different stamp

    report = sync_local(store, source)

    assert report.folder("INBOX").unchanged
    assert (report.folder("Sent").fetched, report.folder("Sent").new) == (1, 1)
    assert store.count_messages() == 3


def test_a_deleted_maildir_message_loses_its_location_and_a_renamed_one_its_old_flags(
    tmp_path: Path, store: Store
) -> None:
    box = make_maildir(tmp_path / "Mail")
    drafts = box.get_folder("Drafts")
    kept = add(drafts, raw_message(1), flags="D")
    gone = add(drafts, raw_message(2), flags="D")
    source = f"maildir:{tmp_path / 'Mail'}"
    sync_local(store, source)
    drafts.remove(gone)
    message = drafts.get_message(kept)
    message.set_flags("DS")
    drafts[kept] = message
    os.utime(tmp_path / "Mail" / ".Drafts" / "cur", ns=(3, 4))

    report = sync_local(store, source)

    assert report.folder("Drafts").removed == 1
    assert store.locations_of("local-2@example.org") == []
    [location] = store.locations_of("local-1@example.org")
    assert location.flags == frozenset({"\\Draft", "\\Seen"})
    assert store.count_messages() == 2  # a message is kept even when its copies are gone


def test_a_folder_synced_from_imap_is_not_mixed_with_a_local_one(
    tmp_path: Path, store: Store
) -> None:
    box = make_maildir(tmp_path / "Mail")
    add(box, raw_message(1))
    store.save_folder_state(FolderState("INBOX", FolderRole.INBOX, uidvalidity=1234, last_uid=9))

    with pytest.raises(errors.StoreError, match="synced from IMAP"):
        sync_local(store, f"maildir:{tmp_path / 'Mail'}")
    assert store.count_messages() == 0


def test_a_path_that_is_not_a_maildir_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigError, match="not a Maildir"):
        open_source(f"maildir:{tmp_path}")


@pytest.mark.parametrize("source", ["imap:somewhere", "maildir", "mbox:"])
def test_a_source_needs_a_known_kind_and_a_path(source: str) -> None:
    with pytest.raises(errors.ConfigError):
        open_source(source)


# --- mbox ----------------------------------------------------------------------------------


def write_mbox(path: Path, *messages: tuple[str, bytes]) -> None:
    with path.open("wb") as handle:
        for from_line, raw in messages:
            handle.write(f"From {from_line}\n".encode())
            body = raw.replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From ")
            handle.write(body if body.endswith(b"\n") else body + b"\n")
            handle.write(b"\n")


def test_an_mbox_file_is_a_folder_named_after_it(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "Sent.mbox"
    seen = raw_message(1).replace(b"\r\n\r\n", b"\r\nStatus: RO\r\nX-Status: A\r\n\r\n", 1)
    write_mbox(
        path,
        ("alex.doe@example.org Mon Mar  2 09:00:00 2026", seen),
        ("alex.doe@example.org Mon Mar  2 10:00:00 2026", raw_message(2, date="not a date")),
    )

    report = sync_local(store, f"mbox:{path}")

    assert [(f.name, f.role) for f in report.folders] == [("Sent", FolderRole.SENT)]
    first = store.get_message("local-1@example.org")
    assert first is not None
    assert first.flags == frozenset({"\\Seen", "\\Answered"})
    undated = store.get_message("local-2@example.org")
    assert undated is not None
    assert undated.date == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # from the "From " line
    assert undated.date_is_fallback
    assert any("local-2@example.org" in w for w in report.warnings)


def test_an_mbox_imported_twice_adds_nothing_and_a_removed_message_is_forgotten(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "INBOX"
    line = "jane@acme.example Mon Mar  2 09:00:00 2026"
    write_mbox(path, (line, raw_message(1)), (line, raw_message(2)))
    sync_local(store, f"mbox:{path}")
    os.utime(path, ns=(5, 6))

    again = sync_local(store, f"mbox:{path}")
    write_mbox(path, (line, raw_message(2)))
    os.utime(path, ns=(7, 8))
    shrunk = sync_local(store, f"mbox:{path}")

    assert again.folder("INBOX").role is FolderRole.INBOX
    assert (again.fetched, again.new, again.removed) == (0, 0, 0)
    assert (shrunk.fetched, shrunk.removed) == (0, 1)
    assert store.locations_of("local-1@example.org") == []
    assert store.count_messages() == 2


def test_a_directory_of_mbox_files_gives_one_folder_each(tmp_path: Path, store: Store) -> None:
    line = "jane@acme.example Mon Mar  2 09:00:00 2026"
    write_mbox(tmp_path / "Inbox", (line, raw_message(1)))
    write_mbox(tmp_path / "Drafts.mbox", (line, raw_message(2)))
    (tmp_path / "Inbox.msf").write_text("index, not mail")
    (tmp_path / "notes.txt").write_text("not mail either")

    report = sync_local(store, f"mbox:{tmp_path}")

    assert sorted((f.name, f.role) for f in report.folders) == [
        ("Drafts", FolderRole.DRAFTS),
        ("INBOX", FolderRole.INBOX),
    ]
    assert store.count_messages() == 2


def test_stable_keys_are_positive_63_bit_and_repeatable() -> None:
    keys = {stable_key(f"message {n}".encode()) for n in range(1000)}

    assert len(keys) == 1000
    assert all(0 <= key < 2**63 for key in keys)
    assert stable_key(b"same") == stable_key(b"same")


# --- progress ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_line_shows_count_rate_and_time_left() -> None:
    line = render_line(label="messages", done=1200, total=5000, elapsed=2.0, width=10)

    assert line == "[##........] 1,200/5,000 messages  600/s  6s left"


def test_durations_are_short_and_readable() -> None:
    assert [format_duration(s) for s in (4.4, 185, 3720)] == ["4s", "3m05s", "1h02m"]


def test_on_a_terminal_the_progress_line_is_redrawn_in_place() -> None:
    clock, terminal = FakeClock(), FakeTerminal()
    progress = Progress(stream=terminal, clock=clock)

    progress.add_total(100)
    clock.now = 1.0
    progress.advance(50)
    progress.close()

    output = terminal.getvalue()
    assert "\r[" in output
    assert "50/100 messages  50/s  1s left" in output
    assert output.endswith("\n")


def test_off_a_terminal_progress_is_logged_now_and_then(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    box = make_maildir(tmp_path / "Mail")
    for n in range(3):
        add(box, raw_message(n))
    clock = FakeClock()
    progress = Progress(stream=io.StringIO(), clock=clock, log_interval=10)

    with caplog.at_level(logging.INFO, logger="mailfollow.progress"):
        sync_local(store, f"maildir:{tmp_path / 'Mail'}", progress=progress)
        clock.now = 20
        progress.close()

    lines = [r.getMessage() for r in caplog.records if r.name == "mailfollow.progress"]
    assert lines
    assert "3/3 messages" in lines[-1]
    assert (progress.total, progress.done) == (3, 3)
