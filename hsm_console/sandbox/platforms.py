"""The platform sandboxes besides Facebook's Graph API, each mounted under its own prefix.

Each module named here defines `SANDBOX`: a class taking the seed data and following
`routing.PlatformSandbox`, whose routes all start with `PREFIX` (e.g. "/youtube").
"""

from __future__ import annotations

import importlib

from hsm_console.sandbox.routing import PlatformSandbox
from hsm_console.sandbox.seed import SeedData

# platform name -> module (one line each)
_MODULES: dict[str, str] = {
    "wordpress": "hsm_console.sandbox.wordpress",
    "youtube": "hsm_console.sandbox.youtube",
    "x": "hsm_console.sandbox.x",
    "instagram": "hsm_console.sandbox.instagram",
    "tiktok": "hsm_console.sandbox.tiktok",
    "linkedin": "hsm_console.sandbox.linkedin",
    "discourse": "hsm_console.sandbox.discourse",
}


def other_platforms(seed: SeedData) -> dict[str, PlatformSandbox]:
    made: dict[str, PlatformSandbox] = {}
    for name, module_name in _MODULES.items():
        module = importlib.import_module(module_name)
        made[name] = module.SANDBOX(seed)
    return made
