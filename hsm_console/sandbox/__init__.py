"""A loopback server that answers like the platforms' APIs, for tests and the demo mode."""

from __future__ import annotations

from hsm_console.sandbox.faults import Fault, FaultKind, FaultSet
from hsm_console.sandbox.seed import SANDBOX_TOKEN
from hsm_console.sandbox.server import SandboxServer

__all__ = ["SANDBOX_TOKEN", "Fault", "FaultKind", "FaultSet", "SandboxServer"]
