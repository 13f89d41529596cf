"""CPUs (SPEC section 4) over the serial line of a memmon booted in QEMU.

The shared memmon (conftest's `mon`) runs with qemu.sh's default of 4 CPUs;
one more boot with `-smp 1` checks that everything still works on one CPU.
Guests on other CPUs run the built-in `loop`, which adds 1 to the dword at
the start of the page after its code, forever: a counter the tests peek
through sigma0 (v == r) while the guest runs.

Under TCG each CPU has its own software TLB, and a CPU running a guest keeps
using a nested translation until it leaves the guest (the issue measured
it): a command that removed a mapping without a shootdown would leave the
guest writing to the frame. So "the frame never changes again after the
command returns" is a real test of the shootdown here.
"""

import os
import random
import re
import time

import pytest

from test_guests import (F, HEX, K4, check_ok, fails, guest_list, h, load, mapped, new_guest,
                         new_space, one, parse_exit, peek, run_output)

CPU_LINE = re.compile(r"cpu (\d+) apic 0x([0-9a-f]+) (console|idle|halted|guest (\d+))")
STRESS = int(os.environ.get("MEMMON_STRESS", "10000"))


def cpus(m):
    """cpu: [(K, apic, state)] in order, every line in SPEC's form."""
    got = []
    for line in m.cmd("cpu"):
        mt = CPU_LINE.fullmatch(line)
        assert mt, line
        got.append((int(mt[1]), int(mt[2], 16), mt[3]))
    assert [k for k, _, _ in got] == list(range(len(got))), got
    return got


def start(m, g, k):
    assert one(m, f"guest start {g} {k}") == f"guest {g} on cpu {k}"


def stop(m, g):
    """guest stop G: (console texts, exit kind, exit fields)."""
    return run_output(m.cmd(f"guest stop {g}", 30), g)


def counter(m, pa):
    return peek(m, 0, pa)[0] & 0xFFFFFFFF


def grows(m, pa, tries=40):
    """The counter at pa moves (the guest runs), within a few seconds."""
    first = counter(m, pa)
    for _ in range(tries):
        time.sleep(0.1)
        if counter(m, pa) != first:
            return True
    return False


def still(m, pa, seconds=1.0):
    """The frame at pa does not change over `seconds`."""
    a = peek(m, 0, pa, 4)
    time.sleep(seconds)
    return peek(m, 0, pa, 4) == a


def loop_space(m, code, count, gpa=0x10000):
    """A space with loop's code (frame `code`) and counter (frame `count`) pages, and its
    guest with loop loaded: (space, guest)."""
    n = new_space(m)
    mapped(m, 0, code, n, gpa, K4, "rwx")
    one(m, f"poke 0 {h(count)} 0")
    mapped(m, 0, count, n, gpa + K4, K4, "rw")
    g = new_guest(m, n)
    load(m, g, "loop", gpa)
    return n, g


@pytest.fixture
def cm(mon):
    """The shared memmon, reset (no spaces, no guests; every CPU idle) before and after."""
    mon.cmd("reset")
    assert [s for _, _, s in cpus(mon)] == ["console", "idle", "idle", "idle"]
    yield mon
    mon.cmd("reset")


def test_cpu_lists_every_cpu(cm):
    got = cpus(cm)
    assert len(got) == 4
    assert got[0][2] == "console" and all(s == "idle" for _, _, s in got[1:])
    assert len({a for _, a, _ in got}) == 4  # one APIC ID each
    assert fails(cm, "cpu 1").startswith("error: cpu:")


