"""The frame allocator over the serial line: mem, alloc, free on a real takeover."""

import re

from memmon_qemu import parse_mem as client_parse_mem
from test_console import NOT_RAM, RAM_1G_PAGES, assert_alive, check_memmap_totals, parse_memmap, single_error

OWNERS = ("monitor", "ptables", "mdb", "clients", "console")
HEX = r"0x([0-9a-f]+)"


def parse_mem(lines):
    """mem's six lines as a dict of numbers (the client's parse_mem)."""
    assert len(lines) == 6, lines
    r = client_parse_mem(lines)
    assert "space" in r, lines[5]
    # the pool is the allocator's free frames and the frames memmon's
    # tables, database and console took; every client frame is reachable
    # or orphaned
    sp = r["space"]
    assert sp["pool_free"] == r["free"]
    assert sp["pool_used"] == sum(r["owners"][o] for o in ("ptables", "mdb", "console"))
    assert sp["clients"] == r["owners"]["clients"] == sp["reachable"] + sp["orphaned"]
    return r


def check_mem_agrees_with_memmap(mon, mem_pages):
    """mem's total is exactly what memmap says memmon manages: the firmware's
    reservations are outside it, the rest is free or used by an owner."""
    memmap = mon.cmd("memmap")
    s, fw_ram = check_memmap_totals(memmap, mem_pages)
    m = parse_mem(mon.cmd("mem"))
    assert m["total"] == s["reclaimed"] + s["kept"]
    assert m["firmware"] == fw_ram
    assert m["free"] + m["used"] == m["total"]
    assert sum(m["owners"].values()) == m["used"]
    # memmon uses what memmap says it kept, plus its frame table, plus
    # check's bitmap: a bit per frame below the top of RAM (32 KiB a GiB)
    bitmap = m["owners"]["monitor"] - s["kept"] - m["table_pages"]
    top = max(r[1] for r in parse_memmap(memmap)[0] if r[2] not in NOT_RAM) // 4096
    assert -(-m["total"] // 32768) <= bitmap <= -(-top // 32768), (bitmap, m["total"], top)
    # the pages of the table memmon holds describe every frame it manages
    assert m["table_pages"] * 256 >= m["total"]
    # and boot wrote only a few of its pages (lazy metadata)
    assert 0 < m["touched"] < 256, m
    # what is free is the pool (sigma0 holds the rest), set aside first as
    # the largest blocks: a 1 GiB guest's 64 MiB pool holds a 32 MiB block
    assert m["largest"] >= 1 << 13 and m["largest_at"] % (m["largest"] * 4096) == 0
    return m


def alloc(mon, count=None):
    line = "alloc" if count is None else f"alloc {count:#x}"
    out = mon.cmd(line)
    m = re.fullmatch(rf"alloc {HEX} count {HEX}", out[0]) if len(out) == 1 else None
    assert m, out
    return int(m[1], 16)


def free(mon, pa, count=None):
    line = f"free {pa:#x}" + ("" if count is None else f" {count:#x}")
    out = mon.cmd(line)
    assert out == [f"free {pa:#x} count {count or 1:#x}"], out


def mem_of(mon, pa):
    out = mon.cmd(f"mem {pa:#x}")
    assert len(out) == 1, out
    return out[0]


# At 1 GiB, mem's totals are memmap's less the firmware's reservations.
def test_mem_totals_at_1g(mon):
    check_mem_agrees_with_memmap(mon, RAM_1G_PAGES)


# The same at 64 GiB, most of it above 4 GiB (a boot of its own).
def test_mem_totals_at_64g(fresh):
    m = check_mem_agrees_with_memmap(fresh(mem="64G"), 64 * RAM_1G_PAGES)
    # nearly all of it is sigma0's or the pool's (1/16)
    assert m["free"] + m["owners"]["clients"] > 63 * RAM_1G_PAGES
    assert m["free"] >= 64 * RAM_1G_PAGES // 16 - 64


# alloc hands out frames the allocator then reports as the console's; free
# takes them back, and the counts return to where they were.
def test_alloc_and_free(mon):
    before = parse_mem(mon.cmd("mem"))
    pa = alloc(mon)
    assert pa % 4096 == 0
    assert mem_of(mon, pa) == f"{pa:#x}: console block {pa:#x} order 0x0 run {pa:#x} frames 0x1"
    during = parse_mem(mon.cmd("mem"))
    assert during["free"] == before["free"] - 1
    assert during["owners"]["console"] == before["owners"]["console"] + 1
    free(mon, pa)
    assert mem_of(mon, pa).startswith(f"{pa:#x}: free ")
    after = parse_mem(mon.cmd("mem"))
    assert (after["free"], after["used"], after["owners"]) == (before["free"], before["used"], before["owners"])


# A run of 3 is aligned to 4; only its first frame and its true length free it.
def test_runs(mon):
    before = parse_mem(mon.cmd("mem"))
    pa = alloc(mon, 3)
    assert pa % (4 * 4096) == 0
    assert mem_of(mon, pa + 4096).startswith(f"{pa + 4096:#x}: console block {pa:#x} order 0x1 run {pa:#x} frames 0x3")
    assert mem_of(mon, pa + 2 * 4096).startswith(f"{pa + 2 * 4096:#x}: console block {pa + 2 * 4096:#x} order 0x0 run {pa:#x} frames 0x3")
    mid = parse_mem(mon.cmd("mem"))
    for bad in [f"free {pa:#x} 2", f"free {pa:#x} 4", f"free {pa + 4096:#x} 2", f"free {pa + 8192:#x}"]:
        single_error(mon.cmd(bad))
        assert parse_mem(mon.cmd("mem")) == mid, bad
    free(mon, pa, 3)
    big = alloc(mon, 0x200)  # 2 MiB, aligned to 2 MiB
    assert big % (0x200 * 4096) == 0
    free(mon, big, 0x200)
    assert parse_mem(mon.cmd("mem"))["free"] == before["free"]


# Double frees, foreign frees and bad arguments are refused with one error
# line each, and change nothing.
def test_refusals_change_nothing(mon):
    pa = alloc(mon)
    free(mon, pa)
    ref = parse_mem(mon.cmd("mem"))
    monitor_frame = 0  # frame 0 is memmon's: its address is the null pointer
    assert mem_of(mon, 0).startswith("0x0: monitor ")
    cases = {
        f"free {pa:#x}": "double free",
        f"free {monitor_frame:#x}": "not the first frame of an allocated run",
        f"free {ref['table_at']:#x}": "not the first frame of an allocated run",
        f"free {pa + 1:#x}": "not page-aligned",
        "free 0x8000000000": "not RAM",
        "free 0xb0000000": "not RAM",
        "free 0x10000000000000": "52-bit",
        "free 0x10000000000000000": "error: free",
        "free": "missing argument",
        "free 0x1000 0": "count must be",
        "free 0x1000 0x80000001": "count must be",
        "free zz": "error: free",
        "alloc 0": "count must be",
        "alloc 0x80000001": "count must be",
        "alloc 0xffffffffffffffff": "count must be",
        "alloc 0x80000000": "no free aligned block",
        f"alloc {ref['largest'] * 2:#x}": "no free aligned block",
        "alloc 1 2": "error:",
        "alloc -1": "error: alloc",
        "mem zz": "error: mem",
    }
    for line, why in cases.items():
        err = single_error(mon.cmd(line))
        assert why in err, (line, err)
    assert parse_mem(mon.cmd("mem")) == ref


# A frame the firmware keeps (ACPI, NVS, runtime) is never the allocator's.
def test_firmware_frames_are_not_freed(mon):
    regions = [line.split() for line in mon.cmd("memmap")[:-2]]
    fw = next(r for r in regions if r[1] in ("acpi-nvs", "acpi-reclaim", "runtime-data"))
    start = int(fw[0].split("-")[0], 16)
    assert mem_of(mon, start).startswith(f"{start:#x}: firmware ")
    assert "not RAM" in single_error(mon.cmd(f"free {start:#x}"))


# Every free frame, reclaimed boot-services memory included, can be taken and
# filled with junk (debug build, runs of up to 2 MiB) without disturbing
# memmon; all of it comes back.
def test_take_every_free_frame(fresh):
    mon = fresh(mem="512M")
    before = parse_mem(mon.cmd("mem"))
    runs = []
    while True:
        m = parse_mem(mon.cmd("mem"))
        if m["free"] == 0:
            break
        count = min(m["largest"], 512)  # runs of up to 2 MiB are junk-filled
        runs.append((alloc(mon, count), count))
    assert len(runs) < 1000
    assert "no free aligned block" in single_error(mon.cmd("alloc"))
    full = parse_mem(mon.cmd("mem"))
    assert full["owners"]["console"] == before["free"] and full["largest"] == 0
    # memmon still works: commands, the fault path, the memory map
    assert_alive(mon)
    out = mon.cmd("trap gp")
    assert out[-1] == "error: trap: aborted by CPU exception #GP (vector 13)", out
    assert_alive(mon)
    check_memmap_totals(mon.cmd("memmap"), RAM_1G_PAGES // 2)
    for pa, count in reversed(runs):
        free(mon, pa, count)
    after = parse_mem(mon.cmd("mem"))
    assert after["free"] == before["free"] and after["largest"] == before["largest"]
