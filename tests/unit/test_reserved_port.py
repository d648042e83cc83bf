"""The port handed to a test's server stays ours until the server is gone."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import reserved_port


def test_a_reserved_port_is_nobody_elses_but_a_server_can_listen_on_it():
    with reserved_port() as port:
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", port))  # another test's server cannot take it
        with socket.socket() as server:  # a server setting SO_REUSEADDR (all of ours do) can
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen()
            with socket.create_connection(("127.0.0.1", port), timeout=10):
                accepted, _ = server.accept()
                accepted.close()