def test_start_stop_and_refusals(cm):
    guests = [loop_space(cm, F + 0x10000 * i, F + 0x10000 * i + K4) for i in range(3)]
    for k, (n, g) in enumerate(guests, 1):
        start(cm, g, k)
    assert [s for _, _, s in cpus(cm)] == ["console"] + [f"guest {g}" for _, g in guests]
    for i in range(3):
        assert grows(cm, F + 0x10000 * i + K4), f"guest {guests[i][1]} does not count"
    listed = guest_list(cm)
    for k, (n, g) in enumerate(guests, 1):
        assert listed[g][2] == f"cpu-{k}", listed
    g1, g2 = guests[0][1], guests[1][1]
    # Refusals: one error line each, and nothing changes.
    fails(cm, f"guest start {g1} 2", "cpu 1")       # already on cpu 1
    n4, g4 = loop_space(cm, F + 0x40000, F + 0x41000)
    fails(cm, f"guest start {g4} 1", "cpu 1")       # cpu 1 holds guest g1
    fails(cm, f"guest start {g4} 0", "cpu 0")       # the console's
    fails(cm, f"guest start {g4} 4", "cpu")         # no such CPU
    fails(cm, f"guest start {g4} 0x10000000000000000")
    fails(cm, f"guest start {g4}", "argument")
    for line in (f"guest run {g1}", f"guest skip {g1}", f"guest regs {g1}",
                 f"guest set {g1} rax 1", f"guest load {g1} hello 0x10000"):
        fails(cm, line, f"cpu 1")
    fails(cm, f"guest stop {g4}", "not started")
    fails(cm, "guest stop 99", "no guest")
    assert [s for _, _, s in cpus(cm)] == ["console"] + [f"guest {g}" for _, g in guests]
    # Stop: the exit line as guest run prints it; `stopped` while it still ran.
    for k, (n, g) in enumerate(guests, 1):
        text, kind, d = stop(cm, g)
        assert text == [] and kind == "stopped", (kind, d)
        assert 0x10000 <= d["rip"] < 0x10000 + 0x20, d
        assert still(cm, F + 0x10000 * (k - 1) + K4, 0.3)
    assert [s for _, _, s in cpus(cm)] == ["console", "idle", "idle", "idle"]
    assert guest_list(cm)[g1][2] == "stopped"
    fails(cm, f"guest skip {g1}", "nothing to step past")
    # Back on CPU 0 it runs where it left off; then on another CPU again.
    kind, d = parse_exit(one(cm, f"guest run {g1} 20"), g1)
    assert kind == "timer"
    start(cm, g1, 3)
    assert grows(cm, F + K4)
    check_ok(cm)


def test_unmap_and_protect_shoot_down(cm):
    (n1, g1), (n2, g2) = loop_space(cm, F, F + K4), loop_space(cm, F + 0x10000, F + 0x11000)
    start(cm, g1, 1)
    start(cm, g2, 2)
    assert grows(cm, F + K4) and grows(cm, F + 0x11000)
    # unmap through sigma0: once the command returns the frame never changes again.
    line = one(cm, f"unmap 0 {h(F + K4)} {h(K4)}")
    assert "0x1 pages removed" in line, line
    assert still(cm, F + K4, 1.5)
    assert grows(cm, F + 0x11000)  # the other guest, on its own CPU, goes on
    text, kind, d = stop(cm, g1)
    assert kind == "npf" and d["space"] == n1 and d["gpa"] == 0x11000, d
    assert d["why"] == "not-present" and d["access"] in ("read", "write"), d
    # protect to r--: writes stop at once; the guest exits on a write, protection.
    one(cm, f"protect {n2} 0x11000 {h(K4)} r")
    assert still(cm, F + 0x11000, 1.5)
    text, kind, d = stop(cm, g2)
    assert (kind, d["why"], d["access"]) == ("npf", "protection", "write"), d
    # The pager loop across CPUs: map the page again, start again, it counts.
    mapped(cm, 0, F + 0x20000, n1, 0x11000, K4, "rw")
    start(cm, g1, 1)
    assert grows(cm, F + 0x20000)
    check_ok(cm)


def test_map_grant_protect_and_split_shoot_down(cm):
    """The other commands that take a mapping away from a running guest: a map over
    its page (the destination's flush), a grant of it to another space, a protect
    through sigma0 (a derived mapping's rights), an unmap that splits a 2M entry, a
    dependent map in the same space. Each time the old frame never changes again."""
    m2 = 1 << 21
    # map over the counter page: the guest goes on, on the new frame only.
    n, g = loop_space(cm, F, F + K4)
    start(cm, g, 1)
    assert grows(cm, F + K4)
    one(cm, f"poke 0 {h(F + 0x5000)} 0")
    mapped(cm, 0, F + 0x5000, n, 0x11000, K4, "rw")
    assert still(cm, F + K4, 1.0)
    assert grows(cm, F + 0x5000)
    assert stop(cm, g)[1] == "stopped"
    # grant the counter page to another space.
    n2 = new_space(cm)
    start(cm, g, 2)
    assert grows(cm, F + 0x5000)
    one(cm, f"grant {n} 0x11000 {n2} 0x0")
    assert still(cm, F + 0x5000, 1.0)
    assert stop(cm, g)[1] == "npf"
    # protect through sigma0 cuts the guest's derived mapping.
    n3, g3 = loop_space(cm, F + 0x20000, F + 0x21000)
    start(cm, g3, 3)
    assert grows(cm, F + 0x21000)
    one(cm, f"protect 0 {h(F + 0x21000)} 4K r")
    assert still(cm, F + 0x21000, 1.0)
    _, kind, d = stop(cm, g3)
    assert (kind, d["why"], d["access"]) == ("npf", "protection", "write"), d
    # an unmap of one 4K page inside a 2M nested entry.
    f2 = F + 0x400000
    n4 = new_space(cm)
    one(cm, f"poke 0 {h(f2 + K4)} 0")
    mapped(cm, 0, f2, n4, 0x200000, m2, "rwx")
    assert one(cm, f"lookup {n4} 0x201000").endswith(" 2M")
    g4 = new_guest(cm, n4)
    load(cm, g4, "loop", 0x200000)
    start(cm, g4, 1)
    assert grows(cm, f2 + K4)
    one(cm, f"unmap 0 {h(f2 + K4)} 4K")
    assert still(cm, f2 + K4, 1.0)
    _, kind, d = stop(cm, g4)
    assert (kind, d["gpa"]) == ("npf", 0x201000), d
    # a dependent map inside the guest's own space: its code page over its counter.
    n5, g5 = loop_space(cm, F + 0x30000, F + 0x31000)
    start(cm, g5, 2)
    assert grows(cm, F + 0x31000)
    one(cm, f"map {n5} 0x10000 {n5} 0x11000 4K r")
    assert still(cm, F + 0x31000, 1.0)
    assert stop(cm, g5)[1] == "npf"
    check_ok(cm)


