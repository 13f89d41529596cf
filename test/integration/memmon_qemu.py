"""Drive a memmon booted in QEMU: its console over COM1, and QEMU's own monitor.

One Memmon object is one QEMU process, started through scripts/qemu.sh with
COM1 on a unix socket (QEMU waits for us before starting the guest, so no
byte is lost) and the human monitor (HMP) on a second socket.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pexpect
import pexpect.fdpexpect

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QEMU_SH = os.path.join(ROOT, "scripts", "qemu.sh")
ESP = os.path.join(ROOT, "build", "esp")

PROMPT = b"\r\nmon> "
BOOT_TIMEOUT = 120  # seconds; a TCG boot takes about 5
ANSI = re.compile(rb"\x1b\[[0-9;?=]*[A-Za-z]")


def _connect(path, proc, deadline):
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"QEMU exited with {proc.returncode} before {path} appeared")
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Memmon:
    """A booted memmon. Use cmd() for commands, send() for raw bytes."""

    def __init__(self, mem="1G", exit_device=True, extra=()):
        self.dir = tempfile.mkdtemp(prefix="memmon-test-")
        serial = os.path.join(self.dir, "serial.sock")
        self.hmp_path = os.path.join(self.dir, "hmp.sock")
        args = [QEMU_SH, "--mem", mem, "--esp", ESP, "--workdir", os.path.join(self.dir, "w"),
                "--serial", "unix:" + serial, "--monitor", self.hmp_path]
        if not exit_device:
            args.append("--no-exit-device")
        if extra:
            args += ["--", *extra]
        self.log = open(os.path.join(self.dir, "qemu.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self._hmp = None
        deadline = time.monotonic() + 30
        self.sock = _connect(serial, self.proc, deadline)
        self.con = pexpect.fdpexpect.fdspawn(self.sock.fileno(), timeout=BOOT_TIMEOUT)
        self.con.expect(PROMPT)
        self.banner = self._text(self.con.before)

    @staticmethod
    def _text(raw):
        return ANSI.sub(b"", raw).decode("latin-1")

    def send(self, data):
        """Send raw bytes to COM1."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def expect(self, pattern, timeout=30):
        """Wait for a regex (bytes or str) on COM1; return the text before it."""
        if isinstance(pattern, str):
            pattern = pattern.encode("latin-1")
        self.con.expect(pattern, timeout=timeout)
        return self._text(self.con.before)

    def prompt(self, timeout=30):
        """Wait for the next prompt; return the lines printed before it."""
        return self.expect(PROMPT, timeout).split("\r\n")

    def cmd(self, line, timeout=30):
        """Run one command line; return its output lines (without the echo)."""
        self.send(line + "\r")
        lines = self.prompt(timeout)
        return lines[1:]  # lines[0] is the echoed command (empty with echo off)

    def drain(self, quiet=0.5):
        """Read and return whatever arrives until the line is quiet."""
        out = b""
        while True:
            try:
                out += self.con.read_nonblocking(65536, timeout=quiet)
            except pexpect.TIMEOUT:
                return self._text(out)

    def hmp(self, command, timeout=30):
        """Run a command on QEMU's human monitor; return its output."""
        if self._hmp is None:
            self._hmp = _connect(self.hmp_path, self.proc, time.monotonic() + 10)
            self._hmp.settimeout(timeout)
            self._hmp_read()
        self._hmp.sendall(command.encode() + b"\n")
        out = self._hmp_read()
        lines = out.split("\r\n")
        return "\r\n".join(lines[1:]).strip()  # drop the echoed command

    def _hmp_read(self):
        buf = b""
        while not buf.endswith(b"(qemu) "):
            chunk = self._hmp.recv(65536)
            if not chunk:
                raise EOFError("QEMU monitor closed")
            buf += chunk
        return self._text(buf[: -len(b"(qemu) ")])

    def wait_exit(self, timeout=30):
        return self.proc.wait(timeout)

    def close(self):
        for s in (self._hmp, self.sock):
            if s is not None:
                s.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
