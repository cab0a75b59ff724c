"""The suite's network guard is live: a lookup or connection beyond loopback fails."""

from __future__ import annotations

import socket

import pytest


def test_name_lookup_is_refused():
    with pytest.raises(PermissionError, match="name lookup"):
        socket.getaddrinfo("example.org", 80)


def test_connection_beyond_loopback_is_refused():
    with socket.socket() as s, pytest.raises(PermissionError, match="network access"):
        s.connect(("192.0.2.1", 80))
