"""The sd_notify protocol against a Unix datagram socket the test owns."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailfollow.sdnotify import Notifier, WatchdogPinger, socket_address, watchdog_ping_interval


class Receiver:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, sock: socket.socket, name: str) -> None:
        self.sock = sock
        self.name = name

    def receive(self) -> list[str]:
        return self.sock.recv(4096).decode().split("\n")


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        yield Receiver(sock, str(path))


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    name = f"@mailfollow-test-{secrets.token_hex(6)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(socket_address(name))
        sock.settimeout(5)
        yield Receiver(sock, name)


def test_ready_sends_ready_and_the_status_in_one_datagram(receiver: Receiver) -> None:
    notifier = Notifier(receiver.name)

    assert notifier.ready(status="started; first poll now")

    assert receiver.receive() == ["READY=1", "STATUS=started; first poll now"]


def test_an_abstract_socket_name_starting_with_at_is_reached(
    abstract_receiver: Receiver,
) -> None:
    notifier = Notifier(abstract_receiver.name)

    assert notifier.watchdog()

    assert abstract_receiver.receive() == ["WATCHDOG=1"]


def test_an_abstract_name_maps_the_at_sign_to_a_nul_byte() -> None:
    assert socket_address("@systemd/notify") == b"\0systemd/notify"
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"


def test_status_is_flattened_to_one_line(receiver: Receiver) -> None:
    Notifier(receiver.name).status("last poll 12:03,\n2 drafts pending")

    assert receiver.receive() == ["STATUS=last poll 12:03, 2 drafts pending"]


def test_stopping_and_reloading_are_sent(receiver: Receiver) -> None:
    notifier = Notifier(receiver.name)

    notifier.stopping()
    stopping = receiver.receive()
    notifier.reloading(status="reloading")
    reloading = receiver.receive()

    assert stopping == ["STOPPING=1"]
    assert reloading[0] == "RELOADING=1"
    assert reloading[1].startswith("MONOTONIC_USEC=")
    assert int(reloading[1].split("=")[1]) > 0
    assert reloading[2] == "STATUS=reloading"


def test_without_notify_socket_every_call_is_a_no_op() -> None:
    notifier = Notifier.from_environment({})

    assert not notifier.enabled
    assert notifier.ready(status="x") is False
    assert notifier.watchdog() is False


def test_a_vanished_socket_is_ignored_not_raised(tmp_path: Path) -> None:
    notifier = Notifier(str(tmp_path / "gone.sock"))

    assert notifier.ready() is False


def test_watchdog_pings_at_half_of_watchdog_usec() -> None:
    assert watchdog_ping_interval({"WATCHDOG_USEC": "120000000"}) == 60.0


def test_no_watchdog_without_watchdog_usec_or_with_nonsense() -> None:
    assert watchdog_ping_interval({}) is None
    assert watchdog_ping_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_ping_interval({"WATCHDOG_USEC": "0"}) is None


def test_watchdog_usec_meant_for_another_process_is_ignored() -> None:
    environ = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}

    assert watchdog_ping_interval(environ) is None
    assert watchdog_ping_interval({**environ, "WATCHDOG_PID": str(os.getpid())}) == 1.0


def test_the_pinger_pings_while_healthy_and_stops_when_not(receiver: Receiver) -> None:
    healthy = threading.Event()
    healthy.set()
    pinger = WatchdogPinger(Notifier(receiver.name), interval=0.01, healthy=healthy.is_set)
    pinger.start()
    try:
        assert receiver.receive() == ["WATCHDOG=1"]
        healthy.clear()
        receiver.sock.settimeout(0.2)
        # Drain pings sent before the switch; then none may arrive.
        with pytest.raises(TimeoutError):  # noqa: PT012 (drain loop)
            for _ in range(100):
                receiver.receive()
    finally:
        pinger.stop()
    assert pinger.pings >= 1