def test_space_del_and_reset_with_guests_running(cm):
    (n1, g1), (n2, g2) = loop_space(cm, F, F + K4), loop_space(cm, F + 0x10000, F + 0x11000)
    n3, g3 = loop_space(cm, F + 0x20000, F + 0x21000)
    for k, g in enumerate((g1, g2, g3), 1):
        start(cm, g, k)
    assert grows(cm, F + K4)
    assert one(cm, f"space del {n1}").startswith(f"space {n1} deleted")
    assert still(cm, F + K4, 1.0)
    assert g1 not in guest_list(cm)
    assert [s for _, _, s in cpus(cm)] == ["console", "idle", f"guest {g2}", f"guest {g3}"]
    assert grows(cm, F + 0x11000)
    out = cm.cmd("reset")
    assert len(out) == 1 and out[0].startswith("reset: sigma0 maps"), out
    assert guest_list(cm) == {}
    assert [s for _, _, s in cpus(cm)] == ["console", "idle", "idle", "idle"]
    assert still(cm, F + 0x11000, 0.5) and still(cm, F + 0x21000, 0.5)
    check_ok(cm)


def test_space_del_of_the_space_a_guest_maps_from(cm):
    """space del of space 1 flushes what derives from it in space 2, whose guest runs
    elsewhere (guest_recall stops only space 1's guests): its page goes at once."""
    n1, n2 = new_space(cm), new_space(cm)
    one(cm, f"poke 0 {h(F + K4)} 0")
    mapped(cm, 0, F, n1, 0, 2 * K4, "rwx")
    mapped(cm, n1, 0, n2, 0x10000, 2 * K4, "rwx")
    g = new_guest(cm, n2)
    load(cm, g, "loop", 0x10000)
    start(cm, g, 1)
    assert grows(cm, F + K4)
    assert one(cm, f"space del {n1}").startswith(f"space {n1} deleted")
    assert still(cm, F + K4, 1.0)
    assert one(cm, f"lookup {n2} 0x11000") == f"{n2}:0x11000 -> none"
    _, kind, d = stop(cm, g)
    assert (kind, d["space"], d["why"]) == ("npf", n2, "not-present"), d
    check_ok(cm)


def test_stop_right_after_start(cm):
    """A stop sent in one write behind its start (as a script would) is never lost,
    however early the other CPU takes it."""
    n, g = loop_space(cm, F, F + K4)
    for k in (1, 2, 3, 1, 2, 3, 1, 2, 3, 1):
        started, stopped = cm.batch([f"guest start {g} {k}", f"guest stop {g}"], 30)
        assert started == [f"guest {g} on cpu {k}"], started
        assert len(stopped) == 1 and re.fullmatch(rf"exit {g}: stopped rip {HEX}", stopped[0]), \
            stopped
        assert [s for _, _, s in cpus(cm)] == ["console", "idle", "idle", "idle"]
    check_ok(cm)


def test_console_lines_held_until_stop(cm):
    n = new_space(cm)
    mapped(cm, 0, F, n, 0x10000, K4, "rwx")
    g = new_guest(cm, n)
    load(cm, g, "hello", 0x10000)
    start(cm, g, 2)
    time.sleep(0.5)
    assert cpus(cm)[2][2] == f"guest {g}"  # it halted there, still the CPU's until stop
    text, kind, d = stop(cm, g)
    assert len(text) == 1 and text[0], text
    assert kind == "hlt"
    one(cm, f"guest del {g}")
    # guest del of a guest still running elsewhere brings it back first.
    n2, g2 = loop_space(cm, F + 0x10000, F + 0x11000)
    start(cm, g2, 3)
    assert grows(cm, F + 0x11000)
    assert one(cm, f"guest del {g2}") == f"guest {g2} deleted"
    assert cpus(cm)[3][2] == "idle"
    assert still(cm, F + 0x11000, 0.5)


