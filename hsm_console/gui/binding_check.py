"""Refuse to run on a Qt binding that loses references to None, True and False.

PySide6 6.12.0 does this on Python 3.11: every call of a method returning nothing drops one
reference to None (and every signal emission one to True or False), and after a few
thousand calls the interpreter aborts ("deallocating None"). Python 3.12 and later made
those objects immortal, so there the same binding is harmless. A console that aborts in the
middle of a moderator's work is worse than one that does not start and says why.
"""

from __future__ import annotations

import sys

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject

from hsm_console.errors import ConfigurationError

PROBE_CALLS = 200


def binding_drops_references() -> bool:
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("probe")  # returns nothing
    return sys.getrefcount(None) < before - PROBE_CALLS // 2


def check_binding() -> None:
    if binding_drops_references():
        python = ".".join(map(str, sys.version_info[:3]))
        raise ConfigurationError(
            f"This installation's Qt binding (PySide6 {pyside_version}) is faulty on Python "
            f"{python}: it would crash the console within minutes. Ask IT to install "
            "PySide6-Essentials 6.11, or to run the console on Python 3.12 or newer.",
            details="PySide6 drops a reference to None on every call of a void method.",
        )
