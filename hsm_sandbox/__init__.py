"""A loopback server that answers like the platforms' APIs, for tests and the demo mode.

It is its own package: the console's core never imports it. The demo (`hsm_sandbox.demo`)
is the one place where the console and the sandbox meet.
"""

from __future__ import annotations

from hsm_sandbox.faults import Fault, FaultKind, FaultSet
from hsm_sandbox.seed import SANDBOX_TOKEN
from hsm_sandbox.server import SandboxServer

__all__ = ["SANDBOX_TOKEN", "Fault", "FaultKind", "FaultSet", "SandboxServer"]
