"""The test servers themselves work: real round trips to Dovecot and to the SMTP sink."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import socket
import ssl
import time
from datetime import datetime, timedelta, timezone

import aiosmtplib
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from tests.servers import REQUIRE_SERVERS_ENV, TlsAuthority, skip_or_fail_missing
from tests.servers.dovecot import (
    SPECIAL_FOLDERS,
    DovecotError,
    DovecotServer,
    ImapAccount,
    append_message,
    append_messages,
    connect,
    free_port,
    read_greeting,
)
from tests.servers.smtp import SmtpSink

RAW = (
    b"From: Alex Doe <alex.doe@example.org>\r\n"
    b"To: Jane Smith <jane@acme.example>\r\n"
    b"Subject: Application: Backend Engineer\r\n"
    b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
    b"Message-ID: <app-1@example.org>\r\n"
    b"\r\n"
    b"Hello Jane,\r\n"
    b".a line that starts with a dot survives SMTP transparency\r\n"
    b"Best, Alex\r\n"
)
SEEDED_AT = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))


def fetch_one(client: IMAPClient, uid: int, *items: str) -> dict[bytes, object]:
    response: dict[int, dict[bytes, object]] = client.fetch([uid], list(items))
    return response[uid]


def noop_until_disconnected(client: IMAPClient, timeout: float = 5.0) -> Exception | None:
    """NOOP until the server drops the session (the error it raised), or None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.noop()
        except (IMAPClientError, OSError) as exc:
            return exc
        time.sleep(0.02)
    return None


def send(sink: SmtpSink, raw: bytes = RAW, *, login: bool = True, use_tls: bool = False) -> None:
    """Send `raw` with aiosmtplib (STARTTLS, or SMTPS with use_tls), as Alex to Jane."""
    asyncio.run(_send(sink, raw, login=login, use_tls=use_tls))


async def _send(sink: SmtpSink, raw: bytes, *, login: bool, use_tls: bool) -> None:
    client = aiosmtplib.SMTP(
        hostname=sink.host,
        port=sink.port,
        use_tls=use_tls,
        cert_bundle=str(sink.ca_file),
        timeout=10,
    )
    await client.connect()
    sock = client.get_transport_info("socket")
    try:
        if login:
            await client.login(sink.username, sink.password)
        await client.sendmail("alex.doe@example.org", ["jane@acme.example"], raw)
    finally:
        with contextlib.suppress(aiosmtplib.SMTPException):
            await client.quit()
        client.close()
        await _closed(sock)


async def _closed(sock: socket.socket, timeout: float = 5.0) -> None:
    # Closing a TLS transport waits for the server's close_notify; if asyncio.run() ends
    # first, the socket is left open and filterwarnings=error fails a later test.
    deadline = time.monotonic() + timeout
    while sock.fileno() != -1 and time.monotonic() < deadline:
        await asyncio.sleep(0.002)


# --- Dovecot -----------------------------------------------------------------------------


