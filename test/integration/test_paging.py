"""memmon on its own page tables: `pt` and `walk` against QEMU's own walker."""

import random
import re

from memmon_qemu import parse_pt as client_parse_pt
from test_console import NOT_RAM, assert_alive, parse_memmap, single_error
from test_frames import parse_mem

HEX = r"0x([0-9a-f]+)"
RUN = re.compile(rf"{HEX}-{HEX} -> {HEX} (r[w-][x-]) (4K|2M|1G)")
SUMMARY = re.compile(rf"pt monitor: runs {HEX} pages {HEX} ptpages {HEX}")
SIZES = {"4K": 1 << 12, "2M": 1 << 21, "1G": 1 << 30}
RUNTIME = 1 << 63  # the descriptor attribute: the firmware's runtime needs it mapped
# RAM pages memmon leaves unmapped: page 0, a guard below each of CPU 0's 3 stacks, and
# 3 guards for each other CPU's stacks
def pf_pages(ncpus):
    return 4 + 3 * (ncpus - 1)


def ncpus(mon):
    return len([line for line in mon.cmd("cpu") if line.startswith("cpu ")])
RSV_BASE = 0xFFFFFF8000000000  # the reserved pieces (plat_reserved): PML4 slot 511
# The trampoline's pieces, as efi/platform_x86.c lays them out: code, data,
# (a guard page), stack; each in frames memmon keeps.
RSV_PIECES = [(RSV_BASE, RSV_BASE + 0x1000, "r-x"), (RSV_BASE + 0x1000, RSV_BASE + 0x2000, "r--"),
              (RSV_BASE + 0x3000, RSV_BASE + 0x5000, "rw-")]


def parse_pt(lines):
    """pt's runs as (start, end, pa, rights, size) and its summary numbers."""
    assert SUMMARY.fullmatch(lines[-1]), lines[-1]
    dump = client_parse_pt(lines)
    return [tuple(r) for r in dump.runs], [dump.count, dump.pages, dump.ptpages]


def check_runs(runs, summary):
    """Runs are sorted, disjoint, whole entries, maximal; the summary adds up."""
    assert summary[0] == len(runs)
    assert summary[1] == sum((b - a) >> 12 for a, b, *_ in runs)
    for (a, b, pa, rights, size), nxt in zip(runs, runs[1:] + [None]):
        s = SIZES[size]
        assert a < b and a % s == 0 and b % s == 0 and pa % s == 0, (a, b, pa, size)
        if nxt:
            assert b <= nxt[0], "runs overlap or are unsorted"
            joinable = b == nxt[0] and pa + (b - a) == nxt[2] and (rights, size) == nxt[3:]
            assert not joinable, ("runs not maximal", (a, b), nxt)


def leaves(runs):
    """Every leaf entry the runs stand for: va -> (pa, rights, size)."""
    out = {}
    for a, b, pa, rights, size in runs:
        s = SIZES[size]
        for va in range(a, b, s):
            out[va] = (pa + va - a, rights, size)
    return out


TLB_LINE = re.compile(r"([0-9a-f]+): ([0-9a-f]+) ([X-])([G-])([P-])([D-])([A-])([C-])([T-])([U-])([W-])")


def qemu_leaves(mon):
    """QEMU's `info tlb`: one line per leaf of the live tables, read by QEMU's walker."""
    out = {}
    for line in mon.hmp("info tlb").splitlines():
        m = TLB_LINE.fullmatch(line.strip())
        assert m, line
        va = int(m[1], 16)  # the upper half as pt prints it: 64 bits, sign-extended
        rights = "r" + ("w" if m[11] == "W" else "-") + ("-" if m[3] == "X" else "x")
        assert m[10] == "-", f"user page in memmon's own map: {line}"
        out[va] = (int(m[2], 16), rights, m[5] == "P")
    return out


