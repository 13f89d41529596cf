"""The console over the real serial line of a memmon booted under OVMF."""

import random
import re

from memmon_qemu import parse_memmap as client_parse_memmap

COMMANDS = ["help", "version", "memmap", "mem", "alloc", "free", "pt", "walk", "space", "map", "grant",
            "unmap", "flush", "protect", "lookup", "mdb", "check", "peek", "poke", "park", "pool",
            "reset", "cpu", "guest", "image", "echo", "trap", "halt"]
RAM_1G_PAGES = 1 << 18


def single_error(lines):
    """The output is exactly one line, and it starts with 'error: '."""
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def assert_alive(mon):
    """The monitor still answers a command correctly."""
    out = mon.cmd("version")
    assert out[0].startswith("memmon "), out


# The prompt appears after takeover, announced by the banner.
def test_banner_and_prompt(mon):
    assert "memmon: starting" in mon.banner
    assert re.search(r"memmon \S+ \(\S+\): took over 0x[0-9a-f]+ MiB of RAM", mon.banner), mon.banner


# help lists every command, once each, and help CMD shows each one's usage.
def test_help_lists_every_command(mon):
    names = [line.split()[0] for line in mon.cmd("help")]
    assert sorted(names) == sorted(COMMANDS)
    for name in COMMANDS:
        out = mon.cmd(f"help {name}")
        assert out[0].startswith(f"usage: {name}"), out
    assert mon.cmd("help memmap")[0] == "usage: memmap [PA]"
    single_error(mon.cmd("help nosuch"))


# version names memmon, its build and the firmware.
def test_version(mon):
    out = mon.cmd("version")
    assert re.fullmatch(r"memmon \d+\.\d+\.\d+ build \S+", out[0]), out
    assert out[1].startswith("firmware EDK II"), out


MEMMAP_LINE = re.compile(r"0x([0-9a-f]+)-0x([0-9a-f]+) +(\S+) +0x([0-9a-f]+) pages attr 0x[0-9a-f]+ "
                         r"(reclaimed|kept|reserved)(?: \(0x([0-9a-f]+) kept\))?")
NOT_RAM = {"mmio", "mmio-port", "reserved", "unusable", "pal-code"}
USES = ("reclaimed", "kept", "reserved")
TAKEN = ("conventional", "loader-code", "loader-data", "boot-code", "boot-data")


def parse_memmap(lines):
    """The descriptor lines as (start, end, kind, pages, use, kept pages), and the summary."""
    for line in lines[:-2]:
        assert MEMMAP_LINE.fullmatch(line), line
    got, summary = client_parse_memmap(lines)
    assert len(got) == len(lines) - 2 and lines[-2].startswith("memmap: descriptors"), lines
    regions = [(r.start, r.end, r.kind, r.pages, r.use, r.kept) for r in got]
    for r, line in zip(got, lines):
        assert r.use == "kept" or r.kept == 0 or 0 < r.kept < r.pages, line
    return regions, summary


