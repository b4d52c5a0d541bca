"""The platform sandboxes besides Facebook's Graph API, each mounted under its own prefix.

Each module named here defines `SANDBOX`: a class taking the seed data and following
`routing.PlatformSandbox`, whose routes all start with `PREFIX` (e.g. "/youtube").
"""

from __future__ import annotations

import importlib

from hsm_sandbox.routing import PlatformSandbox
from hsm_sandbox.seed import SeedData

# platform name -> module (one line each)
_MODULES: dict[str, str] = {
    "wordpress": "hsm_sandbox.wordpress",
    "youtube": "hsm_sandbox.youtube",
    "x": "hsm_sandbox.x",
    "instagram": "hsm_sandbox.instagram",
    "tiktok": "hsm_sandbox.tiktok",
    "linkedin": "hsm_sandbox.linkedin",
    "discourse": "hsm_sandbox.discourse",
}


def other_platforms(seed: SeedData) -> dict[str, PlatformSandbox]:
    made: dict[str, PlatformSandbox] = {}
    for name, module_name in _MODULES.items():
        module = importlib.import_module(module_name)
        made[name] = module.SANDBOX(seed)
    return made