def qemu_ranges(mon):
    """QEMU's `info mem`: ranges of contiguous virtual addresses with one protection."""
    out = []
    for line in mon.hmp("info mem").splitlines():
        m = re.fullmatch(r"([0-9a-f]+)-([0-9a-f]+) ([0-9a-f]+) ([u-])([r-])([w-])", line.strip())
        assert m, line
        out.append((int(m[1], 16), int(m[2], 16), m[4] + m[5] + m[6]))
    return out


def ranges_from_runs(runs):
    """What `info mem` should print for these runs: virtually contiguous runs
    with the same writability joined (it shows neither frames nor no-execute)."""
    out = []
    for a, b, _, rights, _ in runs:
        prot = "-r" + rights[1]
        if out and out[-1][1] == a and out[-1][2] == prot:
            out[-1] = (out[-1][0], b, prot)
        else:
            out.append((a, b, prot))
    return out


def check_against_qemu(mon, runs):
    """QEMU's own walker finds exactly the leaves, rights and ranges that pt dumps."""
    ours = leaves(runs)
    theirs = qemu_leaves(mon)
    assert len(theirs) == len(ours)
    for va, (pa, rights, size) in ours.items():
        assert theirs.get(va) == (pa, rights, size != "4K"), (hex(va), ours[va], theirs.get(va))
    assert qemu_ranges(mon) == ranges_from_runs(runs)


def gva2gpa(mon, va):
    out = mon.hmp(f"gva2gpa {va:#x}")
    if out == "Unmapped":
        return None
    m = re.fullmatch(r"gpa: 0x([0-9a-f]+)", out)
    assert m, out
    return int(m[1], 16)


def lookup(runs, va):
    for a, b, pa, rights, size in runs:
        if a <= va < b:
            return pa + va - a
    return None


def check_samples(mon, runs, n, seed):
    """gva2gpa agrees with the runs at both ends and inside every run, in the
    gaps between them, and at random addresses."""
    rng = random.Random(seed)
    probes = {0, 0x1000, 1 << 46, (1 << 47) - 0x1000}
    for a, b, *_ in runs:
        probes |= {a, b - 8, b, a - 8, rng.randrange(a, b)}
    top = max(b for a, b, *_ in runs if b <= 1 << 47)
    probes |= {rng.randrange(0, top) for _ in range(n)}
    for va in sorted(p for p in probes if 0 <= p < 1 << 47):
        assert gva2gpa(mon, va) == lookup(runs, va), hex(va)


APIC_BASE, APIC_PAGES = 0xFEE00000, 1  # the local APIC at its reset address


def ram_pages(regions):
    """RAM pages in the firmware's map (memmap's descriptors are disjoint)."""
    return sum((end - start) >> 12 for start, end, kind, *_ in regions if kind not in NOT_RAM)


def runtime_mmio(mon, regions):
    """Pages of MMIO that the firmware's runtime needs mapped."""
    pages = 0
    for start, end, kind, *_ in regions:
        if kind in NOT_RAM:
            line = mon.cmd(f"memmap {start:#x}")[0]
            attr = int(re.search(r"attr 0x([0-9a-f]+)", line)[1], 16)
            if attr & RUNTIME:
                pages += (end - start) >> 12
    return pages


def image_span(banner):
    m = re.search(rf"image at {HEX}, {HEX} bytes", banner)
    assert m, banner
    return int(m[1], 16), int(m[2], 16)


