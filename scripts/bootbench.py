#!/usr/bin/python3
"""Boot benchmark: memmon versus a minimal UEFI application.

Measures the wall time from QEMU process start (just before Popen of
scripts/qemu.sh, which exec's qemu-system-x86_64) to the first "mon> " seen
on COM1, for memmon (build/esp) and for build/hello.efi (a trivial UEFI app
that prints "mon> " and exits QEMU).  hello's time is the floor set by
QEMU + OVMF; the ratio memmon/hello shows what memmon adds on top.

Runs alternate (memmon, hello, memmon, hello, ...) so that drift in host load
hits both images alike.  COM1 is a unix socket QEMU listens on (wait=on, so
the guest starts once we connect); each run has its own temp workdir.  After
the prompt memmon gets "halt\\r"; hello exits by itself.  QEMU is killed if it
does not exit within 10 s, and on any error.

    /usr/bin/python3 scripts/bootbench.py [--runs N] [--mem 1G,256G ...] [--json FILE]

Prints one row per (mem, image) with median/min/max seconds, per mem size the
ratio of medians and the median of per-pair ratios (memmon run i / hello run
i).  Exits 0 whatever the numbers; non-zero only if a boot fails or times out.
"""
import argparse
import re
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU_SH = os.path.join(ROOT, "scripts", "qemu.sh")
PROMPT = b"mon> "
FIRST_LINE = b"memmon: starting"  # memmon's first output, at the top of efi_main
BOOT_TIMEOUT = 60.0
EXIT_TIMEOUT = 10.0


class BootError(Exception):
    pass


def connect(path, proc, deadline):
    """Connect to QEMU's serial socket, retrying until it appears."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
        if proc.poll() is not None:
            raise BootError(f"QEMU exited with status {proc.returncode} before the serial socket appeared")
        if time.monotonic() > deadline:
            raise BootError(f"serial socket {path} did not appear")
        time.sleep(0.01)


def check_mem(sock, mem, deadline):
    """After the timing: memmon's `mem` must account for nearly all of the
    guest's RAM (the firmware keeps a few MiB), or the run is refused."""
    sock.sendall(b"mem\r")
    buf = b""
    while buf.count(PROMPT) < 1 or not buf.rstrip().endswith(b">"):
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        data = sock.recv(4096)
        if not data:
            raise BootError("serial closed during mem")
        buf += data
    m = re.search(rb"frames total 0x([0-9a-f]+) free 0x([0-9a-f]+) used 0x([0-9a-f]+)", buf)
    if not m:
        raise BootError(f"mem printed no totals: {buf[-300:]!r}")
    total, free, used = (int(x, 16) for x in m.groups())
    ram = int(mem[:-1]) << {"M": 8, "G": 18}[mem[-1].upper()]
    if not (ram - 16384 <= total <= ram and free + used == total):
        raise BootError(f"mem totals {total:#x} free {free:#x} used {used:#x} against {ram:#x} frames")