def check_memmap_totals(lines, mem_pages):
    """memmap lists sorted, disjoint descriptors whose totals match the summary,
    and the RAM they describe is -m less the firmware's holes. Returns the
    summary and the firmware's RAM pages."""
    regions, s = parse_memmap(lines)
    assert s["descriptors"] == len(regions) > 10
    for (a, b, _, pages, _, _), nxt in zip(regions, regions[1:] + [None]):
        assert b - a == pages * 4096
        if nxt:
            assert b <= nxt[0], "descriptors overlap or are unsorted"
    by_use = dict.fromkeys(USES, 0)
    for _, _, kind, pages, use, kept in regions:
        if use == "kept":
            by_use["kept"] += pages
        else:
            by_use[use] += pages - kept
            by_use["kept"] += kept
        # reclaimed or kept: exactly the kinds memmon takes; the rest is reserved
        assert (use != "reserved") == (kind in TAKEN), (kind, use)
    ram = sum(r[3] for r in regions if r[2] not in NOT_RAM)
    fw_ram = sum(r[3] for r in regions if r[4] == "reserved" and r[2] not in NOT_RAM)
    assert s["ram"] == ram
    for use in USES:
        assert s[use] == by_use[use], use
    # Every RAM page is reclaimed, kept by memmon, or the firmware's.
    managed = s["reclaimed"] + s["kept"]
    assert managed + fw_ram == ram
    # All of -m is described except the legacy hole below 1 MiB and a few
    # pages the firmware leaves out; nearly all of it is memmon's.
    assert mem_pages - 1024 <= ram <= mem_pages
    assert s["reclaimed"] >= mem_pages - 8192  # the firmware keeps < 32 MiB
    boot = sum(r[3] - r[5] for r in regions if r[2] in ("boot-code", "boot-data"))
    assert boot > 1024 and all(r[4] == "reclaimed" for r in regions if r[2].startswith("boot-")), \
        "boot-services memory is reclaimed"
    assert 0 < s["kept"] < 1024, "memmon's image, stacks, map and identity map"
    assert lines[-1] == f"memmap: memmon manages 0x{managed >> 8:x} MiB of 0x{ram >> 8:x} MiB ram"
    return s, fw_ram


# memmap agrees with -m 1G less the firmware's reservations.
def test_memmap_totals_agree_with_ram(mon):
    check_memmap_totals(mon.cmd("memmap"), RAM_1G_PAGES)


# memmap PA answers with the one descriptor that holds PA; bad PAs are errors.
def test_memmap_of_one_address(mon):
    out = mon.cmd("memmap 0x100000")
    assert len(out) == 1 and MEMMAP_LINE.fullmatch(out[0]) and out[0].startswith("0x100000-")
    assert mon.cmd("memmap 0x8000000000") == ["0x8000000000: in no firmware descriptor"]
    for bad in ["zz", "0x", "-1", "12q", "0x10000000000000000", "18446744073709551616",
                "0x10000000000000", "0x400000000000000000K", "1 2"]:
        single_error(mon.cmd(f"memmap {bad}"))


# Unknown commands and junk get one error line and the prompt comes back.
def test_unknown_command_and_junk(mon):
    assert single_error(mon.cmd("frobnicate now")).startswith("error: unknown command 'frobnicate'")
    single_error(mon.cmd("!@#$%^&*()_+{}|:<>?"))
    single_error(mon.cmd("echo maybe"))
    single_error(mon.cmd("version extra"))
    single_error(mon.cmd(" ".join(["help"] * 40)))
    assert mon.cmd("") == []
    assert mon.cmd("   \t  ") == []
    assert_alive(mon)


# Lines over 1023 characters are refused whole; 1023 is accepted.
def test_overlong_lines(mon):
    out = single_error(mon.cmd("help " + "x" * 1018))  # 1023 characters: runs
    assert out.startswith("error: help: no command"), out
    for n in (1024, 5000, 64 * 1024):
        out = single_error(mon.cmd("x" * n, timeout=120))
        assert out == f"error: line too long ({n} characters; the limit is 1023)", out
    assert_alive(mon)


# Unprintable bytes spoil their line with one error; nothing is run.
def test_unprintable_bytes(mon):
    assert single_error(mon.cmd("vers\x00ion")).startswith("error: line holds an unprintable")
    assert single_error(mon.cmd("\xff\xfehalt")).startswith("error: line holds an unprintable")
    assert_alive(mon)


# A stream of random bytes neither crashes nor hangs the monitor.
def test_random_binary_stream(mon):
    rng = random.Random(2)
    for _ in range(8):
        mon.send(bytes(rng.randrange(256) for _ in range(4096)))
        mon.send(b"\x03\x03")
        mon.drain(0.5)
    assert_alive(mon)
    assert mon.proc.poll() is None


