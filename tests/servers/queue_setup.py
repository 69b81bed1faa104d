"""What the Drafts-folder and outbox server tests share: a job search seeded into the
test Dovecot, an SMTP sink that accepts the same login, and a configuration for both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from mailfollow import pipeline
from mailfollow.adapters.store import DraftRecord
from mailfollow.config import Config, load_config
from mailfollow.model import QueueState
from tests.servers import TlsAuthority
from tests.servers.dovecot import ImapAccount, append_message, connect
from tests.servers.smtp import SmtpSink

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)  # a Monday
APPLIED = NOW - timedelta(days=14)
ME = "alex.doe@example.org"


def application(n: int = 1, *, when: datetime = APPLIED) -> bytes:
    """The user's job application n, to Jane at acme<n>.example, with a CV attached."""
    return (
        f"From: Alex Doe <{ME}>\r\n"
        f"To: Jane Smith <jane@acme{n}.example>\r\n"
        "Subject: Application for the Backend Engineer position\r\n"
        f"Date: {format_datetime(when)}\r\n"
        f"Message-ID: <app-{n}@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="cv"\r\n'
        "\r\n"
        "--cv\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Dear Jane,\r\n\r\nI am writing to apply for the Backend Engineer position at Acme."
        " Please find my CV attached.\r\n\r\nBest regards,\r\nAlex Doe\r\n"
        "--cv\r\n"
        'Content-Type: application/pdf; name="Alex_Doe_CV.pdf"\r\n'
        'Content-Disposition: attachment; filename="Alex_Doe_CV.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "JVBERi0xLjQK\r\n"
        "--cv--\r\n"
    ).encode()


def human_reply(n: int = 1, *, when: datetime) -> bytes:
    """Jane answers application n: a person's reply, so no follow-up is wanted."""
    return (
        f"From: Jane Smith <jane@acme{n}.example>\r\n"
        f"To: Alex Doe <{ME}>\r\n"
        "Subject: Re: Application for the Backend Engineer position\r\n"
        f"Date: {format_datetime(when)}\r\n"
        f"Message-ID: <reply-{n}@acme{n}.example>\r\n"
        f"In-Reply-To: <app-{n}@example.org>\r\n"
        f"References: <app-{n}@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Hi Alex,\r\n\r\nThanks for applying. Could we talk on Thursday at 10? Would that"
        " work for you?\r\n\r\nJane\r\n"
    ).encode()


def seed(account: ImapAccount, *messages: tuple[str, bytes]) -> None:
    """APPEND (folder, raw) pairs; Sent mail is \\Seen."""
    for folder, raw in messages:
        flags = ("\\Seen",) if folder == "Sent" else ()
        append_message(account, folder, raw, flags=flags, internal_date=APPLIED)


def write_config(tmp_path: Path, account: ImapAccount, sink: SmtpSink, *, drafts: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[account]
name = "Alex Doe"
address = "{ME}"
username = "{account.username}"

[account.imap]
host = "127.0.0.1"
port = {account.tls_port}
security = "tls"
ca_file = "{account.ca_file}"

[account.smtp]
host = "127.0.0.1"
port = {sink.port}
security = "starttls"
ca_file = "{sink.ca_file}"

[account.password]
password_command = ["printf", "%s", "{account.password}"]

[drafts]
{drafts}

[state]
dir = "{tmp_path / "state"}"
""",
        encoding="utf-8",
    )
    return path


def make_config(
    tmp_path: Path, account: ImapAccount, sink: SmtpSink, *, drafts: str = ""
) -> Config:
    return load_config(write_config(tmp_path, account, sink, drafts=drafts))


def running_sink(tls_ca: TlsAuthority, account: ImapAccount) -> Iterator[SmtpSink]:
    """An SMTP sink that accepts the IMAP user's login, as one mail provider would."""
    sink = SmtpSink(
        tls=tls_ca, username=account.username, password=account.password, require_auth=True
    )
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def only_draft(config: Config, *statuses: QueueState) -> DraftRecord:
    with pipeline.open_store(config) as store:
        drafts = store.list_drafts(statuses or None)
    assert len(drafts) == 1, drafts
    return drafts[0]


def draft(config: Config, draft_id: int) -> DraftRecord:
    with pipeline.open_store(config) as store:
        record = store.get_draft(draft_id)
    assert record is not None
    return record


def folder_messages(account: ImapAccount, folder: str) -> dict[int, tuple[bytes, frozenset[str]]]:
    """UID -> (whole message, flags) of every message in ``folder``, read without marking."""
    with connect(account) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        if not uids:
            return {}
        fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"])
    return {
        uid: (
            bytes(data[b"BODY[]"]),
            frozenset(f.decode() if isinstance(f, bytes) else str(f) for f in data[b"FLAGS"]),
        )
        for uid, data in fetched.items()
    }
