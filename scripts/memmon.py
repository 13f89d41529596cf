#!/usr/bin/python3
"""memmon's Python client: the standard library only.

Boots memmon in QEMU (through scripts/qemu.sh, COM1 on a unix socket) or
attaches to a running one's serial socket, sends command lines, and turns
the fixed output forms of the console's contract (SPEC section 2) into
Python values. A command that answers `error: ...` raises MemmonError; a
peek or poke that faults raises Fault.

    from memmon import Memmon
    with Memmon(mem="1G") as m:            # or Memmon(attach="build/run/serial.sock")
        n = m.space_new()
        m.map(0, 0x10000000, n, 0x400000, "2M", "rw")
        print(m.lookup(n, 0x400000))     # Lookup(pa=268435456, rights='rw-', size='2M')
        print(m.pt(n).runs)              # [Run(start=4194304, end=6291456, ...)]

The command line (/usr/bin/python3 scripts/memmon.py -h):

    memmon.py run FILE      boot with FILE as startup.mon, print the transcript
    memmon.py shell         boot (or --attach) and type at memmon
    memmon.py draw -o OUT   render the live state as SVG (scripts/memmon_draw.py)

Every parser is a module-level function (parse_pt, parse_mem, ...) that
takes a command's output lines, so tests can hold any transcript against
the contract.
"""

import argparse
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import namedtuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU_SH = os.path.join(ROOT, "scripts", "qemu.sh")
ESP = os.path.join(ROOT, "build", "esp")

PROMPT = b"\r\nmon> "
BOOT_TIMEOUT = 120  # seconds; a TCG boot takes about 5
ANSI = re.compile(rb"\x1b\[[0-9;?=]*[A-Za-z]")
# The closing line of a startup script (monitor/script.h), then the prompt.
STARTUP_END = re.compile(rb"startup\.mon: (done, 0x[0-9a-f]+ lines|stopped at line 0x[0-9a-f]+ "
                         rb"after an error)\r\nmon> ")

# ---- values ----------------------------------------------------------------------------

HEX = r"0x([0-9a-f]+)"
RIGHTS = r"(r[w-][x-])"
SIZE = r"(4K|2M|1G)"
SIZES = {"4K": 1 << 12, "2M": 1 << 21, "1G": 1 << 30}

Run = namedtuple("Run", "start end pa rights size")  # end exclusive; size: 4K, 2M, 1G
PtDump = namedtuple("PtDump", "name runs count pages ptpages")  # name: "monitor" or N
Lookup = namedtuple("Lookup", "pa rights size")
MdbNode = namedtuple("MdbNode", "depth space va rights size real marked parent")  # parent: index
Mdb = namedtuple("Mdb", "space va frames_start frames_end count size nodes")
Check = namedtuple("Check", "ok fields reason")  # fields: check: ok's numbers; reason: FAIL's
Region = namedtuple("Region", "start end kind pages attr use kept")  # memmap's descriptor lines
FrameInfo = namedtuple("FrameInfo", "pa owner block order")  # mem PA
SpaceInfo = namedtuple("SpaceInfo", "n pages ptpages")
Pool = namedtuple("Pool", "frames used free ptables mdb console")


class MemmonError(Exception):
    """A command answered with its one `error: ...` line."""

    def __init__(self, command, line):
        super().__init__(f"{command}: {line}")
        self.command, self.line = command, line


class Fault(Exception):
    """A peek or poke faulted: `fault: #PF N:0xV not-present|protection read|write`."""

    def __init__(self, space, va, kind, access, line):
        super().__init__(line)
        self.space, self.va, self.kind, self.access, self.line = space, va, kind, access, line


class ParseError(ValueError):
    """Output that does not have the contract's form."""


class Timeout(Exception):
    """Nothing matching arrived in time."""


def _fullmatch(pattern, line):
    m = re.fullmatch(pattern, line)
    if not m:
        raise ParseError(f"not the expected form {pattern!r}: {line!r}")
    return m


def _hex(s):
    return None if s is None else int(s, 16)


def errors(lines):
    """The `error:` lines among a command's output."""
    return [line for line in lines if line.startswith("error:")]


RUN_RE = rf"{HEX}-{HEX} -> {HEX} {RIGHTS} {SIZE}"
FAULT_RE = rf"fault: #PF (\d+):{HEX} (not-present|protection) (read|write)"


