"""Guests (SPEC section 3) over the serial line of a memmon booted in QEMU.

The shared 1 GiB memmon (conftest's `mon`, a `reset` before each test)
serves every test but two: the 1G nested mapping needs a GiB-aligned GiB
of sigma0, which only a bigger machine has (one 4 GiB boot), and the
refusal without SVM needs a CPU without it (one boot with `-cpu` overridden).

QEMU runs with `-cpu qemu64,+pdpe1gb,+svm,+npt` (scripts/qemu.sh): TCG
emulates SVM with nested paging, so the built-in programs run for real.
Sigma0 maps RAM at v == r; the tests take their frames from 256 MiB up.
"""

import random
import re
import time

import pytest

from memmon_qemu import parse_check, parse_lookup
from test_console import single_error

HEX = r"0x([0-9a-f]+)"
K4, M2, G1 = 1 << 12, 1 << 21, 1 << 30
F = 0x10000000  # sigma0's frames from here on (v == r) are the tests' raw material
REGS = ["rip", "rsp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11",
        "r12", "r13", "r14", "r15", "rflags", "cr0", "cr3", "cr4", "efer"]
STOPS = ["hlt", "vmmcall", "npf", "io", "msr", "exception", "shutdown", "timer"]
POISON = 0x0BADC0DE  # what escape writes wherever it can
# loop's `add dword [counter], 1` on a page that is not there: a CPU reports the write
# of the read-modify-write, QEMU's TCG the read it does first. Where the page is there
# but read-only, the read passes and the write faults: always write.
RMW = ("read", "write")
NOSVM = "error: guest: this CPU has no SVM with nested paging"

EXIT_FORMS = {
    "hlt": rf"hlt rip {HEX}",
    "vmmcall": rf"vmmcall rip {HEX} rax {HEX}",
    "npf": rf"npf (\d+):{HEX} (not-present|protection) (read|write|exec) rip {HEX}",
    "io": rf"io {HEX} (in|out) rip {HEX}",
    "msr": rf"msr {HEX} (read|write) rip {HEX}",
    "exception": rf"exception (\d+) rip {HEX}",
    "shutdown": rf"shutdown rip {HEX}",
    "timer": rf"timer rip {HEX}",
    "stopped": rf"stopped rip {HEX}",  # guest stop (SPEC section 4; test_cpus.py)
}
LIST_LINE = re.compile(rf"guest (\d+) space (\d+) prog (\S+) state (\S+) exits {HEX}:"
                       + "".join(rf" {k} {HEX}" for k in STOPS))


def h(x):
    return f"{x:#x}"


# ---- talking to memmon ----------------------------------------------------------------------


def one(m, line):
    """A command whose output is exactly one line that is not an error."""
    out = m.cmd(line)
    assert len(out) == 1 and not out[0].startswith("error:"), (line, out)
    return out[0]


def fails(m, line, *words):
    """A command that answers with exactly one error line (holding each of words)."""
    got = single_error(m.cmd(line))
    for w in words:
        assert w in got, (line, got)
    return got


def parse_exit(line, g=None):
    """An exit line as (kind, dict of its fields); any other form fails the test."""
    mt = re.fullmatch(r"exit (\d+): (\w+) (.*)", line)
    assert mt and mt[2] in EXIT_FORMS, line
    f = re.fullmatch(EXIT_FORMS[mt[2]], f"{mt[2]} {mt[3]}")
    assert f, line
    if g is not None:
        assert int(mt[1]) == g, line
    kind, v = mt[2], f.groups()
    d = {"g": int(mt[1]), "rip": int(v[-1], 16)}
    if kind == "vmmcall":
        d.update(rip=int(v[0], 16), rax=int(v[1], 16))
    elif kind == "npf":
        d.update(space=int(v[0]), gpa=int(v[1], 16), why=v[2], access=v[3])
    elif kind == "io":
        d.update(port=int(v[0], 16), dir=v[1])
    elif kind == "msr":
        d.update(msr=int(v[0], 16), dir=v[1])
    elif kind == "exception":
        d["vector"] = int(v[0])
    return kind, d


def run_output(lines, g):
    """guest run's output: console lines `guest G: TEXT`, then exactly one exit line."""
    assert lines, "guest run printed nothing"
    for line in lines[:-1]:
        assert line.startswith(f"guest {g}: "), lines
    kind, d = parse_exit(lines[-1], g)
    return [line[len(f"guest {g}: "):] for line in lines[:-1]], kind, d


def run(m, g, ms=None, timeout=30):
    """guest run G [MS]: (console texts, exit kind, exit fields)."""
    return run_output(m.cmd(f"guest run {g}" + ("" if ms is None else f" {ms}"), timeout), g)


def run_exit(m, g, ms=None):
    """guest run with no console output: (kind, fields)."""
    text, kind, d = run(m, g, ms)
    assert text == [], text
    return kind, d


def skip(m, g):
    mt = re.fullmatch(rf"guest {g} rip {HEX}", one(m, f"guest skip {g}"))
    assert mt
    return int(mt[1], 16)


def new_space(m):
    mt = re.fullmatch(r"space (\d+)", one(m, "space new"))
    assert mt
    return int(mt[1])


def new_guest(m, n):
    mt = re.fullmatch(rf"guest (\d+) space {n}", one(m, f"guest new {n}"))
    assert mt
    return int(mt[1])


def mapped(m, n, v, n2, v2, size, rights):
    line = one(m, f"map {n} {h(v)} {n2} {h(v2)} {h(size) if isinstance(size, int) else size} {rights}")
    assert re.fullmatch(rf"map {n}:{h(v)} -> {n2}:{h(v2)}: {HEX} pages, rights \S+", line), line


def load(m, g, prog, gpa=None):
    line = one(m, f"guest load {g} {prog}" + ("" if gpa is None else f" {h(gpa)}"))
    mt = re.fullmatch(rf"guest {g}: loaded {prog} at {h(gpa or 0)}, {HEX} bytes", line)
    assert mt, line
    return int(mt[1], 16)


def set_reg(m, g, reg, value):
    mt = re.fullmatch(rf"guest {g} {reg} = {HEX}", one(m, f"guest set {g} {reg} {h(value)}"))
    assert mt
    return int(mt[1], 16)


