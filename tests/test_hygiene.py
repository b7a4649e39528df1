"""The suite's own guarantees: it never reaches the network, and no subprocess it starts can
hang it silently (every call carries a timeout; pytest-timeout ends a hung test with a
traceback and the run still prints its summary, setup.cfg)."""

import ast
import socket
from pathlib import Path

import pytest
from conftest import NetworkRefused, is_local

TESTS = Path(__file__).parent


@pytest.mark.parametrize(
    ("family", "address", "local"),
    [
        (socket.AF_INET, ("127.0.0.1", 80), True),
        (socket.AF_INET, ("127.3.2.1", 80), True),
        (socket.AF_INET6, ("::1", 80, 0, 0), True),
        (socket.AF_INET, ("localhost", 80), True),
        (socket.AF_UNIX, "/tmp/some.sock", True),
        (socket.AF_INET, ("192.0.2.1", 80), False),  # TEST-NET-1: documentation only
        (socket.AF_INET, ("10.1.2.3", 80), False),
        (socket.AF_INET6, ("2001:db8::1", 80, 0, 0), False),
        (socket.AF_INET, ("pypi.org", 443), False),
    ],
)
def test_only_this_machine_counts_as_local(family, address, local):
    assert is_local(family, address) is local


class _NotASocket:
    """Reaches the guard only: were it let through, the real method would reject it with a
    TypeError, and nothing would be sent."""

    family = socket.AF_INET


def test_connections_to_other_machines_are_refused_and_local_ones_work():
    for method in (socket.socket.connect, socket.socket.connect_ex):
        with pytest.raises(NetworkRefused, match="192.0.2.1"):
            method(_NotASocket(), ("192.0.2.1", 80))
    with pytest.raises(NetworkRefused):
        socket.socket.sendto(_NotASocket(), b"x", ("192.0.2.1", 53))
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client.connect(server.getsockname())  # loopback: allowed


def _calls_without_timeout(path: Path) -> list[str]:
    """``subprocess.run``/``check_output``/``check_call`` calls, and ``wait``/``communicate``
    on a process, that pass no ``timeout``: each could hang the suite."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, node.func.value
        runs = name in ("run", "check_output", "check_call") and (
            isinstance(owner, ast.Name) and owner.id == "subprocess"
        )
        waits = name in ("wait", "communicate") and not (
            isinstance(owner, ast.Name) and owner.id in ("psutil", "os", "self")
        )
        if (runs or waits) and not any(k.arg == "timeout" for k in node.keywords):
            bad.append(f"{path.name}:{node.lineno}: {ast.unparse(node.func)}")
    return bad


def test_every_subprocess_in_the_tests_has_a_timeout():
    bad = [line for path in sorted(TESTS.glob("*.py")) for line in _calls_without_timeout(path)]
    assert not bad, "calls that could hang the suite:\n" + "\n".join(bad)


def test_the_timeout_check_finds_a_call_without_one(tmp_path):
    path = tmp_path / "sample.py"
    path.write_text(
        "import subprocess\n"
        "subprocess.run(['true'])\n"
        "subprocess.run(['true'], timeout=5)\n"
        "p = subprocess.Popen(['true'])\n"
        "p.wait()\n"
        "p.communicate(timeout=5)\n"
    )
    assert _calls_without_timeout(path) == ["sample.py:2: subprocess.run", "sample.py:5: p.wait"]