def parse_run(line):
    m = _fullmatch(RUN_RE, line)
    return Run(int(m[1], 16), int(m[2], 16), int(m[3], 16), m[4], m[5])


def parse_pt(lines):
    """`pt` / `pt N`: the runs and the summary `pt NAME: runs R pages P ptpages T`."""
    if not lines:
        raise ParseError("pt printed nothing")
    runs = [parse_run(line) for line in lines[:-1]]
    m = _fullmatch(rf"pt (\w+): runs {HEX} pages {HEX} ptpages {HEX}", lines[-1])
    name = int(m[1]) if m[1].isdigit() else m[1]
    return PtDump(name, runs, int(m[2], 16), int(m[3], 16), int(m[4], 16))


def parse_lookup(line):
    """`N:0xV -> 0xPA RIGHTS SIZE` as (n, v, Lookup), or (n, v, None) for `-> none`."""
    m = _fullmatch(rf"(\d+):{HEX} -> (?:none|{HEX} {RIGHTS} {SIZE})", line)
    hit = None if m[3] is None else Lookup(int(m[3], 16), m[4], m[5])
    return int(m[1]), int(m[2], 16), hit


def parse_fault(line):
    """A fault line as a Fault (not raised), or None for any other line."""
    m = re.fullmatch(FAULT_RE, line)
    return m and Fault(int(m[1]), int(m[2], 16), m[3], m[4], line)


def parse_words(lines):
    """peek's and poke's `N:0xV = 0xX` lines as [(n, v, x)]; a fault line raises Fault."""
    out = []
    for line in lines:
        f = parse_fault(line)
        if f:
            raise f
        m = _fullmatch(rf"(\d+):{HEX} = {HEX}", line)
        out.append((int(m[1]), int(m[2], 16), int(m[3], 16)))
    return out


def parse_check(line):
    """`check: ok spaces S mappings M pages P frames F orphaned O` or `check: FAIL why`."""
    if line.startswith("check: FAIL"):
        return Check(False, {}, line[len("check: FAIL"):].strip())
    m = _fullmatch(r"check: ok(.*)", line)
    return Check(True, {k: int(v, 16) for k, v in re.findall(rf"(\w+) {HEX}", m[1])}, None)


OWNERS = ("monitor", "ptables", "mdb", "clients", "console")


def parse_mem(lines):
    """`mem`: a dict with total, free, used, owners{monitor ptables mdb clients console},
    firmware, largest, largest_at, table_pages, table_at, touched, and
    space{spaces pool pool_used pool_free clients sigma0 reachable orphaned mappings}."""
    if len(lines) < 5:
        raise ParseError(f"mem: {lines!r}")
    m = _fullmatch(rf"frames total {HEX} free {HEX} used {HEX}", lines[0])
    r = {"total": int(m[1], 16), "free": int(m[2], 16), "used": int(m[3], 16)}
    m = _fullmatch("used by" + "".join(rf" {o} {HEX}" for o in OWNERS), lines[1])
    r["owners"] = {o: int(m[i + 1], 16) for i, o in enumerate(OWNERS)}
    m = _fullmatch(rf"firmware keeps {HEX} frames outside the total", lines[2])
    r["firmware"] = int(m[1], 16)
    m = _fullmatch(rf"largest free block {HEX} frames(?: at {HEX} \(the most alloc can take\))?",
                   lines[3])
    r["largest"], r["largest_at"] = int(m[1], 16), _hex(m[2])
    m = _fullmatch(rf"frame table {HEX} pages at {HEX}, {HEX} written", lines[4])
    r["table_pages"], r["table_at"], r["touched"] = (int(x, 16) for x in m.groups())
    for line in lines[5:]:
        m = re.fullmatch(rf"spaces {HEX}: pool {HEX} \(used {HEX} free {HEX}\) clients {HEX} "
                         rf"sigma0 {HEX} reachable {HEX} orphaned {HEX} mappings {HEX}", line)
        if m:
            keys = ("spaces", "pool", "pool_used", "pool_free", "clients", "sigma0", "reachable",
                    "orphaned", "mappings")
            r["space"] = {k: int(x, 16) for k, x in zip(keys, m.groups())}
    return r


def parse_frame(line):
    """`mem PA`: `0xPA: OWNER block 0xB order 0xO [run 0xR frames 0xN]`."""
    m = _fullmatch(rf"{HEX}: (\w+) block {HEX} order {HEX}(?: run {HEX} frames {HEX})?", line)
    return FrameInfo(int(m[1], 16), m[2], int(m[3], 16), int(m[4], 16))