def check_own_map(mon, runs, summary):
    """The map memmon runs on: all RAM (and runtime MMIO) identity-mapped but
    page 0 and the stack guards; write xor execute; its text executable and
    read-only; the table pages counted as the allocator counts them."""
    regions, _ = parse_memmap(mon.cmd("memmap"))
    rsv = [r for r in runs if r[0] >= RSV_BASE]
    runs = [r for r in runs if r[0] < RSV_BASE]
    assert [(a, b, rights) for a, b, _, rights, _ in rsv] == RSV_PIECES
    for _, _, pa, _, _ in rsv:
        assert mon.cmd(f"mem {pa:#x}")[0].startswith(f"{pa:#x}: monitor "), hex(pa)
    assert all(a == pa for a, _, pa, _, _ in runs), "not an identity map"
    rsv_pages = sum((b - a) >> 12 for a, b, _ in RSV_PIECES)
    # The local APIC's page, which the guests' time slice programs: mapped
    # read-write, uncached (pt does not show caching), outside RAM.
    apic = [r for r in runs if r[0] <= APIC_BASE < r[1]]
    assert apic and apic[0][2] + APIC_BASE - apic[0][0] == APIC_BASE and apic[0][3] == "rw-", apic
    assert summary[1] == (ram_pages(regions) - pf_pages(ncpus(mon)) + runtime_mmio(mon, regions)
                          + rsv_pages + APIC_PAGES)
    assert lookup(runs, 0) is None
    assert all(rights != "rwx" for _, _, _, rights, _ in runs), "a page both writable and executable"
    base, size = image_span(mon.banner)
    text = [(a, b) for a, b, _, rights, _ in runs if rights == "r-x" and base <= a < base + size]
    assert text, "no executable run inside the image"
    inside = [rights for a, b, _, rights, _ in runs if a < base + size and b > base]
    assert "r--" in inside and "rw-" in inside, inside
    # Outside the image, only the firmware's runtime code may execute, and the one page
    # below 1 MiB the other CPUs start from.
    runtime_code = [(s, e) for s, e, kind, *_ in regions if kind == "runtime-code"]
    start = [(a, b) for a, b, _, rights, _ in runs if rights == "r-x" and b <= 0xA0000]
    assert len(start) == (ncpus(mon) > 1) and all(b - a == 0x1000 for a, b in start), start
    for a, b, _, rights, _ in runs:
        if rights == "r-x" and not base <= a < base + size and (a, b) not in start:
            assert any(s <= a and b <= e for s, e in runtime_code), (hex(a), hex(b))
    # the allocator's table pages: memmon's own, and every space's
    mem = parse_mem(mon.cmd("mem"))
    spaces = [int(m[1], 16) for line in mon.cmd("space list")
              if (m := re.fullmatch(r"space \d+(?: \(sigma0\))? pages 0x[0-9a-f]+ ptpages (0x[0-9a-f]+)", line))]
    assert spaces, "space list shows no space"
    assert mem["owners"]["ptables"] == summary[2] + sum(spaces)
    return regions


# memmon runs on the tables pt dumps: CR3 holds their root, and QEMU's own
# walker (info tlb, info mem, gva2gpa) translates exactly as pt says.
def test_pt_matches_qemu_walker(mon):
    runs, summary = parse_pt(mon.cmd("pt"))
    check_runs(runs, summary)
    walk = mon.cmd("walk 0x200000")
    root = int(re.search(rf"root {HEX}", walk[0])[1], 16)
    cr3 = int(re.search(r"CR3=([0-9a-f]+)", mon.hmp("info registers"))[1], 16)
    assert cr3 & ~0xFFF == root
    check_own_map(mon, runs, summary)
    check_against_qemu(mon, runs)
    check_samples(mon, runs, 200, seed=1)


# walk shows each level's index and raw entry, down to the leaf or the hole,
# and ends with the translation pt implies.
def test_walk(mon):
    runs, _ = parse_pt(mon.cmd("pt"))
    for va in (0x0, 0x1000, 0x1234, 0x200000, 0x7FFFFFFFF000, runs[-1][0] + 0x10):
        out = mon.cmd(f"walk {va:#x}")
        assert out[0].startswith(f"walk {va:#x} in memmon's tables, root 0x")
        steps = out[1:-1]
        assert 1 <= len(steps) <= 4
        for k, (line, name) in enumerate(zip(steps, ("pml4", "pdpt", "pd", "pt"))):
            m = re.fullmatch(rf"  {name} +{HEX} \[{HEX}\] = 0x(0|[1-9a-f][0-9a-f]*) (.*)", line)
            assert m, line
            assert int(m[2], 16) == (va >> (39 - 9 * k)) & 511
            raw, what = int(m[3], 16), m[4]
            if k + 1 < len(steps):
                assert what.startswith("table ") and int(what.split()[1].rstrip(","), 16) == raw & 0xFFFFFFFFFF000
            else:
                assert what == "absent" and raw == 0 or what.startswith("leaf ")
        pa = lookup(runs, va)
        if pa is None:
            assert out[-1] == f"{va:#x} -> none"
        else:
            assert re.fullmatch(rf"{va:#x} -> {pa:#x} r[w-][x-] (4K|2M|1G)", out[-1]), out[-1]
        assert gva2gpa(mon, va) == pa
    for bad in ("0x800000000000", "0xffff7fffffffffff", "junk", "0x1" + "0" * 20):
        single_error(mon.cmd(f"walk {bad}"))
    single_error(mon.cmd("walk"))
    single_error(mon.cmd("pt 1"))
    assert_alive(mon)


