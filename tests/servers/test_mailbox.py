"""The IMAP adapter: its response parsers on their own, then a real Dovecot."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailfollow import errors
from mailfollow.adapters.mailbox import (
    FolderInfo,
    ImapSettings,
    MailboxSession,
    find_role_folders,
    guess_role,
    parse_bodystructure,
    parse_fetch_response,
    parse_internal_date,
    parse_uid_set,
    uid_set,
)
from mailfollow.credentials import AuthMechanism, Credentials, Secret
from mailfollow.model import FolderRole
from tests.servers.dovecot import ImapAccount, append_message, connect, free_port

ARRIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def plain_message(n: int, *, subject: str = "Application", body: str = "Hello there") -> bytes:
    return (
        f"From: Jane Smith <jane@acme.example>\r\n"
        f"To: Alex Doe <alex.doe@example.org>\r\n"
        f"Subject: {subject} {n}\r\n"
        f"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
        f"Message-ID: <msg-{n}@acme.example>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"\r\n{body}\r\n"
    ).encode()


WITH_ATTACHMENT = (
    b"From: Alex Doe <alex.doe@example.org>\r\n"
    b"To: jobs@acme.example\r\n"
    b"Subject: Application: Backend Engineer\r\n"
    b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
    b"Message-ID: <app-1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Dear hiring team, I am applying for the role. Gr=FC=DFe\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Dear hiring team</p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''Lebenslauf%20J%C3%B6rg.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--outer--\r\n"
)


def settings_for(account: ImapAccount, **changes: object) -> ImapSettings:
    """Implicit TLS to the test server, trusting the test CA."""
    settings = ImapSettings(
        host=account.host,
        port=account.tls_port,
        security="tls",
        username=account.username,
        ca_file=account.ca_file,
        timeout=10,
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def login_for(account: ImapAccount, password: str | None = None) -> Callable[[], Credentials]:
    secret = Secret(account.password if password is None else password)
    return lambda: Credentials(account.username, secret, AuthMechanism.PASSWORD)


# --- pure parsers ------------------------------------------------------------------------


def test_a_fetch_response_with_a_literal_quoted_strings_and_nil_is_parsed() -> None:
    data = [
        (b"1 (UID 7 BODY[HEADER.FIELDS (FROM SUBJECT)] {22}", b'Subject: a (b) "c"\r\n\r\n'),
        b' INTERNALDATE "02-Mar-2026 09:30:00 +0000" FLAGS (\\Seen $Label) X NIL Q "say \\"hi\\"")',
    ]

    parsed = parse_fetch_response(data)

    item = parsed[7]
    assert item[b"BODY[HEADER.FIELDS (FROM SUBJECT)]"] == b'Subject: a (b) "c"\r\n\r\n'
    assert item[b"FLAGS"] == [b"\\Seen", b"$Label"]
    assert item[b"X"] is None
    assert item[b"Q"] == b'say "hi"'
    assert parse_internal_date(item[b"INTERNALDATE"]) == ARRIVED


def test_fetch_responses_without_a_uid_are_dropped_and_repeats_merge() -> None:
    data = [b"3 (FLAGS (\\Deleted))", b"4 (UID 9 FLAGS ())", b"4 (UID 9 MODSEQ (12))"]

    parsed = parse_fetch_response(data)

    assert list(parsed) == [9]
    assert parsed[9] == {b"UID": b"9", b"FLAGS": [], b"MODSEQ": [b"12"]}


def test_an_unbalanced_fetch_response_is_a_mailbox_error() -> None:
    with pytest.raises(errors.MailboxError):
        parse_fetch_response([b"1 (UID 1 FLAGS (\\Seen)"])


def test_an_unreadable_internaldate_gives_none() -> None:
    assert parse_internal_date(b"yesterday") is None
    assert parse_internal_date(b"31-Feb-2026 09:30:00 +0000") is None
    assert parse_internal_date(None) is None


def test_uid_sets_are_compressed_into_ranges_and_read_back() -> None:
    uids = [9, 1, 2, 3, 5, 7, 8, 3]

    text = uid_set(uids)

    assert text == "1:3,5,7:9"
    assert parse_uid_set(text) == [1, 2, 3, 5, 7, 8, 9]
    assert parse_uid_set("4:2") == [2, 3, 4]


def _leaf(main: bytes, sub: bytes, params: list[bytes] | None, encoding: bytes = b"7BIT") -> list:  # type: ignore[type-arg]
    # type subtype params id description encoding size [lines] md5 disposition language location
    lines = [b"3"] if main == b"TEXT" else []
    return [main, sub, params, None, None, encoding, b"120", *lines, None, None, None, None]


def test_the_first_plain_text_part_of_a_nested_multipart_is_found() -> None:
    alternative = [
        _leaf(b"TEXT", b"PLAIN", [b"CHARSET", b"iso-8859-1"], b"QUOTED-PRINTABLE"),
        _leaf(b"TEXT", b"HTML", [b"CHARSET", b"utf-8"]),
        b"ALTERNATIVE",
        [b"BOUNDARY", b"inner"],
        None,
        None,
        None,
    ]
    pdf = _leaf(b"APPLICATION", b"PDF", None, b"BASE64")
    pdf[8] = [b"ATTACHMENT", [b"FILENAME*", b"utf-8''Lebenslauf%20J%C3%B6rg.pdf"]]
    structure = [alternative, pdf, b"MIXED", [b"BOUNDARY", b"outer"], None, None, None]

    body = parse_bodystructure(structure)

    assert body.content_type == "multipart/mixed"
    assert body.part_types == (
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "application/pdf",
    )
    assert body.attachment_names == ("Lebenslauf Jörg.pdf",)
    assert body.text_part is not None
    assert (body.text_part.section, body.text_part.charset) == ("1.1", "iso-8859-1")
    assert body.text_part.encoding == "quoted-printable"


def test_an_attached_text_file_is_not_the_message_text_and_html_is_the_fallback() -> None:
    notes = _leaf(b"TEXT", b"PLAIN", [b"NAME", b"=?utf-8?q?notes=C3=A9.txt?="])
    html = _leaf(b"TEXT", b"HTML", [b"CHARSET", b"utf-8"])
    structure = [notes, html, b"MIXED", None, None, None, None]

    body = parse_bodystructure(structure)

    assert body.attachment_names == ("notesé.txt",)
    assert body.text_part is not None
    assert (body.text_part.section, body.text_part.subtype) == ("2", "html")


def test_a_delivery_report_is_located_and_an_enclosed_message_counts_as_one_part() -> None:
    text = _leaf(b"TEXT", b"PLAIN", [b"CHARSET", b"us-ascii"])
    report = _leaf(b"MESSAGE", b"DELIVERY-STATUS", None)
    inner = _leaf(b"TEXT", b"PLAIN", None)
    enclosed = [b"MESSAGE", b"RFC822", None, None, None, b"7BIT", b"500", None, inner, b"10"]
    enclosed += [None, None, None, None]
    structure = [text, report, enclosed, b"REPORT", None, None, None, None]

    body = parse_bodystructure(structure)

    assert body.part_types == (
        "multipart/report",
        "text/plain",
        "message/delivery-status",
        "message/rfc822",
    )
    assert body.report_section == "2"
    assert body.text_part is not None
    assert body.text_part.section == "1"


def test_a_single_part_message_has_its_text_in_part_1() -> None:
    body = parse_bodystructure(_leaf(b"TEXT", b"PLAIN", [b"CHARSET", b"utf-8"], b"BASE64"))

    assert body.text_part is not None
    assert (body.text_part.section, body.text_part.encoding) == ("1", "base64")


# --- folder roles ------------------------------------------------------------------------


def folder(name: str, *flags: str, delimiter: str = "/") -> FolderInfo:
    return FolderInfo(name=name, delimiter=delimiter, flags=frozenset(f.lower() for f in flags))


def test_special_use_flags_decide_roles_before_names() -> None:
    folders = [
        folder("INBOX"),
        folder("Sent"),
        folder("Outgoing", "\\Sent"),
        folder("Drafts", "\\Drafts"),
        folder("Old", "\\Archive"),
    ]

    found, warnings = find_role_folders(folders)

    assert found[FolderRole.SENT] == "Outgoing"
    assert found[FolderRole.DRAFTS] == "Drafts"
    assert found[FolderRole.ARCHIVE] == "Old"
    assert found[FolderRole.INBOX] == "INBOX"
    assert warnings == []


@pytest.mark.parametrize(
    ("name", "delimiter", "role"),
    [
        ("Sent Items", "/", FolderRole.SENT),
        ("INBOX.Sent Messages", ".", FolderRole.SENT),
        ("[Gmail]/Sent Mail", "/", FolderRole.SENT),
        ("[Google Mail]/Gesendet", "/", FolderRole.SENT),
        ("Gesendete Elemente", "/", FolderRole.SENT),
        ("Éléments envoyés", "/", FolderRole.SENT),
        ("Skickat", "/", FolderRole.SENT),
        ("Entwürfe", "/", FolderRole.DRAFTS),
        ("INBOX/Brouillons", "/", FolderRole.DRAFTS),
        ("Archives", "/", FolderRole.ARCHIVE),
        ("[Gmail]/All Mail", "/", FolderRole.ALL),
        ("Projects", "/", FolderRole.OTHER),
    ],
)
def test_folders_without_special_use_are_recognised_by_common_names(
    name: str, delimiter: str, role: FolderRole
) -> None:
    assert guess_role(name, delimiter) is role
    if role is not FolderRole.OTHER:
        found, _ = find_role_folders([folder("INBOX"), folder(name, delimiter=delimiter)])
        assert found[role] == name


def test_an_override_beats_special_use_and_a_missing_one_is_reported() -> None:
    folders = [folder("INBOX"), folder("Sent", "\\Sent"), folder("Mine")]

    found, warnings = find_role_folders(
        folders, {FolderRole.SENT: "mine", FolderRole.ARCHIVE: "Nowhere"}
    )

    assert found[FolderRole.SENT] == "Mine"
    assert FolderRole.ARCHIVE not in found
    assert warnings == ["folder 'Nowhere' configured for archive does not exist on the server"]


def test_unselectable_folders_never_get_a_role() -> None:
    found, _ = find_role_folders([folder("INBOX"), folder("Sent", "\\Noselect")])

    assert FolderRole.SENT not in found


# --- connecting ----------------------------------------------------------------------------


def test_plaintext_to_a_remote_host_is_refused_before_any_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    settings = ImapSettings("192.0.2.10", 143, "none", "alex", allow_insecure=True)

    with pytest.raises(errors.ConfigError, match="refusing plaintext"):
        MailboxSession(
            settings, lambda: Credentials("alex", Secret("x"), AuthMechanism.PASSWORD)
        ).open()


def test_plaintext_to_loopback_needs_allow_insecure(imap_account: ImapAccount) -> None:
    settings = settings_for(imap_account, port=imap_account.port, security="none")

    with pytest.raises(errors.ConfigError, match="allow_insecure"):
        MailboxSession(settings, login_for(imap_account)).open()

    allowed = replace(settings, allow_insecure=True)
    with MailboxSession(allowed, login_for(imap_account)) as session:
        assert session.is_open
        assert session.select("INBOX").messages == 0


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls_connect_with_the_configured_ca(
    imap_account: ImapAccount, security: str
) -> None:
    port = imap_account.tls_port if security == "tls" else imap_account.port
    settings = settings_for(imap_account, port=port, security=security)

    with MailboxSession(settings, login_for(imap_account)) as session:
        assert session.condstore
        assert session.qresync
        assert session.select("INBOX").uidvalidity


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_a_certificate_from_an_unknown_ca_is_refused_and_not_retried(
    imap_account: ImapAccount, security: str
) -> None:
    port = imap_account.tls_port if security == "tls" else imap_account.port
    settings = settings_for(imap_account, ca_file=None, port=port, security=security)
    session = MailboxSession(settings, login_for(imap_account))

    with pytest.raises(errors.MailboxError, match="not trusted") as caught:
        session.open()

    assert not isinstance(caught.value, errors.MailboxUnavailable)
    assert not session.is_open


def test_a_wrong_password_is_a_credential_error(imap_account: ImapAccount) -> None:
    session = MailboxSession(settings_for(imap_account), login_for(imap_account, "wrong"))

    with pytest.raises(errors.CredentialError):
        session.open()
    assert not session.is_open


def test_an_xoauth2_token_is_sent_with_authenticate(imap_account: ImapAccount) -> None:
    # The test server has no OAuth2 backend: it rejects the mechanism, which shows the
    # token went out as SASL XOAUTH2 (not as a LOGIN password) and maps to CredentialError.
    def token() -> Credentials:
        return Credentials(imap_account.username, Secret("ya29.token"), AuthMechanism.XOAUTH2)

    with pytest.raises(errors.CredentialError, match=r"(?i)mechanism"):
        MailboxSession(settings_for(imap_account), token).open()


def test_a_refused_connection_is_transient() -> None:
    settings = ImapSettings("127.0.0.1", free_port(), "tls", "alex", timeout=5)

    with pytest.raises(errors.MailboxUnavailable, match="refused"):
        MailboxSession(
            settings, lambda: Credentials("alex", Secret("x"), AuthMechanism.PASSWORD)
        ).open()


def test_a_missing_ca_file_is_a_configuration_error(
    imap_account: ImapAccount, tmp_path: Path
) -> None:
    settings = settings_for(imap_account, ca_file=tmp_path / "absent.pem")

    with pytest.raises(errors.ConfigError, match="ca_file"):
        MailboxSession(settings, login_for(imap_account)).open()


def noop_until_dropped(session: MailboxSession) -> None:
    for _ in range(100):  # the BYE may take a moment to arrive
        session.noop()
        time.sleep(0.02)


def test_a_kicked_session_becomes_unavailable_and_closes(imap_account: ImapAccount) -> None:
    session = MailboxSession(settings_for(imap_account), login_for(imap_account))
    with session:
        session.select("INBOX")
        imap_account.server.kick(imap_account.username)

        with pytest.raises(errors.MailboxUnavailable):
            noop_until_dropped(session)

        assert not session.is_open
        session.open()  # and it can be opened again
        assert session.select("INBOX").messages == 0


# --- folders and fetching ------------------------------------------------------------------


def test_special_use_folders_are_found_on_the_server(imap_account: ImapAccount) -> None:
    with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
        folders, statuses = session.list_folders()

    found, _ = find_role_folders(folders)
    assert found == {
        FolderRole.INBOX: "INBOX",
        FolderRole.SENT: "Sent",
        FolderRole.DRAFTS: "Drafts",
        FolderRole.ARCHIVE: "Archive",
        FolderRole.TRASH: "Trash",
        FolderRole.JUNK: "Junk",
    }
    assert statuses["INBOX"].messages == 0
    assert statuses["INBOX"].highest_modseq is not None


def test_without_list_status_the_status_of_a_folder_costs_one_command(
    imap_account: ImapAccount,
) -> None:
    append_message(imap_account, "Sent", plain_message(1))
    settings = settings_for(imap_account, disabled_extensions=frozenset({"LIST-STATUS"}))

    with MailboxSession(settings, login_for(imap_account)) as session:
        folders, statuses = session.list_folders()
        before = session.commands
        status = session.status("Sent")

        assert session.commands == before + 1
    assert statuses == {}
    assert "Sent" in {f.name for f in folders}
    assert (status.messages, status.uidnext) == (1, 2)


def test_fetching_gets_headers_structure_and_snippet_without_marking_anything_read(
    imap_account: ImapAccount,
) -> None:
    first = append_message(imap_account, "INBOX", WITH_ATTACHMENT, internal_date=ARRIVED)
    second = append_message(imap_account, "INBOX", plain_message(2, body="Short note"))

    with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
        session.select("INBOX")
        uids = session.search_uids()
        fetched = {m.uid: m for m in session.fetch_messages(uids)}

    assert uids == [first, second]
    application = fetched[first]
    assert b"Subject: Application: Backend Engineer" in application.header
    assert b"Content-Transfer-Encoding" not in application.header  # only the listed fields
    assert application.internal_date == ARRIVED
    assert application.body.attachment_names == ("Lebenslauf Jörg.pdf",)
    assert application.body.text_part is not None
    assert application.body.text_part.section == "1.1"
    assert application.snippet.startswith(b"Dear hiring team")
    assert application.modseq is not None
    assert fetched[second].snippet.startswith(b"Short note")
    with connect(imap_account) as client:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags([first, second])
    assert all(b"\\Seen" not in f for f in flags.values())


def test_changes_since_a_modseq_report_flags_and_vanished_uids(imap_account: ImapAccount) -> None:
    uids = [append_message(imap_account, "Drafts", plain_message(n)) for n in range(3)]
    with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
        before = session.select("Drafts")
        with connect(imap_account) as client:
            client.select_folder("Drafts")
            client.add_flags([uids[0]], [b"\\Flagged"])
            client.delete_messages([uids[1]])
            client.expunge()
        session.select("Drafts")
        assert before.highest_modseq is not None
        changes = session.fetch_changes(since_modseq=before.highest_modseq)

    assert changes.vanished == frozenset({uids[1]})
    assert "\\Flagged" in changes.flags[uids[0]][0]
    assert uids[2] not in changes.flags


def test_search_lists_only_uids_above_the_last_one_seen(imap_account: ImapAccount) -> None:
    uids = [append_message(imap_account, "INBOX", plain_message(n)) for n in range(3)]

    with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
        session.select("INBOX")
        assert session.search_uids(above=uids[0]) == uids[1:]
        assert session.search_uids(above=uids[-1]) == []


def test_idle_reports_new_mail_and_times_out_when_nothing_happens(
    imap_account: ImapAccount,
) -> None:
    with MailboxSession(settings_for(imap_account), login_for(imap_account)) as session:
        assert not session.wait_for_changes("INBOX", timeout=0.3)
        append_message(imap_account, "INBOX", plain_message(1))
        assert session.wait_for_changes("INBOX", timeout=10)  # arrived before the wait

        later = threading.Timer(0.5, append_message, (imap_account, "INBOX", plain_message(2)))
        started = time.monotonic()
        later.start()
        try:
            assert session.wait_for_changes("INBOX", timeout=10)  # pushed while idling
        finally:
            later.join()

        assert time.monotonic() - started < 5
        assert session.search_uids() == [1, 2]  # the session is usable after IDLE
