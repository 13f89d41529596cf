"""gdb's side of `make debug` (loaded by scripts/memmon.gdb; runs inside gdb's Python).

memmon is a relocatable UEFI image: OVMF loads it wherever it finds room,
and memmon prints that base at boot ("memmon: ... image at 0x..."). This
helper waits for that line in COM1's output, loads build/memmon.so's symbols
slid to it (add-symbol-file -o BASE) and attaches to QEMU's gdb stub, so a
breakpoint in any function of memmon works without manual steps.

Where the serial output comes from (environment, set by scripts/debug.sh):
  MEMMON_SERIAL      COM1's unix socket: this helper connects to it (QEMU starts
                     the guest then), copies what memmon prints to the terminal
                     and the command `memmon LINE` types LINE at memmon;
  MEMMON_SERIAL_LOG  or a log of COM1 that QEMU writes (--serial-log), when
                     someone else holds the console (a test's client);
  MEMMON_GDB_PORT    QEMU's gdb stub (default 1234);
  MEMMON_ELF         the symbols (default build/memmon.so).

Commands: `memmon-attach` (run by memmon.gdb), `memmon LINE`.
"""

import os
import re
import socket
import threading
import time

import gdb

BANNER = re.compile(rb"image at 0x([0-9a-f]+), 0x[0-9a-f]+ bytes")
WAIT = 180  # seconds for the banner: a TCG boot takes about 5


class Serial:
    """COM1, read by a thread: every byte is kept (for the banner) and copied to
    the terminal."""

    def __init__(self, path):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise gdb.GdbError(f"memmon: no serial socket at {path}")
                time.sleep(0.1)
        self.data = b""
        self.lock = threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        while True:
            chunk = self.sock.recv(4096)
            if not chunk:
                return
            with self.lock:
                self.data += chunk
            os.write(1, chunk)

    def text(self):
        with self.lock:
            return self.data


serial = None


def _serial_text():
    if serial is not None:
        return serial.text()
    log = os.environ.get("MEMMON_SERIAL_LOG")
    if log and os.path.exists(log):
        with open(log, "rb") as f:
            return f.read()
    return b""


def image_base(timeout=WAIT):
    """The image base memmon printed at boot (waits for it)."""
    deadline = time.monotonic() + timeout
    while True:
        m = BANNER.search(_serial_text())
        if m:
            return int(m[1], 16)
        if time.monotonic() > deadline:
            raise gdb.GdbError("memmon: no 'image at 0x...' line on COM1; did it boot?")
        time.sleep(0.1)


class Attach(gdb.Command):
    """Wait for memmon's banner, load its symbols at the printed image base, and
    attach to QEMU's gdb stub."""

    def __init__(self):
        super().__init__("memmon-attach", gdb.COMMAND_RUNNING)

    def invoke(self, arg, from_tty):
        global serial
        path = os.environ.get("MEMMON_SERIAL")
        if path and serial is None:
            serial = Serial(path)
        base = image_base()
        elf = os.environ.get("MEMMON_ELF", "build/memmon.so")
        port = os.environ.get("MEMMON_GDB_PORT", "1234")
        gdb.write(f"memmon: image at {base:#x}; symbols from {elf}\n")
        gdb.execute(f"add-symbol-file {elf} -o {base:#x}", to_string=True)
        gdb.execute(f"target remote localhost:{port}")


class Type(gdb.Command):
    """memmon LINE: type LINE at memmon's console (then `continue` lets it run)."""

    def __init__(self):
        super().__init__("memmon", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        if serial is None:
            raise gdb.GdbError("memmon: the console is not held by gdb (MEMMON_SERIAL unset)")
        serial.sock.sendall(arg.encode("latin-1") + b"\r")


Attach()
Type()
