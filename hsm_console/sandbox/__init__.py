"""A loopback server that answers like the platforms' APIs, for tests and the demo mode."""

from __future__ import annotations

from hsm_console.sandbox.faults import Fault, FaultKind, FaultSet
from hsm_console.sandbox.seed import SANDBOX_TOKEN
from hsm_console.sandbox.server import SandboxServer

__all__ = ["SANDBOX_TOKEN", "Fault", "FaultKind", "FaultSet", "SandboxServer", "sandbox_token"]


def sandbox_token(platform: str) -> str:
    """The public demo credential each sandboxed platform accepts, in that platform's form."""
    if platform == "wordpress":
        return f"admin:{SANDBOX_TOKEN}"  # WordPress: user name and application password
    return SANDBOX_TOKEN