def test_stress_no_write_after_removal(cm):
    """Random space commands while loop runs on CPUs 1-3; each guest's counter page
    moves between frames: after every removal the old frame must never change again
    (audited at the end); check holds; no CPU is lost."""
    rng = random.Random(13)
    base = F + 0x1000000  # frames for the counters and the noise
    guests = []
    for k in range(1, 4):
        n, g = loop_space(cm, F + 0x10000 * k, base + 0x100000 * k)
        guests.append({"n": n, "g": g, "k": k, "frame": base + 0x100000 * k, "next": 1})
        start(cm, g, k)
    removed = {}  # frame -> its 4 words right after the command that removed it returned
    noise = [0x400000 + K4 * i for i in range(64)]  # guest-physical pages nobody touches
    done = 0
    while done < STRESS:
        x = rng.choice(guests)
        r = rng.random()
        if r < 0.04:  # move the counter page: remove it, audit, bring the guest back
            if rng.random() < 0.5:
                line = one(cm, f"unmap 0 {h(x['frame'])} {h(K4)}")
            else:
                line = one(cm, f"flush {x['n']} 0x11000 {h(K4)}")
            removed[x["frame"]] = peek(cm, 0, x["frame"], 4)
            text, kind, d = stop(cm, x["g"])
            assert kind in ("npf", "stopped"), (kind, d)
            x["frame"] = base + 0x100000 * x["k"] + K4 * x["next"]
            x["next"] += 1
            one(cm, f"poke 0 {h(x['frame'])} 0")
            mapped(cm, 0, x["frame"], x["n"], 0x11000, K4, "rw")
            start(cm, x["g"], x["k"])
            done += 6
            continue
        v = rng.choice(noise)
        pa = base + 0x800000 + v
        if r < 0.45:
            out = cm.cmd(f"map 0 {h(pa)} {x['n']} {h(v)} {h(K4 * rng.choice((1, 2, 4)))} "
                         + rng.choice(("r", "rw", "rx", "rwx")))
        elif r < 0.7:
            out = cm.cmd(f"unmap 0 {h(pa)} {h(K4 * rng.choice((1, 8)))}")
        elif r < 0.85:
            out = cm.cmd(f"protect {x['n']} {h(v)} {h(K4 * rng.choice((1, 4)))} "
                         + rng.choice(("r", "", "rx")))
        else:
            out = cm.cmd(f"flush {x['n']} {h(v)} {h(K4)}")
        assert len(out) == 1, out  # a result or one error line (a map over a mapped page)
        done += 1
    time.sleep(1)
    for frame, words in removed.items():
        assert peek(cm, 0, frame, 4) == words, f"frame {h(frame)} written after its removal"
    for x in guests:
        text, kind, d = stop(cm, x["g"])
        assert kind == "stopped", (kind, d)  # they were all still running
    assert [s for _, _, s in cpus(cm)] == ["console", "idle", "idle", "idle"]
    check_ok(cm)
    assert len(removed) >= max(1, STRESS // 500), len(removed)  # about 1 in 150 commands


def test_one_cpu(fresh):
    m = fresh(smp=1)
    assert cpus(m) == [(0, cpus(m)[0][1], "console")]
    n, g = loop_space(m, F, F + K4)
    fails(m, f"guest start {g} 1", "cpu")
    fails(m, f"guest stop {g}", "not started")
    kind, d = parse_exit(one(m, f"guest run {g} 20"), g)
    assert kind == "timer"
    assert counter(m, F + K4) > 0
    one(m, f"unmap 0 {h(F + K4)} {h(K4)}")
    kind, d = parse_exit(one(m, f"guest run {g}"), g)
    assert kind == "npf"
    check_ok(m)


def test_fault_on_another_cpu(fresh):
    """An exception in memmon's code on CPU 1 stops CPU 1 with a dump; CPU 0 and the
    other CPUs carry on (trap KIND CPU)."""
    m = fresh(smp=3)
    out = m.cmd("trap ud 1", 30)
    text = "\n".join(out)
    assert re.search(r"cpu 0x1:\s*exception #UD vector 6 error 0x0 rip 0x[0-9a-f]+", text), text
    assert "memmon: cpu 0x1 halted" in text, text
    assert out[-1] == "trap: cpu 1 halted; the others carry on", out
    assert [s for _, _, s in cpus(m)] == ["console", "halted", "idle"]
    n, g = loop_space(m, F, F + K4)
    fails(m, f"guest start {g} 1", "halted")
    fails(m, "trap ud 1", "not idle")
    fails(m, "trap pf 2", "only de, bp, ud and gp")
    fails(m, "trap ud 3", "no other cpu")
    start(m, g, 2)
    assert grows(m, F + K4)
    text, kind, d = stop(m, g)
    assert kind == "stopped"
    check_ok(m)