MEMMAP_RE = (rf"{HEX}-{HEX} +(\S+) +{HEX} pages attr {HEX} (reclaimed|kept|reserved)"
             rf"(?: \({HEX} kept\))?")


def parse_memmap(lines):
    """`memmap`: the descriptor lines as Regions (kept: pages memmon kept) and the
    first summary line's numbers as a dict."""
    regions, summary = [], {}
    for line in lines:
        m = re.fullmatch(MEMMAP_RE, line)
        if m:
            pages = int(m[4], 16)
            kept = pages if m[6] == "kept" else int(m[7] or "0", 16)
            regions.append(Region(int(m[1], 16), int(m[2], 16), m[3], pages, int(m[5], 16), m[6],
                                  kept))
        elif line.startswith("memmap: descriptors"):
            summary = {k: int(v, 16) for k, v in re.findall(rf"(\w+) {HEX}", line)}
    if not regions:
        raise ParseError(f"memmap: {lines!r}")
    return regions, summary


def parse_pool(line):
    m = _fullmatch(rf"pool frames {HEX} used {HEX} free {HEX} \(ptables {HEX} mdb {HEX} "
                   rf"console {HEX}\)", line)
    return Pool(*(int(x, 16) for x in m.groups()))


def parse_space_list(lines):
    """`space list`: one SpaceInfo per space (the summary line `spaces 0xN` checked)."""
    out = []
    for line in lines[:-1]:
        m = _fullmatch(rf"space (\d+)(?: \(sigma0\))? pages {HEX} ptpages {HEX}", line)
        out.append(SpaceInfo(int(m[1]), int(m[2], 16), int(m[3], 16)))
    m = _fullmatch(rf"spaces {HEX}", lines[-1] if lines else "")
    if int(m[1], 16) != len(out):
        raise ParseError(f"space list: {lines!r}")
    return out


def parse_mdb(lines):
    """`mdb N V`: an Mdb whose nodes (root first, depth-first) know their parent's
    index; None for `N:0xV: no mapping`."""
    if len(lines) == 1 and re.fullmatch(rf"\d+:{HEX}: no mapping", lines[0]):
        return None
    if not lines:
        raise ParseError("mdb printed nothing")
    m = _fullmatch(rf"mdb (\d+):{HEX}: frames {HEX}-{HEX}, a tree of {HEX} mappings of {SIZE}",
                   lines[0])
    nodes, stack = [], []
    for line in lines[1:]:
        t = _fullmatch(rf"((?:  )*)(\d+):{HEX} {RIGHTS} {SIZE}( Real)?( <-)?", line)
        depth = len(t[1]) // 2
        del stack[depth:]
        if len(stack) != depth:
            raise ParseError(f"mdb: a node deeper than its parent: {line!r}")
        nodes.append(MdbNode(depth, int(t[2]), int(t[3], 16), t[4], t[5], bool(t[6]), bool(t[7]),
                             stack[-1] if stack else None))
        stack.append(len(nodes) - 1)
    return Mdb(int(m[1]), int(m[2], 16), int(m[3], 16), int(m[4], 16), int(m[5], 16), m[6], nodes)


def mdb_edges(tree):
    """The tree's derivation links as ((space, va), (space, va)) pairs, parent first."""
    return [((tree.nodes[n.parent].space, tree.nodes[n.parent].va), (n.space, n.va))
            for n in tree.nodes if n.parent is not None]


# ---- the serial line ------------------------------------------------------------------------


class Stream:
    """A byte stream with pexpect's expect(): before, match and after of the last
    match; what follows the match stays buffered."""

    def __init__(self, sock, timeout=30):
        self.sock, self.timeout = sock, timeout
        self.buffer = b""
        self.before = self.after = b""
        self.match = None

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.sock], [], [], left)[0]:
            return False
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("memmon's serial line closed")
        self.buffer += data
        return True

    def expect(self, pattern, timeout=None):
        """Wait for a regex (bytes) in the stream; the text before it is in .before."""
        if isinstance(pattern, str):
            pattern = pattern.encode("latin-1")
        rx = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            m = rx.search(self.buffer)
            if m:
                self.before, self.after = self.buffer[:m.start()], m.group(0)
                self.match = m
                self.buffer = self.buffer[m.end():]
                return 0
            if not self._fill(deadline):
                raise Timeout(f"no {rx.pattern!r} within {timeout}s; got {self.buffer[-300:]!r}")

    def read_nonblocking(self, size=65536, timeout=0.5):
        """What is buffered or arrives within timeout (at most size bytes); Timeout if nothing."""
        if not self.buffer and not self._fill(time.monotonic() + timeout):
            raise Timeout("nothing arrived")
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


