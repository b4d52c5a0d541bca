"""Fixtures that run the sandbox on a free loopback port for one test.

Test modules load them with `pytest_plugins = ["tests.sandbox_fixtures"]` and import the
constants below; the connector tests get them through tests/connectors/conftest.py. The
module has no asserts, so it opts out of pytest's assertion rewriting, which would otherwise
warn that it was imported before being registered:
PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from hsm_sandbox import SANDBOX_TOKEN, SandboxServer

PARKS = "1000000000001"
POLICE = "1000000000002"


@pytest.fixture
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def graph(sandbox_server: SandboxServer) -> Iterator[requests.Session]:
    """A plain HTTP session that sends the sandbox Page token."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {SANDBOX_TOKEN}"
        yield session
