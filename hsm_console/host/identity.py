"""The acting person is the operating-system account, never a flag or environment variable."""

from __future__ import annotations

import os
import sys


def os_username() -> str:
    """DOMAIN\\name on Windows, the login name elsewhere, read from the OS itself.

    `getpass.getuser()` is not used: it trusts $USER and $USERNAME, which anyone can set.
    """
    if sys.platform == "win32":
        return _windows_sam_name()
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _windows_sam_name() -> str:  # pragma: no cover - exercised on City workstations
    import ctypes

    name_sam_compatible = 2
    size = ctypes.c_ulong(0)
    secur32 = ctypes.WinDLL("secur32")  # type: ignore[attr-defined,unused-ignore]
    secur32.GetUserNameExW(name_sam_compatible, None, ctypes.byref(size))
    buffer = ctypes.create_unicode_buffer(size.value)
    if not secur32.GetUserNameExW(name_sam_compatible, buffer, ctypes.byref(size)):
        raise OSError("Windows did not say who is signed in")
    return str(buffer.value)