def test_tests_in_this_folder_carry_the_servers_marker(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("servers") is not None


def test_a_user_logs_in_over_imaps_verifying_the_test_ca(imap_account: ImapAccount) -> None:
    with connect(imap_account) as client:
        assert isinstance(client.socket(), ssl.SSLSocket)
        assert client.noop()[0].startswith(b"NOOP completed")


def test_imaps_is_refused_by_a_client_that_does_not_trust_the_test_ca(
    imap_account: ImapAccount, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stranger = TlsAuthority.create(tmp_path_factory.mktemp("other-ca"))
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(
            imap_account.host,
            port=imap_account.tls_port,
            ssl_context=stranger.client_context(),
            timeout=5,
        )


def test_starttls_on_the_plain_port_upgrades_before_login(imap_account: ImapAccount) -> None:
    with IMAPClient(imap_account.host, port=imap_account.port, ssl=False, timeout=5) as client:
        assert b"STARTTLS" in client.capabilities()
        client.logout()
    with connect(imap_account, transport="starttls") as client:
        assert isinstance(client.socket(), ssl.SSLSocket)


def test_plain_login_works_on_loopback_for_allow_insecure_tests(
    imap_account: ImapAccount,
) -> None:
    with connect(imap_account, transport="plain") as client:
        assert not isinstance(client.socket(), ssl.SSLSocket)


def test_a_wrong_password_is_refused(imap_account: ImapAccount) -> None:
    with (
        IMAPClient(imap_account.host, port=imap_account.port, ssl=False, timeout=5) as client,
        pytest.raises(LoginError),
    ):
        client.login(imap_account.username, imap_account.password + "x")


def test_an_unknown_user_is_refused(imap_account: ImapAccount) -> None:
    with (
        IMAPClient(imap_account.host, port=imap_account.port, ssl=False, timeout=5) as client,
        pytest.raises(LoginError),
    ):
        client.login("nobody-here", imap_account.password)


def test_list_shows_the_special_use_folders_with_their_flags(imap_account: ImapAccount) -> None:
    with connect(imap_account) as client:
        folders = {name: flags for flags, _delimiter, name in client.list_folders()}
        subscribed = {name for _flags, _delimiter, name in client.list_sub_folders()}
    assert "INBOX" in folders
    for name, flag in SPECIAL_FOLDERS.items():
        assert flag.encode() in folders[name], name
        assert name in subscribed


def test_capability_advertises_condstore_qresync_idle_and_thread_references(
    imap_account: ImapAccount,
) -> None:
    with connect(imap_account) as client:
        capabilities = set(client.capabilities())
    assert {b"CONDSTORE", b"QRESYNC", b"IDLE", b"THREAD=REFERENCES", b"UIDPLUS"} <= capabilities


def test_an_appended_message_keeps_its_flags_date_and_bytes_and_stays_unread(
    imap_account: ImapAccount,
) -> None:
    uid = append_message(imap_account, "Sent", RAW, flags=["\\Flagged"], internal_date=SEEDED_AT)
    with connect(imap_account) as client:
        client.normalise_times = False
        client.select_folder("Sent", readonly=True)
        fetched = fetch_one(client, uid, "FLAGS", "INTERNALDATE", "BODY.PEEK[]")
        flags_after_peek = fetch_one(client, uid, "FLAGS")[b"FLAGS"]
    assert fetched[b"BODY[]"] == RAW
    assert fetched[b"INTERNALDATE"] == SEEDED_AT
    assert b"\\Flagged" in fetched[b"FLAGS"]  # type: ignore[operator]
    assert b"\\Seen" not in flags_after_peek  # type: ignore[operator]


def test_append_uids_grow_and_many_messages_can_share_one_connection(
    imap_account: ImapAccount,
) -> None:
    first = append_message(imap_account, "INBOX", RAW)
    later = append_messages(imap_account, "INBOX", [RAW, RAW])
    assert [first, *later] == [1, 2, 3]


def test_append_refuses_a_naive_internal_date(imap_account: ImapAccount) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        append_message(imap_account, "INBOX", RAW, internal_date=datetime(2026, 3, 2, 10, 30))


def test_each_test_gets_its_own_empty_mailbox(imap_account: ImapAccount) -> None:
    append_message(imap_account, "INBOX", RAW)
    other = imap_account.server
    other.add_user(imap_account.username + "b", "second-password")
    neighbour = ImapAccount(
        port=other.port,
        tls_port=other.tls_port,
        username=imap_account.username + "b",
        password="second-password",
        address="neighbour@example.test",
        ca_file=imap_account.ca_file,
        server=other,
    )
    with connect(neighbour) as client:
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0


def test_kick_closes_the_users_open_sessions(imap_account: ImapAccount) -> None:
    with connect(imap_account) as client:
        client.select_folder("INBOX")
        imap_account.server.kick(imap_account.username)
        assert isinstance(noop_until_disconnected(client), IMAPClientError | OSError)


def test_stopping_the_server_drops_an_idling_connection_at_once(
    imap_account: ImapAccount,
) -> None:
    # Dovecot's master leaves its children serving open connections for a while;
    # a stopped test server must not, or "the server went away" never happens.
    with connect(imap_account) as client:
        client.select_folder("INBOX")
        client.idle()
        imap_account.server.stop()
        try:
            started = time.monotonic()
            while time.monotonic() - started < 5:
                sock = client.socket()
                sock.settimeout(5)
                try:
                    if sock.recv(1) == b"":
                        break
                except (ssl.SSLError, OSError):
                    break
            assert time.monotonic() - started < 2
        finally:
            imap_account.server.start()
            with contextlib.suppress(OSError):
                client.shutdown()


def test_a_restart_keeps_the_mail_and_the_ports(imap_account: ImapAccount) -> None:
    uid = append_message(imap_account, "Archive", RAW)
    ports = (imap_account.server.port, imap_account.server.tls_port)
    imap_account.server.restart()
    assert (imap_account.server.port, imap_account.server.tls_port) == ports
    with connect(imap_account) as client:
        client.select_folder("Archive", readonly=True)
        assert fetch_one(client, uid, "BODY.PEEK[]")[b"BODY[]"] == RAW


def test_a_stopped_server_refuses_connections_until_started(imap_account: ImapAccount) -> None:
    server = imap_account.server
    server.stop()
    try:
        assert server.pid is None
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((server.host, server.port), timeout=2).close()
    finally:
        server.start()
    with connect(imap_account) as client:
        assert client.noop()


@pytest.mark.usefixtures("dovecot_binary")
def test_a_failed_start_says_what_to_check_and_shows_the_log(tls_ca: TlsAuthority) -> None:
    server = DovecotServer.create(tls=tls_ca, port=free_port(), tls_port=free_port())
    try:
        with socket.socket() as squatter:
            squatter.bind((server.host, server.port))
            squatter.listen()
            with pytest.raises(DovecotError) as failure:
                server.start()
        message = str(failure.value)
        assert "Check:" in message
        assert "Address already in use" in message
        assert not server.running
    finally:
        server.remove()


@pytest.mark.usefixtures("dovecot_binary")
def test_a_first_start_moves_to_other_ports_when_its_own_were_taken(
    tls_ca: TlsAuthority,
) -> None:
    server = DovecotServer.create(tls=tls_ca)
    try:
        with socket.socket() as squatter:
            squatter.bind((server.host, server.port))
            squatter.listen()
            taken = server.port
            server.start()
        assert server.port != taken
        assert read_greeting(server.host, server.port).startswith(b"* OK")
    finally:
        server.remove()


@pytest.mark.parametrize(("required", "outcome"), [("1", "Failed"), ("", "Skipped")])
def test_a_missing_server_skips_unless_servers_are_required(
    monkeypatch: pytest.MonkeyPatch, required: str, outcome: str
) -> None:
    monkeypatch.setenv(REQUIRE_SERVERS_ENV, required)
    with pytest.raises(BaseException) as stopped:  # noqa: PT011 - Failed/Skipped are internal
        skip_or_fail_missing("dovecot is not installed", "install dovecot-imapd")
    assert type(stopped.value).__name__ == outcome
    assert "dovecot is not installed" in str(stopped.value)


# --- SMTP sink ---------------------------------------------------------------------------


def test_a_message_sent_over_starttls_with_auth_arrives_byte_for_byte(
    smtp_server: SmtpSink,
) -> None:
    send(smtp_server)
    [received] = smtp_server.messages
    assert received.data == RAW
    assert received.mail_from == "alex.doe@example.org"
    assert received.rcpt_tos == ("jane@acme.example",)
    assert received.tls
    assert received.authenticated
    assert received.auth_username == smtp_server.username


def test_smtps_delivers_over_implicit_tls_with_auth(smtps_server: SmtpSink) -> None:
    send(smtps_server, use_tls=True)
    [received] = smtps_server.messages
    assert (received.data, received.tls, received.authenticated) == (RAW, True, True)


def test_auth_is_offered_only_after_starttls(smtp_server: SmtpSink) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.login(smtp_server.username, smtp_server.password)
        client.starttls(context=smtp_server.tls.client_context())
        client.ehlo()
        assert set(client.esmtp_features["auth"].split()) >= {"PLAIN", "LOGIN"}


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_both_auth_mechanisms_accept_the_sink_credentials_only(
    smtp_server: SmtpSink, mechanism: str
) -> None:
    # smtplib rather than aiosmtplib: on some Python 3.11 builds aiosmtplib leaves its
    # socket unclosed after a failed login over TLS, which filterwarnings=error reports.
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        client.starttls(context=smtp_server.tls.client_context())
        client.ehlo()
        authenticate = getattr(client, f"auth_{mechanism.lower()}")
        client.user, client.password = smtp_server.username, "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.auth(mechanism, authenticate)
        assert refused.value.smtp_code == 535
        client.password = smtp_server.password
        assert client.auth(mechanism, authenticate)[0] == 235


def test_require_auth_rejects_mail_from_without_login(smtp_server: SmtpSink) -> None:
    smtp_server.require_auth = True
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        send(smtp_server, login=False)
    assert refused.value.code == 530


@pytest.mark.parametrize(
    ("at", "code", "error"),
    [
        ("mail", 451, aiosmtplib.SMTPSenderRefused),
        ("rcpt", 550, aiosmtplib.SMTPRecipientsRefused),
        ("data", 554, aiosmtplib.SMTPDataError),
    ],
)
def test_fail_next_rejects_the_chosen_command_with_the_chosen_code(
    smtp_server: SmtpSink, at: str, code: int, error: type[aiosmtplib.SMTPException]
) -> None:
    smtp_server.fail_next(code, "injected failure", at=at)  # type: ignore[arg-type]
    with pytest.raises(error) as rejected:
        send(smtp_server)
    assert str(code) in str(rejected.value)
    assert "injected failure" in str(rejected.value)
    assert smtp_server.messages == []
    send(smtp_server)
    assert len(smtp_server.messages) == 1


def test_fail_next_times_rejects_that_many_attempts(smtp_server: SmtpSink) -> None:
    smtp_server.fail_next(451, "try later", times=2)
    for _attempt in range(2):
        with pytest.raises(aiosmtplib.SMTPResponseException) as rejected:
            send(smtp_server)
        assert rejected.value.code == 451
    send(smtp_server)
    assert len(smtp_server.messages) == 1


def test_a_stopped_sink_looks_like_a_dead_server_until_started(smtp_server: SmtpSink) -> None:
    smtp_server.stop()
    with pytest.raises(aiosmtplib.SMTPConnectError):
        send(smtp_server)
    smtp_server.start()
    send(smtp_server)
    assert len(smtp_server.messages) == 1


def test_fail_next_refuses_codes_that_are_not_rejections(smtp_server: SmtpSink) -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        smtp_server.fail_next(250, "fine")