# The largest pages: at 256 GiB memmon maps RAM with 1 GiB pages, its tables
# take under 0.01% of RAM, and QEMU's walker agrees.
def test_own_map_256g(fresh):
    m = fresh(mem="256G")
    runs, summary = parse_pt(m.cmd("pt"))
    check_runs(runs, summary)
    assert sum(b - a for a, b, *_, size in runs if size == "1G") >= 250 << 30
    assert summary[2] * 4096 * 10000 < 256 << 30, summary
    check_own_map(m, runs, summary)
    check_against_qemu(m, runs)
    check_samples(m, runs, 100, seed=2)


# Without pdpe1gb the map takes 2 MiB pages at most, and still works.
def test_own_map_without_1g_pages(fresh):
    m = fresh(mem="8G", extra=("-cpu", "qemu64,-pdpe1gb,+svm,+npt"))
    runs, summary = parse_pt(m.cmd("pt"))
    check_runs(runs, summary)
    assert {size for *_, size in runs} == {"4K", "2M"}
    check_own_map(m, runs, summary)
    check_against_qemu(m, runs)
    assert_alive(m)


def fault(mon, kind):
    """Run `trap KIND`: the #PF's error code and CR2; memmon must survive it."""
    out = mon.cmd(f"trap {kind}")
    text = "\n".join(out)
    m = re.search(rf"exception #PF vector 14 error {HEX} rip {HEX} cr2 {HEX}", text)
    assert m, text
    assert out[-1] == "error: trap: aborted by CPU exception #PF (vector 14)", out[-1]
    return int(m[1], 16), int(m[2], 16), int(m[3], 16)


def run_at(runs, va):
    return next((r for r in runs if r[0] <= va < r[1]), None)


# The protections are live: memmon's code is read-only even to memmon
# (CR0.WP), its data is not executable (EFER.NXE), page 0 and the guard
# below each stack are not mapped, and a runaway recursion stops at the
# guard page, with the monitor carrying on.
def test_protections_fault(mon):
    runs, _ = parse_pt(mon.cmd("pt"))
    base, size = image_span(mon.banner)
    err, rip, cr2 = fault(mon, "wp")  # present, write
    assert err & 0x3 == 0x3 and not err & 0x10, hex(err)
    assert base <= cr2 < base + size and run_at(runs, cr2)[3] == "r-x"
    err, rip, cr2 = fault(mon, "nx")  # present, instruction fetch
    assert err & 0x11 == 0x11, hex(err)
    assert rip == cr2 and base <= cr2 < base + size and run_at(runs, cr2)[3] == "rw-"
    err, _, cr2 = fault(mon, "null")  # not present, read
    assert err & 0x3 == 0 and cr2 == 0
    err, _, guard = fault(mon, "guard")
    assert err & 0x1 == 0 and guard % 4096 == 0 and run_at(runs, guard) is None
    assert run_at(runs, guard - 4096) and run_at(runs, guard + 4096), "a guard page is one hole"
    for _ in range(3):  # the main stack overflows into its guard page, every time
        err, _, cr2 = fault(mon, "overflow")
        assert err & 0x3 == 0x2 and cr2 >> 12 == guard >> 12, (hex(err), hex(cr2), hex(guard))
    assert_alive(mon)
    runs_after, _ = parse_pt(mon.cmd("pt"))
    assert runs_after == runs