# Backspace, Ctrl-U, Ctrl-C and the history arrows edit the line.
def test_line_editing(mon):
    assert mon.cmd("verx\x7fsion")[0].startswith("memmon ")
    assert mon.cmd("verx\x08sion")[0].startswith("memmon ")
    assert mon.cmd("garbage\x15version")[0].startswith("memmon ")
    mon.send("halt\x03")
    assert mon.expect(r"\^C\r\nmon> ") is not None  # abandoned: QEMU still runs
    assert mon.proc.poll() is None
    mon.cmd("echo")
    mon.cmd("version")  # history, newest last: ..., echo, version
    assert mon.cmd("\x1b[A")[0].startswith("memmon ")  # up: version again (not re-added)
    assert mon.cmd("\x1bOA\x1bOA")[0] == "echo on"  # two up: echo; now ..., echo, version, echo
    assert mon.cmd("\x1b[A\x1b[A\x1b[A\x1b[B")[0].startswith("memmon ")  # three up, one down
    assert mon.cmd("\x1b[B\x1b[Bversion")[0].startswith("memmon ")  # down past the newest: empty
    assert mon.cmd("\x1b[1;5Cversion")[0].startswith("memmon ")  # other sequences ignored


# echo off stops the echo of typed characters; each line end still gives a new line.
def test_echo_off(mon):
    mon.cmd("echo off")
    mon.send("version\r")
    out = mon.prompt()
    assert out[0] == "" and out[1].startswith("memmon "), out
    mon.cmd("echo on")
    mon.send("version\r")
    assert mon.prompt()[0] == "version"


# A CPU exception inside a command prints the dump, ends the command with
# one error line, and the monitor carries on; many times over.
def test_fault_in_command_returns_to_prompt(mon):
    cases = {"de": ("#DE", 0), "bp": ("#BP", 3), "ud": ("#UD", 6), "gp": ("#GP", 13),
             "pf": ("#PF", 14)}
    for kind, (name, vector) in cases.items():
        out = mon.cmd(f"trap {kind}")
        text = "\n".join(out)
        assert re.search(rf"^exception {name} vector {vector} error 0x[0-9a-f]+ rip 0x[0-9a-f]+ "
                         r"cr2 0x[0-9a-f]+$", text, re.M), text
        for reg in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
                    "r11", "r12", "r13", "r14", "r15", "rflags", "cr3"):
            assert re.search(rf"\b{reg} 0x[0-9a-f]+", text), reg
        errors = [line for line in out if line.startswith("error:")]
        assert errors == [f"error: trap: aborted by CPU exception {name} (vector {vector})"]
        assert out[-1] == errors[0]
    assert "cr2 0xffff800000000000" in "\n".join(mon.cmd("trap pf"))
    for _ in range(50):  # no stack or state leaks across recoveries
        single_error([line for line in mon.cmd("trap gp") if line.startswith("error")])
    assert_alive(mon)


# An NMI (from QEMU's monitor) is dumped and memmon carries on, also right
# after a recovered fault.
def test_nmi_is_reported_and_survived(mon):
    for _ in range(3):
        mon.cmd("trap gp")
        mon.hmp("nmi")
        text = mon.expect(r"cr4 0x[0-9a-f]+\r\n")
        assert re.search(r"exception NMI vector 2 error 0x0 rip 0x[0-9a-f]+", text), text
    assert_alive(mon)
    assert mon.proc.poll() is None


# Escape sequences are swallowed to their final byte, however long: after 40
# parameter bytes the 'h' of "halt" is the final byte, so "alt" is typed.
def test_long_escape_sequences_do_not_leak(mon):
    out = single_error(mon.cmd("\x1b[" + ";" * 40 + "halt"))
    assert out.startswith("error: unknown command 'alt'"), out
    assert mon.cmd("\x1b]0;title halt\x07version")[0].startswith("memmon ")  # OSC string
    assert mon.proc.poll() is None


# QEMU's own monitor is reachable while memmon runs.
def test_qemu_monitor(mon):
    assert "running" in mon.hmp("info status")
    regs = mon.hmp("info registers")
    assert re.search(r"RIP=[0-9a-f]{16}", regs), regs
    assert_alive(mon)
