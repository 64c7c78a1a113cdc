"""Shared by the Python client's tests: a private table directory per test, Node processes that
are always killed, brokers started the way a user without the CLI on PATH would, and waiting
with a deadline instead of sleeping."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))
import runtable  # noqa: E402

NODE = shutil.which("node") or "node"
NODE_TS = [NODE, "--import", "tsx", "--conditions=runtable-source"]
CLI = [*NODE_TS, os.path.join(ROOT, "src", "cli", "main.ts")]
START_BROKER = [*CLI, "broker", "start"]
PYTHON = sys.executable


class Process:
    """A child process whose stdout lines are collected; wait_for_line waits with a deadline."""

    def __init__(self, command: list, directory: str, env: dict | None = None):
        env = dict(os.environ, RUNTABLE_DIR=directory, **(env or {}))
        self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
        self.pid = self.popen.pid
        self.lines: list[str] = []
        self.stderr = ""
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_errors, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_errors(self) -> None:
        self.stderr = self.popen.stderr.read()

    def wait_for_line(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                if self.popen.poll() is not None and not self._reading():
                    raise AssertionError(f"process exited ({self.popen.returncode}) before printing {needle!r}; stderr: {self.stderr}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line with {needle!r} within {timeout} s; lines {self.lines}; stderr: {self.stderr}")
                self._changed.wait(min(left, 0.1))

    def _reading(self) -> bool:
        return not self.popen.stdout.closed and self.popen.poll() is None

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        for reader in self._readers:
            reader.join(10)
        self.popen.stdout.close()
        self.popen.stderr.close()


def broker_pids(directory: str) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as source:
                args = source.read().split(b"\0")
        except OSError:
            continue
        if any(b"broker-main" in arg for arg in args) and directory.encode() in args:
            pids.append(int(name))
    return pids


def wait_until(check, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


class TableTest(unittest.TestCase):
    """Each test on its own table directory; processes and brokers killed at the end."""

    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="rt-", dir="/tmp")
        os.chmod(self.dir, 0o700)
        self.processes: list[Process] = []
        self.tables: list[runtable.Table] = []
        self.addCleanup(self._clean)

    def connect(self, **options) -> "runtable.Table":
        table = runtable.connect(self.dir, start_command=START_BROKER, timeout=options.pop("timeout", 20.0), **options)
        self.tables.append(table)
        return table

    def spawn(self, command: list, env: dict | None = None) -> Process:
        process = Process(command, self.dir, env)
        self.processes.append(process)
        return process

    def node(self, script: str, *args: str) -> Process:
        return self.spawn([*NODE_TS, os.path.join(ROOT, script), *args])

    def _clean(self) -> None:
        for table in self.tables:
            table.close()
        for process in self.processes:
            process.kill()
        for pid in broker_pids(self.dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not broker_pids(self.dir), 10, "brokers to exit")
        shutil.rmtree(self.dir, ignore_errors=True)
