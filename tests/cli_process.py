"""`python -m hsm_console ...` for the tests, each command in a process of its own, without
paying for Python's start and the program's imports on every one of the suite's hundreds of
commands (about a second each, most of the suite's time on two cores).

One process per test worker imports the program once, then forks a child per command: the
child takes the command's arguments, environment, working folder, stdin, stdout and stderr,
runs `hsm_console/__main__.py` as `python -m` does, and exits with its code. Only the imports
are shared; what a command does stays in its own process, as a user's shell would have it.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import locale
import os
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The forking process. It reads one job a line and answers {"pid"} at once, then {"code"}.
_FORKER = r"""
import atexit, json, os, runpy, sys, traceback

from hsm_console.cli.main import build_parser

build_parser()  # imports what every command needs
jobs, answers = os.fdopen(int(sys.argv[1])), os.fdopen(int(sys.argv[2]), "w", buffering=1)
for line in jobs:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        jobs.close()
        answers.close()
        code = 1
        try:
            os.chdir(job["cwd"])
            os.environ.clear()
            os.environ.update(job["env"])
            for fd, path in enumerate(job["files"]):
                opened = os.open(path, os.O_RDONLY if fd == 0 else os.O_WRONLY)
                os.dup2(opened, fd)
                os.close(opened)
            sys.argv = ["-m", *job["args"]]
            runpy.run_module("hsm_console", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as stop:
            if stop.code is None or isinstance(stop.code, int):
                code = stop.code or 0
            else:
                print(stop.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                atexit._run_exitfuncs()  # as the interpreter's exit would
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
    answers.write(json.dumps({"pid": pid}) + "\n")
    _, status = os.waitpid(pid, 0)
    answers.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
"""


class _Forker:
    def __init__(self) -> None:
        job_read, self._jobs = os.pipe()
        self._answers, answer_write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _FORKER, str(job_read), str(answer_write)],
            pass_fds=(job_read, answer_write), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        os.close(job_read)
        os.close(answer_write)
        self._pending = b""
        atexit.register(self.stop)

    def stop(self) -> None:
        """Close the jobs' pipe: the forker reads its end and exits."""
        with contextlib.suppress(OSError):  # closed already
            os.close(self._jobs)
        self.process.wait(timeout=30)

    def _answer(self, timeout: float | None) -> dict[str, int]:
        while b"\n" not in self._pending:
            ready, _, _ = select.select([self._answers], [], [], timeout)
            if not ready:
                raise TimeoutError
            chunk = os.read(self._answers, 4096)
            if not chunk:
                raise RuntimeError("the tests' command runner stopped")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        answer: dict[str, int] = json.loads(line)
        return answer

    def run(
        self, args: list[str], env: Mapping[str, str], cwd: Path, files: list[Path],
        timeout: float,
    ) -> int:  # fmt: skip
        job = {"args": args, "env": dict(env), "cwd": str(cwd), "files": [str(f) for f in files]}
        os.write(self._jobs, (json.dumps(job) + "\n").encode())
        pid = self._answer(None)["pid"]
        try:
            return self._answer(timeout)["code"]
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            self._answer(None)
            raise subprocess.TimeoutExpired(["hsm-console", *args], timeout) from None


_forker: _Forker | None = None


def _text(data: bytes) -> str:
    """As `subprocess.run(text=True)` reads a pipe: the locale's encoding, newlines made \\n."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=locale.getpreferredencoding(False)).read()


def hsm(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str = "",
    cwd: Path = ROOT,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m hsm_console *args` as `subprocess.run(..., capture_output=True,
    text=True)` would; `env` is the whole environment (the tests' own by default)."""
    global _forker
    if _forker is None or _forker.process.poll() is not None:
        _forker = _Forker()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)} if env is None else env
    with tempfile.TemporaryDirectory(prefix="hsm-command-") as folder:
        files = [Path(folder) / name for name in ("stdin", "stdout", "stderr")]
        files[0].write_bytes(stdin.encode(locale.getpreferredencoding(False)))
        files[1].touch()
        files[2].touch()
        code = _forker.run(list(args), environment, cwd, files, timeout)
        out, err = (_text(f.read_bytes()) for f in files[1:])
    return subprocess.CompletedProcess(["hsm-console", *args], code, out, err)