def regs(m, g):
    """guest regs G: every register, in SPEC's order, as a dict."""
    pairs = []
    for line in m.cmd(f"guest regs {g}"):
        words = line.split()
        assert words and len(words) % 2 == 0, line
        for name, value in zip(words[::2], words[1::2]):
            assert re.fullmatch(HEX, value), line
            pairs.append((name, int(value, 16)))
    assert [p[0] for p in pairs] == REGS
    return dict(pairs)


def peek(m, n, v, count=1):
    """The words at N:V (peek takes 0x200 at most: several peeks)."""
    words = []
    for at in range(v, v + 8 * count, 0x1000):
        k = min(0x200, count - (at - v) // 8)
        out = m.cmd(f"peek {n} {h(at)} {h(k)}")
        assert len(out) == k, out
        for i, line in enumerate(out):
            mt = re.fullmatch(rf"{n}:{h(at + 8 * i)} = {HEX}", line)
            assert mt, out
            words.append(int(mt[1], 16))
    return words


def lookup(m, n, v):
    got_n, got_v, hit = parse_lookup(one(m, f"lookup {n} {h(v)}"))
    assert (got_n, got_v) == (n, v)
    return None if hit is None else tuple(hit)


def check_ok(m):
    line = one(m, "check")
    assert parse_check(line).ok, line
    return line


def image_sum(m):
    mt = re.fullmatch(rf"image: {HEX} bytes of code and read-only data, checksum {HEX}",
                      one(m, "image"))
    assert mt
    return mt[2]


def guest_list(m):
    """guest list: {G: (space, prog, state, total, {stop: count})}; the count line checked."""
    out = m.cmd("guest list")
    assert out and re.fullmatch(rf"guests {HEX}", out[-1]), out
    got = {}
    for line in out[:-1]:
        mt = LIST_LINE.fullmatch(line)
        assert mt, line
        counts = {k: int(x, 16) for k, x in zip(STOPS, mt.groups()[5:])}
        assert int(mt[5], 16) == sum(counts.values()), line
        got[int(mt[1])] = (int(mt[2]), mt[3], mt[4], int(mt[5], 16), counts)
    assert int(re.fullmatch(rf"guests {HEX}", out[-1])[1], 16) == len(got), out
    return got


def dwords(words):
    """8-byte words as their little-endian dwords."""
    return [x for w in words for x in (w & 0xFFFFFFFF, w >> 32)]


def dword_sum(words):
    """The 32-bit sum of the dwords in these 8-byte words."""
    return sum(dwords(words)) & 0xFFFFFFFF


@pytest.fixture
def gm(mon):
    """The shared memmon at an empty line, just reset: no spaces, no guests (and reset
    again afterwards)."""
    out = mon.cmd("reset")
    assert re.fullmatch(r"reset: sigma0 maps 0x[0-9a-f]+ frames, no client spaces", out[0]), out
    assert guest_list(mon) == {}
    yield mon
    mon.cmd("reset")  # leave the shared boot without spaces or guests for later modules


def hello_guest(m, gpa=0x10000, frame=F):
    """A space with one rwx page at gpa, and a guest of it with hello loaded there."""
    n = new_space(m)
    mapped(m, 0, frame, n, gpa, K4, "rwx")
    g = new_guest(m, n)
    load(m, g, "hello", gpa)
    return n, g


def loop_guest(m, gpa=0x10000, frame=F):
    """A space with loop's code page and counter page (rwx, rw-), and its guest."""
    n = new_space(m)
    mapped(m, 0, frame, n, gpa, K4, "rwx")
    one(m, f"poke 0 {h(frame + K4)} 0")
    mapped(m, 0, frame + K4, n, gpa + K4, K4, "rw")
    g = new_guest(m, n)
    load(m, g, "loop", gpa)
    return n, g


# ---- the commands and their refusals ----------------------------------------------------------


def test_progs(gm):
    out = gm.cmd("guest progs")
    names = []
    for line in out:
        mt = re.fullmatch(rf"(\w+) +{HEX} bytes  (\S.*)", line)
        assert mt, line
        assert 0 < int(mt[2], 16) <= K4, line  # one page each
        names.append(mt[1])
    assert names == ["hello", "loop", "sum", "long", "escape"]
    fails(gm, "guest progs x")


def test_new_del_list_and_refusals(gm):
    fails(gm, "guest new 1", "space")  # no space 1 yet
    n = new_space(gm)
    fails(gm, "guest new 0", "sigma0")
    fails(gm, "guest new 7", "space")
    fails(gm, "guest new 4096")
    fails(gm, "guest new abc")
    fails(gm, "guest new -1")
    fails(gm, "guest new")
    fails(gm, "guest new 1 2")
    fails(gm, "guest")
    fails(gm, "guest foo 1")
    fails(gm, "guest list 1")
    assert gm.cmd("guest list") == ["guests 0x0"]

    g = new_guest(gm, n)
    assert g == 1
    assert guest_list(gm) == {1: (n, "-", "empty", 0, dict.fromkeys(STOPS, 0))}
    # a guest without a program: nothing to run or step past
    fails(gm, f"guest run {g}", "no program")
    fails(gm, f"guest skip {g}")
    r = regs(gm, g)
    assert r["efer"] & 0x1000 and r["cr0"] & 1 and not r["cr0"] & (1 << 31)
    # numbers of guests that are not there, and bad numbers
    for line in ("guest run 2", "guest run 0", "guest run 99", "guest run xyz", "guest del 2",
                 "guest regs 16", "guest skip 0x10000000000000000", "guest load 2 hello",
                 "guest set 2 rax 1", "guest run", "guest regs", "guest regs 1 2",
                 "guest set 1 rax", "guest load 1"):
        fails(gm, line)

    # 15 guests at most (one ASID each), numbered from 1, the lowest free one first
    outs = gm.batch([f"guest new {n}"] * 15)
    assert [o for o in outs[:14]] == [[f"guest {k} space {n}"] for k in range(2, 16)]
    single_error(outs[14])
    assert sorted(guest_list(gm)) == list(range(1, 16))
    assert one(gm, "guest del 7") == "guest 7 deleted"
    fails(gm, "guest del 7")
    fails(gm, "guest regs 7")
    assert new_guest(gm, n) == 7
    fails(gm, f"guest new {n}")
    outs = gm.batch([f"guest del {k}" for k in range(1, 16)])
    assert outs == [[f"guest {k} deleted"] for k in range(1, 16)]
    assert guest_list(gm) == {}
    check_ok(gm)


def test_load_refusals_write_nothing(gm):
    n = new_space(gm)
    g = new_guest(gm, n)
    frame = F + 0x20000
    one(gm, f"poke 0 {h(frame)} 0x5555aaaa5555aaaa")
    fails(gm, f"guest load {g} hello 0x40000", "not mapped")
    fails(gm, f"guest load {g} hello", "not mapped")  # GPA 0 is not mapped either
    mapped(gm, 0, frame, n, 0x40000, K4, "rwx")
    # the page that was refused is as it was: load wrote nothing (to any frame)
    assert peek(gm, n, 0x40000) == [0x5555aaaa5555aaaa]
    fails(gm, f"guest load {g} hello 0x40800", "aligned")
    fails(gm, f"guest load {g} hello 0x40001", "aligned")
    fails(gm, f"guest load {g} nope 0x40000", "program")
    fails(gm, f"guest load {g} hell 0x40000", "program")
    fails(gm, f"guest load {g} helloo 0x40000", "program")
    fails(gm, f"guest load {g} hello 0x100000000", "4 GiB")
    fails(gm, f"guest load {g} hello zzz")
    assert peek(gm, n, 0x40000) == [0x5555aaaa5555aaaa]
    fails(gm, f"guest run {g}", "no program")
    # any rights will do: memmon writes the frame as a loader would
    fails(gm, f"guest load {g} hello 0x41000", "not mapped")
    mapped(gm, 0, frame + K4, n, 0x41000, K4, "r")
    size = load(gm, g, "hello", 0x41000)
    assert size == 0x34
    code = peek(gm, 0, frame + K4, (size + 7) // 8)
    assert code[0] != 0 and code == peek(gm, n, 0x41000, (size + 7) // 8)
    assert peek(gm, n, 0x40000) == [0x5555aaaa5555aaaa]
    # r-- without x: the first fetch is refused by the nested walk
    kind, d = run_exit(gm, g)
    assert (kind, d["space"], d["gpa"], d["why"], d["access"], d["rip"]) == \
        ("npf", n, 0x41000, "protection", "exec", 0x41000)
    check_ok(gm)


# ---- hello: console, hlt, registers, skip -----------------------------------------------------


def test_hello_hlt_regs_set(gm):
    n, g = hello_guest(gm, 0x30000)
    r = regs(gm, g)
    assert r["rip"] == 0x30000 and r["rax"] == 0x30000  # entered at L with EAX = L
    assert r["cr0"] & 1 and not r["cr0"] & (1 << 31) and r["efer"] == 0x1000
    fails(gm, f"guest skip {g}", "guest run")  # not run yet: nothing to step past
    text, kind, d = run(gm, g)
    assert text == ["hello from a memmon guest"]
    assert (kind, d["rip"]) == ("hlt", 0x30017)
    assert regs(gm, g)["rip"] == 0x30017
    # run does not step past hlt: it stops at the same instruction, printing nothing
    for _ in range(2):
        assert run(gm, g) == ([], "hlt", {"g": g, "rip": 0x30017})
    list_ = guest_list(gm)[g]
    assert list_[:4] == (n, "hello", "hlt", 3) and list_[4]["hlt"] == 3

    # guest set: each register, as guest regs shows it afterwards
    values = {}
    for k, reg in enumerate(REGS):
        if reg in ("rip", "rflags", "cr0", "cr3", "cr4", "efer"):
            continue
        values[reg] = 0x1111111111111111 * (k % 15 + 1)
    outs = gm.batch([f"guest set {g} {reg} {h(v)}" for reg, v in values.items()])
    assert outs == [[f"guest {g} {reg} = {h(v)}"] for reg, v in values.items()]
    r = regs(gm, g)
    for reg, v in values.items():
        assert r[reg] == v, reg
    assert set_reg(gm, g, "efer", 0x100) == 0x1100  # SVME stays
    assert set_reg(gm, g, "efer", 0) == 0x1000
    assert set_reg(gm, g, "rflags", 0) == 0x2  # bit 1 stays
    assert set_reg(gm, g, "rip", 0x30000) == 0x30000
    assert regs(gm, g)["efer"] == 0x1000
    fails(gm, f"guest set {g} foo 1", "register")
    fails(gm, f"guest set {g} eax 1", "register")
    fails(gm, f"guest set {g} rax xyz")
    fails(gm, f"guest set {g} efer 0x4000")
    fails(gm, f"guest set {g} rax 0x10000000000000000")
    # back at the start: hello runs again from rip as set
    set_reg(gm, g, "rax", 0x30000)
    text, kind, d = run(gm, g)
    assert (text, kind, d["rip"]) == (["hello from a memmon guest"], "hlt", 0x30017)
    check_ok(gm)


def test_skip_forms(gm):
    n, g = hello_guest(gm, 0x30000)
    assert run(gm, g)[1] == "hlt"
    assert skip(gm, g) == 0x30018  # hlt is one byte
    fails(gm, f"guest skip {g}")  # twice: nothing stopped it since
    assert regs(gm, g)["rip"] == 0x30018
    # hello's `jmp .halt` takes it back to the hlt
    assert run_exit(gm, g) == ("hlt", {"g": g, "rip": 0x30017})
    # vmmcall (3 bytes): sum of an empty range
    g2 = new_guest(gm, n)
    load(gm, g2, "sum", 0x30000)
    set_reg(gm, g2, "rsi", 0x30000)
    set_reg(gm, g2, "rcx", 0)
    kind, d = run_exit(gm, g2)
    assert (kind, d["rax"]) == ("vmmcall", 0)
    assert skip(gm, g2) == d["rip"] + 3
    assert run_exit(gm, g2)[0] == "hlt"
    # msr (wrmsr, 2 bytes): long's write to EFER
    n3 = new_space(gm)
    mapped(gm, 0, F + 0x100000, n3, 0x20000, 5 * K4, "rwx")
    g3 = new_guest(gm, n3)
    load(gm, g3, "long", 0x20000)
    kind, d = run_exit(gm, g3)
    assert (kind, d["msr"], d["dir"]) == ("msr", 0xC0000080, "write")
    assert run_exit(gm, g3) == ("msr", d)  # not stepped past: the same wrmsr again
    assert skip(gm, g3) == d["rip"] + 2
    # a time slice that ended: nothing to step past
    n4, g4 = loop_guest(gm, 0x50000, F + 0x200000)
    assert run_exit(gm, g4, 20)[0] == "timer"
    fails(gm, f"guest skip {g4}", "time slice")
    for line in ("guest skip", f"guest skip {g4} 1", "guest skip 99"):
        fails(gm, line)
    check_ok(gm)


# ---- loop: the time slice, and changes to the space between runs ------------------------------


def test_loop_time_slice(gm):
    n, g = loop_guest(gm, 0x10000, F)
    counter = 0x11000
    assert peek(gm, n, counter) == [0]
    kind, d = run_exit(gm, g)
    assert kind == "timer" and 0x10000 <= d["rip"] < 0x10000 + 0x12
    c1 = peek(gm, n, counter)[0]
    assert c1 > 0
    assert peek(gm, 0, F + K4) == [c1]  # the frame behind it, through sigma0
    assert run_exit(gm, g, 20)[0] == "timer"
    c2 = peek(gm, n, counter)[0]
    t = time.monotonic()
    assert run_exit(gm, g, 200)[0] == "timer"
    took = time.monotonic() - t
    c3 = peek(gm, n, counter)[0]
    assert run_exit(gm, g, 20)[0] == "timer"
    c4 = peek(gm, n, counter)[0]
    assert 0 < c1 < c2 < c3 < c4
    d20, d200, d20b = c2 - c1, c3 - c2, c4 - c3
    assert d200 > d20 and d200 > d20b, "200 ms advanced the counter no more than 20 ms"
    assert 0.1 < took < 20, took  # the slice is wall-clock time, roughly
    # out-of-range slices are refused, and nothing runs
    for ms in ("0", "10001", "0x10000000000000000", "99999999999", "abc", "-5"):
        fails(gm, f"guest run {g} {ms}")
    fails(gm, f"guest run {g} 1 2")
    assert peek(gm, n, counter) == [c4]
    assert run_exit(gm, g, 1)[0] == "timer"
    assert peek(gm, n, counter)[0] > c4
    lst = guest_list(gm)[g]
    assert lst[:3] == (n, "loop", "timer") and lst[4]["timer"] == 5 and lst[3] == 5


def test_unmap_protect_between_runs(gm):
    n, g = loop_guest(gm, 0x10000, F)
    counter, frame = 0x11000, F + K4
    assert run_exit(gm, g, 20)[0] == "timer"
    c1 = peek(gm, n, counter)[0]
    # unmap the counter's source: the next access faults, and is retried
    assert one(gm, f"unmap 0 {h(frame)} 0x1000").startswith(f"unmap 0:{h(frame)}")
    assert lookup(gm, n, counter) is None
    for _ in range(2):
        kind, d = run_exit(gm, g)
        assert (kind, d["space"], d["gpa"], d["why"]) == ("npf", n, counter, "not-present"), d
        assert d["access"] in RMW, d
        assert 0x10000 <= d["rip"] < 0x10012
    assert peek(gm, 0, frame) == [c1]  # nothing written meanwhile
    # read-only: a protection fault on the write
    mapped(gm, 0, frame, n, counter, K4, "r")
    kind, d = run_exit(gm, g)
    assert (kind, d["gpa"], d["why"], d["access"]) == ("npf", counter, "protection", "write")
    assert peek(gm, 0, frame) == [c1]
    # protect (not unmap) a writable mapping to r: the same
    one(gm, f"flush {n} {h(counter)} 0x1000")
    mapped(gm, 0, frame, n, counter, K4, "rw")
    assert run_exit(gm, g, 20)[0] == "timer"
    c2 = peek(gm, n, counter)[0]
    assert c2 > c1
    assert one(gm, f"protect {n} {h(counter)} 0x1000 r").endswith("0x1 pages changed")
    kind, d = run_exit(gm, g)
    assert (kind, d["gpa"], d["why"], d["access"]) == ("npf", counter, "protection", "write")
    assert peek(gm, n, counter) == [c2]
    # a different frame behind the same GPA: the guest counts on in the new one
    one(gm, f"flush {n} {h(counter)} 0x1000")
    other = F + 0x7000
    one(gm, f"poke 0 {h(other)} 0x100000000")
    mapped(gm, 0, other, n, counter, K4, "rw")
    assert run_exit(gm, g, 20)[0] == "timer"
    assert peek(gm, 0, frame) == [c2]
    assert peek(gm, 0, other)[0] > 0x100000000
    # the code page itself goes: an exec fault at rip
    one(gm, f"flush {n} 0x10000 0x1000")
    kind, d = run_exit(gm, g)
    assert (kind, d["gpa"], d["why"], d["access"]) == ("npf", 0x10000, "not-present", "exec")
    assert d["rip"] in range(0x10000, 0x10012)
    mapped(gm, 0, F, n, 0x10000, K4, "rw")  # no x
    kind, d = run_exit(gm, g)
    assert (kind, d["gpa"], d["why"], d["access"]) == ("npf", 0x10000, "protection", "exec")
    one(gm, f"flush {n} 0x10000 0x1000")
    mapped(gm, 0, F, n, 0x10000, K4, "rx")
    assert run_exit(gm, g, 20)[0] == "timer"
    check_ok(gm)


def test_changes_through_other_spaces(gm):
    """Mappings derived through another space: map, grant, unmap, protect and space del of
    that space are in force in the guest's space before its next instruction."""
    s1 = new_space(gm)
    s2 = new_space(gm)
    code, frame = F + 0x300000, F + 0x301000
    one(gm, f"poke 0 {h(frame)} 0")
    mapped(gm, 0, code, s2, 0x10000, K4, "rwx")
    mapped(gm, 0, frame, s1, 0x50000, K4, "rw")
    mapped(gm, s1, 0x50000, s2, 0x11000, K4, "rw")
    g = new_guest(gm, s2)
    load(gm, g, "loop", 0x10000)

    def counts():
        assert run_exit(gm, g, 10)[0] == "timer"
        return peek(gm, 0, frame)[0]

    def faults(why):
        kind, d = run_exit(gm, g)
        assert (kind, d["space"], d["gpa"], d["why"]) == ("npf", s2, 0x11000, why), (kind, d)
        assert d["access"] in (RMW if why == "not-present" else ("write",)), d

    c = counts()
    assert c > 0 and peek(gm, s1, 0x50000) == [c] == peek(gm, s2, 0x11000)
    one(gm, f"unmap {s1} 0x50000 0x1000")  # everything derived from 1:0x50000
    faults("not-present")
    mapped(gm, s1, 0x50000, s2, 0x11000, K4, "rw")
    c2 = counts()
    assert c2 > c
    one(gm, f"protect {s1} 0x50000 0x1000 r")  # cuts what was derived from it too
    faults("protection")
    assert peek(gm, 0, frame) == [c2]
    assert lookup(gm, s2, 0x11000) == (frame, "r--", "4K")
    # protect cannot give w back
    assert one(gm, f"protect {s1} 0x50000 0x1000 rw").endswith("0x0 pages changed")
    faults("protection")
    one(gm, f"flush {s1} 0x50000 0x1000")  # space 1's page and what came from it
    faults("not-present")
    mapped(gm, 0, frame, s1, 0x50000, K4, "rw")
    mapped(gm, s1, 0x50000, s2, 0x11000, K4, "rw")
    c3 = counts()
    assert c3 > c2
    # grant moves space 2's page away
    assert one(gm, f"grant {s2} 0x11000 {s1} 0x60000 0x1000 rw").startswith("grant")
    faults("not-present")
    assert peek(gm, s1, 0x60000) == [c3]
    mapped(gm, s1, 0x60000, s2, 0x11000, K4, "rw")
    assert counts() > c3
    # deleting the space it came through
    assert one(gm, f"space del {s1}").startswith(f"space {s1} deleted")
    assert lookup(gm, s2, 0x11000) is None
    faults("not-present")
    assert g in guest_list(gm)
    check_ok(gm)


def test_rights_cut_through_a_map(gm):
    """A map from a read-only mapping hands out r-- only, whatever it asks: the guest's
    write is refused."""
    s1 = new_space(gm)
    s2 = new_space(gm)
    mapped(gm, 0, F + 0x400000, s2, 0x10000, K4, "rwx")
    mapped(gm, 0, F + 0x401000, s1, 0x50000, K4, "r")
    mapped(gm, s1, 0x50000, s2, 0x11000, K4, "rw")
    assert lookup(gm, s2, 0x11000) == (F + 0x401000, "r--", "4K")
    g = new_guest(gm, s2)
    load(gm, g, "loop", 0x10000)
    kind, d = run_exit(gm, g)
    assert (kind, d["gpa"], d["why"], d["access"]) == ("npf", 0x11000, "protection", "write")
    check_ok(gm)


def test_two_spaces_same_gpa(gm):
    """Two guests, each counting at the same GPA of its own space: each reaches only the
    frame its own space maps there, whatever ran in between (ASIDs, TLBs)."""
    (n1, g1), (n2, g2) = loop_guest(gm, 0x10000, F), loop_guest(gm, 0x10000, F + 0x10000)
    assert n1 != n2 and g1 != g2
    last = {F + K4: 0, F + 0x11000: 0}
    for k in range(3):
        for g, frame, other in ((g1, F + K4, F + 0x11000), (g2, F + 0x11000, F + K4)):
            before = peek(gm, 0, other)[0]
            assert run_exit(gm, g, 10)[0] == "timer"
            assert peek(gm, 0, other) == [before]
            now = peek(gm, 0, frame)[0]
            assert now > last[frame]
            last[frame] = now
    assert peek(gm, n1, 0x11000) == [last[F + K4]] and peek(gm, n2, 0x11000) == [last[F + 0x11000]]
    # a change to space 1 leaves guest 2 running
    one(gm, f"flush {n1} 0x11000 0x1000")
    assert run_exit(gm, g1)[1]["gpa"] == 0x11000
    assert run_exit(gm, g2, 10)[0] == "timer"
    check_ok(gm)


def test_refused_state(gm):
    """A state VMRUN refuses (EFER.LME with paging on and PAE off): an error, nothing
    ran, the registers as they were; fixed, the guest runs."""
    n, g = hello_guest(gm, 0x10000)
    set_reg(gm, g, "efer", 0x100)
    set_reg(gm, g, "cr0", 0x80000011)
    before = regs(gm, g)
    for _ in range(2):
        fails(gm, f"guest run {g}", "refused")
    assert regs(gm, g) == before
    assert guest_list(gm)[g][3] == 0  # no exit counted
    set_reg(gm, g, "cr0", 0x11)
    set_reg(gm, g, "efer", 0)
    text, kind, d = run(gm, g)
    assert (text, kind, d["rip"]) == (["hello from a memmon guest"], "hlt", 0x10017)
    assert gm.cmd("echo") == ["echo on"]
    check_ok(gm)


# ---- sum, long: what the guest reads and writes is what the model says ----------------------


def fill(m, pa, words):
    """Poke these words at sigma0's frame(s) from pa on."""
    outs = m.batch([f"poke 0 {h(pa + 8 * i)} {h(w)}" for i, w in enumerate(words)])
    assert outs == [[f"0:{h(pa + 8 * i)} = {h(w)}"] for i, w in enumerate(words)]


def sum_run(m, g, start, length, entry):
    """Point sum at [start, start + length) from its entry; run it to its vmmcall."""
    set_reg(m, g, "rip", entry)
    set_reg(m, g, "rsi", start)
    set_reg(m, g, "rcx", length)
    kind, d = run_exit(m, g)
    assert kind == "vmmcall", (kind, d)
    return d["rax"]


def test_sum_matches_peeks(gm):
    n = new_space(gm)
    code, data = F + 0x4FF000, F + 0x500000
    mapped(gm, 0, code, n, 0x10000, K4, "rx")
    mapped(gm, 0, data, n, 0x20000, 2 * K4, "r")
    rnd = random.Random(1234)
    words = [rnd.getrandbits(64) for _ in range(128)]
    fill(gm, data, words)
    fill(gm, data + K4 - 8 * 32, [rnd.getrandbits(64) for _ in range(64)])  # across the boundary
    g = new_guest(gm, n)
    load(gm, g, "sum", 0x10000)
    set_reg(gm, g, "rsi", 0x20000)
    set_reg(gm, g, "rcx", 0x1000)
    kind, d = run_exit(gm, g)
    assert kind == "vmmcall"
    page = peek(gm, n, 0x20000, 0x200)
    assert page[:128] == words and d["rax"] == dword_sum(page)
    assert run_exit(gm, g) == ("vmmcall", d)  # not stepped past: the same vmmcall again
    assert skip(gm, g) == d["rip"] + 3
    assert run_exit(gm, g)[0] == "hlt"
    # both pages; then a range across the boundary, not page-aligned
    assert sum_run(gm, g, 0x20000, 0x2000, 0x10000) == dword_sum(peek(gm, n, 0x20000, 0x400))
    got = sum_run(gm, g, 0x20FF4, 0x18, 0x10000)
    seen = dwords(peek(gm, n, 0x20FF0, 4))  # the dwords at 0x20ff0 .. 0x2100c
    assert got == sum(seen[1:7]) & 0xFFFFFFFF
    # a range that runs into a page space N lacks: npf there, retried after the map
    set_reg(gm, g, "rip", 0x10000)
    set_reg(gm, g, "rsi", 0x21000)
    set_reg(gm, g, "rcx", 0x2000)
    for _ in range(2):
        kind, d = run_exit(gm, g)
        assert (kind, d["space"], d["gpa"], d["why"], d["access"]) == \
            ("npf", n, 0x22000, "not-present", "read"), d
    fill(gm, data + 2 * K4, [rnd.getrandbits(64) for _ in range(32)])
    mapped(gm, 0, data + 2 * K4, n, 0x22000, K4, "r")
    kind, d = run_exit(gm, g)
    assert (kind, d["rax"]) == ("vmmcall", dword_sum(peek(gm, n, 0x21000, 0x400)))
    check_ok(gm)


def test_guest_sees_what_lookup_says(gm):
    """Sum over a guest page equals the sum of the frame lookup names, read through
    sigma0; after a remap the same guest, not reloaded, sees the new frame at once."""
    n = new_space(gm)
    mapped(gm, 0, F + 0x600000, n, 0x10000, K4, "rwx")
    a, b = F + 0x601000, F + 0x602000
    fill(gm, a, [0x1000 + i for i in range(32)])
    fill(gm, b, [0x7000000070000 + i for i in range(32)])
    mapped(gm, 0, a, n, 0x40000, K4, "r")
    g = new_guest(gm, n)
    load(gm, g, "sum", 0x10000)
    pa, rights, size = lookup(gm, n, 0x40000)
    assert (pa, rights, size) == (a, "r--", "4K")
    s1 = sum_run(gm, g, 0x40000, K4, 0x10000)
    assert s1 == dword_sum(peek(gm, 0, pa, 512))
    one(gm, f"flush {n} 0x40000 0x1000")
    mapped(gm, 0, b, n, 0x40000, K4, "r")
    pa2 = lookup(gm, n, 0x40000)[0]
    assert pa2 == b
    s2 = sum_run(gm, g, 0x40000, K4, 0x10000)
    assert s2 == dword_sum(peek(gm, 0, pa2, 512)) != s1
    # the same frame through a second GPA (a map of a map)
    s3 = new_space(gm)
    mapped(gm, n, 0x40000, s3, 0x123000, K4, "r")
    mapped(gm, n, 0x40000, n, 0x41000, K4, "r")
    assert lookup(gm, n, 0x41000)[0] == b
    assert sum_run(gm, g, 0x41000, K4, 0x10000) == s2
    check_ok(gm)


def test_long_mode_above_4g(gm):
    n = new_space(gm)
    L, base = 0x10000, F + 0x100000
    mapped(gm, 0, base, n, L, 5 * K4, "rwx")
    g = new_guest(gm, n)
    load(gm, g, "long", L)
    kind, d = run_exit(gm, g)
    assert (kind, d["msr"], d["dir"]) == ("msr", 0xC0000080, "write")
    r = regs(gm, g)
    assert r["rcx"] == 0xC0000080 and r["rax"] == 0x100 and r["cr3"] == L + 0x1000
    assert r["cr4"] & 0x20 and r["efer"] == 0x1000
    assert set_reg(gm, g, "efer", 0x100) == 0x1100
    assert skip(gm, g) == d["rip"] + 2
    big = 0x100000000
    for _ in range(2):
        kind, d = run_exit(gm, g)
        assert (kind, d["space"], d["gpa"], d["why"], d["access"]) == \
            ("npf", n, big, "not-present", "read"), d
    r = regs(gm, g)
    assert r["efer"] & 0x400 and r["cr0"] & (1 << 31)  # LMA, PG: in long mode
    counter = F + 0x110000
    one(gm, f"poke 0 {h(counter)} 0")
    mapped(gm, 0, counter, n, big, K4, "rw")
    kind, d = run_exit(gm, g)
    assert (kind, d["rax"]) == ("vmmcall", 1)
    assert run_exit(gm, g) == ("vmmcall", d)
    vmm_rip = d["rip"]
    for k in (2, 3):
        assert skip(gm, g) == vmm_rip + 3
        assert run_exit(gm, g) == ("vmmcall", {"g": g, "rip": vmm_rip, "rax": k})
    assert peek(gm, n, big) == [3] == peek(gm, 0, counter)
    # its PDPT page goes: the guest's own table walk faults there (a write: the CPU
    # may set accessed bits); the same frame back, and it goes on where it was
    pdpt = L + 0x2000
    frame = lookup(gm, n, pdpt)[0]
    one(gm, f"flush {n} {h(pdpt)} 0x1000")
    skip(gm, g)
    for _ in range(2):
        kind, d = run_exit(gm, g)
        assert (kind, d["space"], d["gpa"], d["why"], d["access"]) == \
            ("npf", n, pdpt, "not-present", "write"), d
    mapped(gm, 0, frame, n, pdpt, K4, "rw")
    assert run_exit(gm, g) == ("vmmcall", {"g": g, "rip": vmm_rip, "rax": 4})
    # the counter read-only: its write faults, the value stays
    assert one(gm, f"protect {n} {h(big)} 0x1000 r").endswith("0x1 pages changed")
    skip(gm, g)
    for _ in range(2):
        kind, d = run_exit(gm, g)
        assert (kind, d["space"], d["gpa"], d["why"], d["access"]) == \
            ("npf", n, big, "protection", "write"), d
    assert peek(gm, 0, counter) == [4]
    assert regs(gm, g)["rax"] == 5  # it added 1 and could not store it
    counts = guest_list(gm)[g][4]
    assert counts == {"hlt": 0, "vmmcall": 5, "npf": 6, "io": 0, "msr": 1, "exception": 0,
                      "shutdown": 0, "timer": 0}
    check_ok(gm)


def test_2m_nested_mapping(gm):
    n = new_space(gm)
    src = 0x10000000
    line = one(gm, f"map 0 {h(src)} {n} 0x200000 0x200000 rwx")
    assert line == f"map 0:{h(src)} -> {n}:0x200000: 0x200 pages, rights rwx"
    assert lookup(gm, n, 0x200000) == (src, "rwx", "2M")
    one(gm, f"poke 0 {h(src + 0x101000)} 0")
    g1 = new_guest(gm, n)
    g2 = new_guest(gm, n)
    load(gm, g1, "hello", 0x200000)
    load(gm, g2, "loop", 0x300000)
    text, kind, d = run(gm, g1)
    assert (text, kind, d["rip"]) == (["hello from a memmon guest"], "hlt", 0x200017)
    assert run_exit(gm, g2, 20)[0] == "timer"
    c = peek(gm, n, 0x301000)[0]
    assert c > 0 and peek(gm, 0, src + 0x101000) == [c]
    assert lookup(gm, n, 0x301000)[2] == "2M"
    # the 2 MiB page goes: both guests fault at the page of their rip
    one(gm, f"unmap 0 {h(src)} 2M")
    assert lookup(gm, n, 0x200000) is None
    kind, d = run_exit(gm, g1)
    assert (kind, d["gpa"], d["why"], d["access"]) == ("npf", 0x200000, "not-present", "exec")
    kind, d = run_exit(gm, g2)
    assert (kind, d["gpa"], d["why"], d["access"]) == ("npf", 0x300000, "not-present", "exec")
    mapped(gm, 0, src, n, 0x200000, "2M", "rwx")
    assert run_exit(gm, g2, 20)[0] == "timer"
    assert peek(gm, 0, src + 0x101000)[0] > c
    check_ok(gm)


# ---- guests go with their space ------------------------------------------------------------


def test_space_del_and_reset_delete_guests(gm):
    n1, g1 = hello_guest(gm, 0x10000, F)
    n2, g2 = hello_guest(gm, 0x10000, F + K4)
    g3 = new_guest(gm, n1)
    assert run(gm, g1)[1] == "hlt"
    assert sorted(guest_list(gm)) == [g1, g2, g3]
    assert one(gm, f"space del {n1}").startswith(f"space {n1} deleted")
    got = guest_list(gm)
    assert list(got) == [g2] and got[g2][0] == n2
    for line in (f"guest run {g1}", f"guest regs {g1}", f"guest skip {g1}", f"guest del {g3}",
                 f"guest load {g1} hello 0x10000", f"guest new {n1}"):
        fails(gm, line)
    text, kind, d = run(gm, g2)  # the other space's guest is untouched
    assert (text, kind) == (["hello from a memmon guest"], "hlt")
    # numbers come back: the lowest free first, with no history
    n3 = new_space(gm)
    assert new_guest(gm, n3) == g1
    assert guest_list(gm)[g1] == (n3, "-", "empty", 0, dict.fromkeys(STOPS, 0))
    check_ok(gm)
    # reset deletes every guest
    assert one(gm, "reset").startswith("reset:")
    assert gm.cmd("guest list") == ["guests 0x0"]
    for g in (g1, g2, g3):
        fails(gm, f"guest run {g}")
    n, g = hello_guest(gm, 0x10000, F)
    assert g == 1
    assert run(gm, g)[0] == ["hello from a memmon guest"]
    assert guest_list(gm)[g][4]["hlt"] == 1
    check_ok(gm)


# ---- a hostile guest --------------------------------------------------------------------------


def escape_expected(targets, mapped_gpas):
    """escape's exits in order, up to its ud2: (kind, fields that must match, the length
    of the instruction that `guest skip` steps over)."""
    want = []
    for reg, t in zip(("ebx", "ecx", "edx", "esi", "edi", "ebp"), targets):
        if t and t & ~(K4 - 1) not in mapped_gpas:  # mov dword [reg], imm32 ([ebp]: +disp8)
            want.append(("npf", {"gpa": t & ~(K4 - 1), "why": "not-present", "access": "write"},
                         7 if reg == "ebp" else 6))
    for k in range(1024):
        if k * G1 not in mapped_gpas:  # mov dword [edi], imm32
            want.append(("npf", {"gpa": k * G1, "why": "not-present", "access": "write"}, 6))
    want.append(("exception", {"vector": 14}, 6))
    want += [("io", {"port": p, "dir": d}, n)  # out imm8, al; out dx, al; out dx, ax; in ax, dx
             for p, d, n in ((0xF4, "out", 2), (0x3F8, "out", 1), (0x64, "out", 2),
                             (0x604, "out", 2), (0x604, "in", 2))]
    want += [("msr", {"msr": x, "dir": "write"}, 2) for x in (0xC0000080, 0xC0000082, 0x1B)]
    want += [("hlt", {}, 1), ("exception", {"vector": 3}, 1),  # int3
             ("exception", {"vector": 13}, 2),  # mov ds, ax
             ("exception", {"vector": 6}, None)]  # ud2: run, not skip, from here
    return want


def test_escape_stays_inside(gm):
    image_before = image_sum(gm)
    image = int(re.search(rf"image at {HEX}, {HEX} bytes", gm.banner)[1], 16)
    table = int(re.search(rf"frame table {HEX} pages at {HEX}", "\n".join(gm.cmd("mem")))[2], 16)
    assert image < 1 << 32 and table < 1 << 32
    # another space, with a page that holds a known value
    other = new_space(gm)
    mapped(gm, 0, F + 0x800000, other, 0, K4, "rw")
    one(gm, f"poke {other} 0 0x1122334455667788")
    victim = lookup(gm, other, 0)[0]
    walk = gm.cmd(f"pt {other} 0")
    other_pt = int(re.search(rf"\n  pt +{HEX} \[", "\n" + "\n".join(walk))[1], 16)
    # the guest's space: escape's three pages, a bait page and a page at 1 GiB
    n = new_space(gm)
    L, bait = 0x10000, 0x20000
    mapped(gm, 0, F + 0x700000, n, L, 3 * K4, "rwx")
    for gpa, frame in ((bait, F + 0x703000), (G1, F + 0x704000)):
        one(gm, f"poke 0 {h(frame)} 0")
        mapped(gm, 0, frame, n, gpa, K4, "rw")
    root = int(re.search(rf"root {HEX}", gm.cmd(f"pt {n} {h(L)}")[0])[1], 16)
    # ebx..ebp: memmon's image, its frame table, space N's own top-level table (the
    # nested one), the other space's page and its page table, and the bait (mapped)
    targets = [image, table, root, victim, other_pt, bait + 0x100]
    assert all(0 < t < 1 << 32 for t in targets)
    pt_n, pt_other = gm.cmd(f"pt {n}"), gm.cmd(f"pt {other}")
    g = new_guest(gm, n)
    load(gm, g, "escape", L)
    for reg, t in zip(("rbx", "rcx", "rdx", "rsi", "rdi", "rbp"), targets):
        set_reg(gm, g, reg, t)

    want = escape_expected(targets, {L, L + K4, L + 2 * K4, bait, G1})
    assert len(want) == 5 + 1023 + 13
    lines = [f"guest run {g}", f"guest skip {g}"] * len(want)
    outs = gm.batch(lines[:-1], timeout=300)  # no skip after the ud2
    probe_rips = set()
    for i, (kind, fields, length) in enumerate(want):
        text, got, d = run_output(outs[2 * i], g)
        assert text == [], (i, outs[2 * i])
        assert got == kind and {k: d[k] for k in fields} == fields, (i, want[i], outs[2 * i])
        if kind == "npf":
            assert d["space"] == n, outs[2 * i]
            if i >= 5:
                probe_rips.add(d["rip"])
        if 2 * i + 1 < len(outs):
            mt = re.fullmatch(rf"guest {g} rip {HEX}", " ".join(outs[2 * i + 1]))
            assert mt and int(mt[1], 16) == d["rip"] + length, (want[i], outs[2 * i: 2 * i + 2])
    assert len(probe_rips) == 1  # one instruction wrote every GiB
    # the ud2 with an empty IDT: run delivers it, a #GP, another, then the double
    # fault cannot be delivered either: shutdown
    assert [run_exit(gm, g)[0] for _ in range(3)] == ["exception", "exception", "shutdown"]
    fails(gm, f"guest run {g}", "shut down")
    fails(gm, f"guest skip {g}", "shut down")

    # it reached nothing outside its space, and memmon and QEMU are alive
    assert gm.cmd("echo") == ["echo on"]
    assert gm.proc.poll() is None
    check_ok(gm)
    assert image_sum(gm) == image_before
    assert peek(gm, other, 0) == [0x1122334455667788] == peek(gm, 0, victim)
    assert gm.cmd(f"pt {n}") == pt_n and gm.cmd(f"pt {other}") == pt_other
    assert gm.cmd(f"pt {other} 0") == walk
    # where space N does map the address, the guest's writes land (and only there)
    assert peek(gm, n, bait + 0x100) == [POISON]
    assert peek(gm, n, bait, 0x200).count(0) == 0x1FF
    assert peek(gm, n, G1) == [POISON] and peek(gm, 0, F + 0x704000) == [POISON]
    lst = guest_list(gm)[g]
    want_counts = {"hlt": 1, "vmmcall": 0, "npf": 5 + 1023, "io": 5, "msr": 3, "exception": 6,
                   "shutdown": 1, "timer": 0}
    assert lst == (n, "escape", "shutdown", sum(want_counts.values()), want_counts)
    # loading it again starts it again
    load(gm, g, "hello", L)
    assert run(gm, g)[0] == ["hello from a memmon guest"]


# ---- other machines ----------------------------------------------------------------------------


def test_1g_nested_mapping(fresh):
    """A 4 GiB machine: sigma0 maps the GiB at 4 GiB whole, as one 1G page."""
    m = fresh(mem="4G")
    src = 0x100000000
    assert lookup(m, 0, src) == (src, "rwx", "1G")
    n = new_space(m)
    line = one(m, f"map 0 {h(src)} {n} {h(G1)} 1G rwx")
    assert line == f"map 0:{h(src)} -> {n}:{h(G1)}: 0x40000 pages, rights rwx"
    assert lookup(m, n, G1) == (src, "rwx", "1G")
    assert lookup(m, n, 0x7FE01000) == (src + 0x3FE01000, "rwx", "1G")
    g1 = new_guest(m, n)
    load(m, g1, "hello", G1)
    text, kind, d = run(m, g1)
    assert (text, kind, d["rip"]) == (["hello from a memmon guest"], "hlt", G1 + 0x17)
    # loop near the GiB's end, its counter read back through sigma0
    one(m, f"poke 0 {h(src + 0x3FE01000)} 0")
    g2 = new_guest(m, n)
    load(m, g2, "loop", 0x7FE00000)
    assert run_exit(m, g2, 20)[0] == "timer"
    c = peek(m, n, 0x7FE01000)[0]
    assert c > 0 and peek(m, 0, src + 0x3FE01000) == [c]
    # long inside the 1G page, its counter at 4 GiB on a 4K page
    g3 = new_guest(m, n)
    load(m, g3, "long", G1 + 0x100000)
    assert run_exit(m, g3)[0] == "msr"
    set_reg(m, g3, "efer", 0x100)
    skip(m, g3)
    kind, d = run_exit(m, g3)
    assert (kind, d["gpa"], d["why"]) == ("npf", 0x100000000, "not-present")
    one(m, f"poke 0 {h(F)} 0x41")
    mapped(m, 0, F, n, 0x100000000, K4, "rw")
    kind, d = run_exit(m, g3)
    assert (kind, d["rax"]) == ("vmmcall", 0x42) and peek(m, 0, F) == [0x42]
    # the GiB goes: the next fetch faults
    one(m, f"unmap 0 {h(src)} 1G")
    kind, d = run_exit(m, g1)
    assert (kind, d["gpa"], d["why"], d["access"]) == ("npf", G1, "not-present", "exec")
    check_ok(m)


def test_no_svm(fresh):
    """A CPU without SVM: guest new says so; spaces work as ever. QEMU takes the last
    -cpu, so this one overrides scripts/qemu.sh's."""
    m = fresh(extra=["-cpu", "qemu64,+pdpe1gb"])
    assert m.cmd("guest new 1") == [NOSVM]
    n = new_space(m)
    assert m.cmd(f"guest new {n}") == [NOSVM]
    assert m.cmd("guest new 0") == [NOSVM]
    mapped(m, 0, F, n, 0x10000, K4, "rw")
    one(m, f"poke {n} 0x10000 0x1234")
    assert peek(m, 0, F) == [0x1234]
    assert lookup(m, n, 0x10000) == (F, "rw-", "4K")
    assert m.cmd("guest list") == ["guests 0x0"]
    assert len(m.cmd("guest progs")) == 5
    fails(m, "guest run 1")
    check_ok(m)