def _connect(path, proc, deadline):
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"QEMU exited with {proc.returncode} before {path} appeared")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def text(raw):
    """Serial bytes as text, without terminal escape sequences."""
    return ANSI.sub(b"", raw).decode("latin-1")


class Memmon:
    """One memmon: booted here (one QEMU process through scripts/qemu.sh, COM1 on a
    unix socket that QEMU waits for, so no byte is lost; QEMU's monitor on another)
    or attached to a running one's serial socket (attach=PATH).

    Boot options: mem, smp (CPUs; qemu.sh's default otherwise), exit_device (isa-debug-exit, for halt), extra (QEMU
    arguments), script (a file put on the ESP as startup.mon; the boot waits for
    its closing line, and .startup holds its transcript), image (a raw disk image
    from make image, booted instead of the ESP folder), esp, serial_log (a file
    that QEMU copies COM1's output to), gdbstub (a port for QEMU's gdb stub).

    cmd() returns a command's output lines as they are; run() raises MemmonError
    on an error line; the typed methods (lookup, pt, mem, ...) return values."""

    def __init__(self, mem="1G", exit_device=True, extra=(), script=None, image=None, esp=ESP,
                 attach=None, serial_log=None, gdbstub=False, boot_timeout=BOOT_TIMEOUT, smp=None):
        self.proc = self._hmp = self.log = None
        self.dir = tempfile.mkdtemp(prefix="memmon-")
        self.banner = self.startup = ""
        self.hmp_path = os.path.join(self.dir, "hmp.sock")
        if attach:
            self.sock = _connect(attach, None, time.monotonic() + 10)
            self.con = Stream(self.sock, boot_timeout)
            self.send(b"\x15\r")  # Ctrl-U: whatever was typed goes; then an empty line
            self.prompt(boot_timeout)
            return
        self.serial_path = os.path.join(self.dir, "serial.sock")
        args = [QEMU_SH, "--mem", mem, "--workdir", os.path.join(self.dir, "w"),
                "--serial", "unix:" + self.serial_path, "--monitor", self.hmp_path]
        if smp:
            args += ["--smp", str(smp)]
        args += ["--image", image] if image else ["--esp", esp]
        if script:
            args += ["--script", script]
        if serial_log:
            args += ["--serial-log", serial_log]
        if gdbstub:
            args += ["--gdbstub", str(gdbstub)]
        if not exit_device:
            args.append("--no-exit-device")
        if extra:
            args += ["--", *extra]
        self.log = open(os.path.join(self.dir, "qemu.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        try:
            self.sock = _connect(self.serial_path, self.proc, time.monotonic() + 30)
            self.con = Stream(self.sock, boot_timeout)
            self.con.expect(PROMPT)
            self.banner = text(self.con.before)
            if script or image:
                self._await_startup(script is not None)
        except BaseException:
            self.close()
            raise

    def _await_startup(self, required):
        """After the first prompt of a boot with a startup script: wait for its
        closing line; .startup is the transcript from the first prompt on."""
        m = STARTUP_END.search(self.con.before + PROMPT)
        if m:  # a script without commands: its closing line came before the prompt
            cut = self.banner.rfind("startup.mon: ")
            self.banner, self.startup = self.banner[:cut], self.banner[cut:] + "\r\nmon> "
            return
        if not required:  # an image may or may not hold a script: look briefly
            try:
                self.con.expect(STARTUP_END, timeout=2)
            except Timeout:  # nothing was consumed
                return
        else:
            self.con.expect(STARTUP_END)
        self.startup = "mon> " + text(self.con.before) + text(self.con.after)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def _text(raw):
        return text(raw)

    # ---- raw console --------------------------------------------------------------------

    def send(self, data):
        """Send raw bytes (or latin-1 text) to COM1."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def expect(self, pattern, timeout=30):
        """Wait for a regex (bytes or str) on COM1; return the text before it."""
        self.con.expect(pattern, timeout=timeout)
        return text(self.con.before)

    def prompt(self, timeout=30):
        """Wait for the next prompt; return the lines printed before it."""
        return self.expect(PROMPT, timeout).split("\r\n")

    def cmd(self, line, timeout=30):
        """Run one command line; return its output lines (without the echo)."""
        self.send(line + "\r")
        return self.prompt(timeout)[1:]  # [0] is the echoed command (empty with echo off)

    def batch(self, lines, timeout=120):
        """Send many command lines at once; return each one's output lines."""
        self.send("".join(line + "\r" for line in lines))
        return [self.prompt(timeout)[1:] for _ in lines]

    def drain(self, quiet=0.5):
        """Read and return whatever arrives until the line is quiet."""
        out = b""
        while True:
            try:
                out += self.con.read_nonblocking(65536, timeout=quiet)
            except Timeout:
                return text(out)

    def run(self, line, timeout=30):
        """cmd(), raising MemmonError when the command answers with an error line."""
        out = self.cmd(line, timeout)
        bad = errors(out)
        if bad:
            raise MemmonError(line, bad[0])
        return out

    def run_script(self, script):
        """Type a startup script's lines as monitor/script.c runs them (comments and
        blank lines skipped, `onerror continue|stop` honoured); return the transcript
        and whether it ran to its end."""
        out, stop = [], True
        for raw in script.splitlines():
            line = raw.replace("\t", " ").strip()
            if not line or line.startswith("#"):
                continue
            out.append("mon> " + line)
            directive = re.fullmatch(r"onerror\s+(stop|continue)", line)
            if directive:
                stop = directive[1] == "stop"
                continue
            lines = self.cmd(line)
            out += lines
            if errors(lines) and stop:
                return "\r\n".join(out), False
        return "\r\n".join(out), True

    # ---- the contract's forms as values -------------------------------------------------

    def one(self, line):
        out = self.run(line)
        if len(out) != 1:
            raise ParseError(f"{line}: expected one line, got {out!r}")
        return out[0]

    def lookup(self, n, v):
        """lookup N V: a Lookup(pa, rights, size) or None."""
        got_n, got_v, hit = parse_lookup(self.one(f"lookup {n} {v:#x}"))
        if (got_n, got_v) != (n, v):
            raise ParseError(f"lookup {n} {v:#x} answered for {got_n}:{got_v:#x}")
        return hit

    def pt(self, n=None):
        """pt or pt N: a PtDump(name, runs, count, pages, ptpages)."""
        return parse_pt(self.run("pt" if n is None else f"pt {n}", timeout=120))

    def mem(self, pa=None):
        """mem: the dict of parse_mem; mem PA: a FrameInfo."""
        if pa is not None:
            return parse_frame(self.one(f"mem {pa:#x}"))
        return parse_mem(self.run("mem"))

    def pool(self):
        return parse_pool(self.one("pool"))

    def check(self):
        """check: a Check(ok, fields, reason); a FAIL is a value, not an exception."""
        return parse_check(self.one("check"))

    def mdb(self, n, v):
        return parse_mdb(self.run(f"mdb {n} {v:#x}"))

    def memmap(self):
        return parse_memmap(self.run("memmap"))

    def space_new(self):
        return int(_fullmatch(r"space (\d+)", self.one("space new"))[1])

    def spaces(self):
        return parse_space_list(self.run("space list"))

    def peek(self, n, v, count=1):
        """The words read; raises Fault where the MMU refused."""
        return [x for _, _, x in parse_words(self.run(f"peek {n} {v:#x} {count:#x}"))]

    def poke(self, n, v, x):
        return parse_words(self.run(f"poke {n} {v:#x} {x:#x}"))[0][2]

    def _region(self, verb, args, size, rights):
        line = " ".join([verb, *args] + ([size if isinstance(size, str) else f"{size:#x}"]
                                          if size is not None else []) + ([rights] if rights else []))
        return self.one(line)

    def map(self, n, v, n2, v2, size=None, rights=None, grant=False):
        """map (or grant) over a region: (pages, rights) as reported."""
        line = self._region("grant" if grant else "map", [str(n), f"{v:#x}", str(n2), f"{v2:#x}"],
                            size, rights)
        m = _fullmatch(rf"(?:map|grant) \d+:{HEX} -> \d+:{HEX}: {HEX} pages, rights {RIGHTS}",
                       line)
        return int(m[3], 16), m[4]

    def grant(self, n, v, n2, v2, size=None, rights=None):
        return self.map(n, v, n2, v2, size, rights, grant=True)

    def _changed(self, verb, n, v, size, rights=None):
        line = self._region(verb, [str(n), f"{v:#x}"], size, rights)
        return int(_fullmatch(rf"{verb} \d+:{HEX} size {HEX}: {HEX} pages \w+", line)[3], 16)

    def unmap(self, n, v, size=None):
        return self._changed("unmap", n, v, size)

    def flush(self, n, v, size=None):
        return self._changed("flush", n, v, size)

    def protect(self, n, v, size, rights):
        return self._changed("protect", n, v, size, rights)

    def reset(self):
        return self.one("reset")

    # ---- QEMU ---------------------------------------------------------------------------

    def hmp(self, command, timeout=30):
        """Run a command on QEMU's human monitor; return its output."""
        if self._hmp is None:
            self._hmp = _connect(self.hmp_path, self.proc, time.monotonic() + 10)
            self._hmp.settimeout(timeout)
            self._hmp_read()
        self._hmp.sendall(command.encode() + b"\n")
        lines = self._hmp_read().split("\r\n")
        return "\r\n".join(lines[1:]).strip()  # drop the echoed command

    def _hmp_read(self):
        buf = b""
        while not buf.endswith(b"(qemu) "):
            chunk = self._hmp.recv(65536)
            if not chunk:
                raise EOFError("QEMU monitor closed")
            buf += chunk
        return text(buf[: -len(b"(qemu) ")])

    def wait_exit(self, timeout=30):
        return self.proc.wait(timeout)

    def halt(self, timeout=30):
        """halt, and wait for QEMU to exit (booted here only); its exit status."""
        self.send("halt\r")
        return self.wait_exit(timeout)

    def close(self):
        for s in (self._hmp, getattr(self, "sock", None)):
            if s is not None:
                s.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- the command line -------------------------------------------------------------------


def _boot(args, script=None):
    if getattr(args, "attach", None):
        return Memmon(attach=args.attach)
    return Memmon(mem=args.mem, image=args.image, script=script)


def cmd_run(args):
    """Boot with FILE as startup.mon and print the transcript (attached: type it)."""
    if args.attach:
        with open(args.file) as f:
            script = f.read()
        with Memmon(attach=args.attach) as m:
            transcript, done = m.run_script(script)
        print(transcript.replace("\r\n", "\n"))
        return 0 if done else 1
    with Memmon(mem=args.mem, script=args.file) as m:
        print((m.banner + m.startup).replace("\r\n", "\n").strip("\n"))
        status = m.halt()
    return 0 if "startup.mon: done" in m.startup and status == 33 else 1


def cmd_shell(args):
    """Type at memmon line by line; Ctrl-D leaves (halting a memmon booted here)."""
    m = _boot(args, args.script)
    print((m.banner + m.startup).replace("\r\n", "\n").rstrip("\n"))
    try:
        while True:
            try:
                line = input("mon> ")
            except EOFError:
                print()
                break
            if line.strip() == "halt" and m.proc is not None:
                print(f"(QEMU exited with {m.halt()})")
                return 0
            print("\n".join(m.cmd(line, timeout=600)))
        if m.proc is not None:
            m.halt()
    finally:
        m.close()
    return 0


def cmd_draw(args):
    import memmon_draw  # noqa: E402 (beside this file)

    with _boot(args, args.script) as m:
        svg = memmon_draw.draw(m)
        if m.proc is not None:
            m.halt()
    with open(args.output, "w") as f:
        f.write(svg)
    print(f"draw: {args.output}")
    return 0


def main(argv=None):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(prog="memmon.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, attach=True):
        sp.add_argument("--mem", default="1G", help="guest RAM when booting (default 1G)")
        sp.add_argument("--image", help="boot this disk image (make image) instead of build/esp")
        if attach:
            sp.add_argument("--attach", metavar="SOCK",
                            help="use a running memmon's serial unix socket instead of booting")

    sp = sub.add_parser("run", help="boot with FILE as startup.mon; print the transcript")
    sp.add_argument("file")
    common(sp)
    sp.set_defaults(fn=cmd_run)
    sp = sub.add_parser("shell", help="type at memmon (boots one, or --attach)")
    sp.add_argument("--script", help="a startup.mon to run first")
    common(sp)
    sp.set_defaults(fn=cmd_shell)
    sp = sub.add_parser("draw", help="render the live state as SVG")
    sp.add_argument("-o", "--output", default="memmon.svg")
    sp.add_argument("--script", help="a startup.mon to run before drawing")
    common(sp)
    sp.set_defaults(fn=cmd_draw)
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
