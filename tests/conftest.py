import ipaddress
import os
import socket

import pytest

# Tests never reach the network: W&B stays off unless a test turns it on explicitly, and every
# connection this process opens must stay on this machine (refuse_network below).
os.environ.setdefault("WANDB_MODE", "disabled")


def _own_addresses() -> set[str]:
    """This machine's own addresses (a local Ray node may listen on one of them)."""
    own = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            own.add(info[4][0])
    except OSError:
        pass
    return own


OWN_ADDRESSES = _own_addresses()


def is_local(family: int, address) -> bool:
    """Whether a socket address stays on this machine: a Unix socket, loopback, or one of this
    machine's own addresses. A host name counts only when it is ``localhost``."""
    if family == getattr(socket, "AF_UNIX", None) or not isinstance(address, tuple):
        return True
    host = address[0]
    if host in ("localhost", "") or host in OWN_ADDRESSES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a name other than localhost: it would need a DNS look-up
        return False


class NetworkRefused(RuntimeError):
    """A test tried to reach another machine."""


def _check(sock: socket.socket, address) -> None:
    if not is_local(sock.family, address):
        raise NetworkRefused(f"tests never reach the network: {address!r} refused")


def _connecting(method):
    def guarded(sock, address):
        _check(sock, address)
        return method(sock, address)

    return guarded


def _sending(method):
    def guarded(sock, data, *flags_and_address):
        _check(sock, flags_and_address[-1])
        return method(sock, data, *flags_and_address)

    return guarded


@pytest.fixture(autouse=True, scope="session")
def refuse_network():
    """Every connection (and datagram) to another machine fails at once, in every test."""
    with pytest.MonkeyPatch.context() as mp:
        for name, wrap in (("connect", _connecting), ("connect_ex", _connecting)):
            mp.setattr(socket.socket, name, wrap(getattr(socket.socket, name)))
        mp.setattr(socket.socket, "sendto", _sending(socket.socket.sendto))
        yield
