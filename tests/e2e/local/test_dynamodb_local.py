"""The DynamoDB Local manager: idempotent start, clear errors, stop ends only its own process."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

from cruddur.config import project_root
from cruddur.local.dynamodb import DynamoDBLocal, endpoint_answers
from cruddur.local.installers import InstallError
from cruddur.local.processes import EngineError, free_port, process_alive


def test_start_is_idempotent_and_stop_ends_it(tmp_path: Path):
    engine = DynamoDBLocal(project_root(), tmp_path, port=free_port(), in_memory=True)
    first = engine.start()
    try:
        assert first.running and endpoint_answers(engine.port)
        assert engine.start().pid == first.pid  # a second start changes nothing
    finally:
        assert engine.stop()
    assert not process_alive(first.pid)
    assert not engine.status().running
    assert engine.stop() is False


def test_a_port_held_by_something_else_is_one_clear_error(tmp_path: Path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        engine = DynamoDBLocal(project_root(), tmp_path, port=port, in_memory=True)
        with pytest.raises(EngineError, match=f"port {port} is held by another process"):
            engine.start()
        assert engine.stop() is False  # never kills what it did not start


def test_missing_java_without_an_installer_is_one_clear_error(tmp_path: Path):
    engine = DynamoDBLocal(
        project_root(), tmp_path, port=free_port(), in_memory=True, which=lambda name: None
    )
    with pytest.raises(InstallError, match="apt-get not found"):
        engine.start()


def listening_addresses(port: int) -> set[str]:
    """The addresses sockets listen on at `port`, from the kernel's tables (/proc/net/tcp and
    tcp6): what a client elsewhere on the network could reach, without sending it anything."""
    found: set[str] = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        with open(table) as lines:
            next(lines)
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.partition(":")
                if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                    continue
                raw = bytes.fromhex(address)
                # the kernel prints each 32-bit word in host (little-endian) order
                packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                ip = ipaddress.ip_address(socket.inet_ntop(family, packed))
                if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                    ip = ip.ipv4_mapped
                found.add(str(ip))
    return found


def test_it_listens_on_loopback_only(dynamodb_local: DynamoDBLocal):
    # the test session's own DynamoDB Local, started as `make dev` starts it
    addresses = listening_addresses(dynamodb_local.port)

    assert addresses, "nothing listens on the port"
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses), addresses
    assert endpoint_answers(dynamodb_local.port, host="127.0.0.1")


def test_the_address_check_sees_a_socket_open_to_every_interface():
    # the check above would see DynamoDB Local bound to every interface, as the jar alone binds
    with socket.socket(socket.AF_INET6) as everywhere:
        everywhere.bind(("::", 0))
        everywhere.listen()
        assert listening_addresses(everywhere.getsockname()[1]) == {"::"}
