"""`hsm-console --self-test`, run as the installed program would be: a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hsm_console.gui.self_test import ENV_SANDBOX_URL
from hsm_sandbox.seed import SANDBOX_TOKEN

ROOT = Path(__file__).resolve().parents[1]


def _self_test(
    home: Path, program: tuple[str, ...] = (sys.executable, "-m", "hsm_console"), **extra: str
) -> subprocess.CompletedProcess[str]:
    """The self-test with a home of its own; 'home' here is the user's, to be left alone."""
    env = {name: value for name, value in os.environ.items() if name != "QT_QPA_PLATFORM"}
    env.update({name: str(home) for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                                             "XDG_STATE_HOME", "XDG_CACHE_HOME")})  # fmt: skip
    env.pop("PYTHON_KEYRING_BACKEND", None)  # the self-test must choose its own keyring
    env.update(extra)
    return subprocess.run(
        [*program, "--self-test"],
        cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", check=False,
    )  # fmt: skip


class _Refusing(BaseHTTPRequestHandler):
    """A server in the sandbox's place that refuses every call."""

    def _refuse(self) -> None:
        body = b'{"error": {"message": "refused by the test", "code": 10}}'
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refusing_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_self_test_passes_and_says_what_it_checked(tmp_path: Path) -> None:
    home = tmp_path / "user home"
    home.mkdir()
    done = _self_test(home)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ok  the window opened (offscreen) as " + lines[0].rsplit(" ", 1)[-1]
    assert any(line.startswith("ok  the sync read 8 sites") for line in lines)
    assert any("recorded first" in line and "applied" in line for line in lines)
    assert any(line.startswith("ok  verify-log:") for line in lines)
    assert lines[-1] == "Self-test passed."
    # Nothing of the user's was opened or written: no database, settings, log or keyring.
    assert list(home.iterdir()) == []


def test_a_refusing_platform_fails_the_self_test_in_words(
    tmp_path: Path, refusing_url: str
) -> None:
    home = tmp_path / "user home"
    home.mkdir()
    done = _self_test(home, **{ENV_SANDBOX_URL: refusing_url})
    assert done.returncode == 1
    assert "Self-test passed" not in done.stdout
    first = done.stderr.splitlines()[0]
    assert first.startswith("Self-test FAILED: the sync could not read 8 of 8 demo sites: ")
    assert "Highland Parks & Recreation: " in first
    assert "Details for IT" in done.stderr
    assert SANDBOX_TOKEN not in done.stdout + done.stderr
    assert list(home.iterdir()) == []


def test_the_self_test_takes_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    from hsm_console.cli.main import main

    assert main(["--self-test", "--database", "sqlite:///elsewhere.sqlite3"]) == 2
    assert "--self-test takes no command and no option" in capsys.readouterr().err
    assert not (ROOT / "elsewhere.sqlite3").exists()


def test_the_built_bundle_passes_its_self_test(tmp_path: Path) -> None:
    """The documented build (scripts/build's PyInstaller step) makes a folder whose program
    passes its self-test: every module, data file and Qt plugin it needs is in it."""
    dist, work = tmp_path / "dist", tmp_path / "work"
    built = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(work), "build_installer.spec"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    home = tmp_path / "user home"
    home.mkdir()
    done = _self_test(home, (str(dist / "hsm-console" / "hsm-console"),))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok  verify-log" in done.stdout
    assert done.stdout.rstrip().endswith("Self-test passed.")