def boot_once(name, esp, mem):
    """Boot one image; return seconds from QEMU start to the first prompt, and
    (memmon only) seconds from memmon's first line to the prompt: its own
    share, takeover included, without the firmware's."""
    work = tempfile.mkdtemp(prefix="bootbench-")
    sock_path = os.path.join(work, "com1.sock")
    log_path = os.path.join(work, "qemu.log")
    cmd = [QEMU_SH, "--mem", mem, "--esp", esp, "--workdir", work,
           "--serial", "unix:" + sock_path, "--monitor", os.path.join(work, "mon.sock")]
    proc = sock = None
    try:
        with open(log_path, "wb") as log:
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = t0 + BOOT_TIMEOUT
        sock = connect(sock_path, proc, deadline)
        buf = b""
        first = None
        while PROMPT not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BootError(f"no prompt within {BOOT_TIMEOUT:.0f} s; serial tail: {buf[-300:]!r}")
            sock.settimeout(left)
            try:
                data = sock.recv(4096)
            except socket.timeout:
                continue
            if not data:
                raise BootError(f"serial closed before prompt (QEMU status {proc.poll()}); "
                                f"serial tail: {buf[-300:]!r}")
            buf += data
            if first is None and FIRST_LINE in buf:
                first = time.monotonic()
        now = time.monotonic()
        elapsed = now - t0
        own = now - first if first is not None else None
        if name == "memmon":
            check_mem(sock, mem, deadline)
            sock.sendall(b"halt\r")
        try:
            status = proc.wait(EXIT_TIMEOUT)
            if status != 33:
                print(f"  note: {name} QEMU exit status {status} (expected 33)", file=sys.stderr)
        except subprocess.TimeoutExpired:
            print(f"  note: {name} did not exit within {EXIT_TIMEOUT:.0f} s; killed", file=sys.stderr)
        return elapsed, own
    except BootError as e:
        log = open(log_path, errors="replace").read().strip() if os.path.exists(log_path) else ""
        raise BootError(f"{name} at {mem}: {e}" + (f"\nQEMU output:\n{log}" if log else "")) from None
    finally:
        if sock:
            sock.close()
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def hello_esp(tmp):
    src = os.path.join(ROOT, "build", "hello.efi")
    if not os.path.exists(src):
        raise BootError(f"missing {src} (make all)")
    boot = os.path.join(tmp, "EFI", "BOOT")
    os.makedirs(boot)
    shutil.copy(src, os.path.join(boot, "BOOTX64.EFI"))
    return tmp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per image and size (default 5)")
    ap.add_argument("--mem", action="append", help="guest RAM, repeatable or comma list (default 1G)")
    ap.add_argument("--json", help="write raw times to FILE")
    args = ap.parse_args()
    mems = [m.strip() for opt in (args.mem or ["1G"]) for m in opt.split(",") if m.strip()]

    memmon_esp = os.path.join(ROOT, "build", "esp")
    if not os.path.exists(os.path.join(memmon_esp, "EFI", "BOOT", "BOOTX64.EFI")):
        sys.exit(f"bootbench: missing {memmon_esp}/EFI/BOOT/BOOTX64.EFI (make all)")
    tmp = tempfile.mkdtemp(prefix="bootbench-esp-")
    times = {}
    try:
        esps = {"memmon": memmon_esp, "hello": hello_esp(tmp)}
        for mem in mems:
            times[mem] = {"memmon": [], "hello": []}
            for i in range(args.runs):
                for name in ("memmon", "hello"):
                    t, own = boot_once(name, esps[name], mem)
                    times[mem][name].append(t)
                    if own is not None:
                        times[mem].setdefault("memmon_own", []).append(own)
                    print(f"  {mem:>5} {name:<6} run {i + 1}/{args.runs}: {t:6.2f} s", file=sys.stderr)
    except BootError as e:
        sys.exit(f"bootbench: {e}")
    except KeyboardInterrupt:
        sys.exit("bootbench: interrupted")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{'mem':>5}  {'image':<6}  {'median':>7}  {'min':>7}  {'max':>7}")
    for mem in mems:
        for name in ("memmon", "hello"):
            ts = times[mem][name]
            print(f"{mem:>5}  {name:<6}  {statistics.median(ts):7.2f}  {min(ts):7.2f}  {max(ts):7.2f}")
    for mem in mems:
        m, h = times[mem]["memmon"], times[mem]["hello"]
        pairs = statistics.median(a / b for a, b in zip(m, h))
        print(f"{mem:>5}  ratio memmon/hello: medians {statistics.median(m) / statistics.median(h):.2f}, "
              f"median of pairs {pairs:.2f}; memmon's own share, first line to prompt: median "
              f"{statistics.median(times[mem]['memmon_own']) * 1000:.0f} ms")
    print("target: ratio <= 1.30 at 1G")
    base = mems[0]
    for mem in mems[1:]:
        ratio = {n: statistics.median(times[mem][n]) / statistics.median(times[base][n])
                 for n in ("memmon", "hello")}
        own = {m: statistics.median(times[m]["memmon_own"]) * 1000 for m in (base, mem)}
        print(f"{mem:>5}  memmon {mem}/{base}: {ratio['memmon']:.2f} (hello {ratio['hello']:.2f}: the "
              f"firmware's own growth); memmon's own share {own[base]:.0f} -> {own[mem]:.0f} ms; "
              f"target: memmon <= 1.10")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": args.runs, "times": times}, f, indent=1)


if __name__ == "__main__":
    main()
