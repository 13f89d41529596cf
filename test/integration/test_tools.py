"""The tools around memmon (issue 16), each on as few boots as it can:

- make image: the disk image's layout (GPT, one EFI system partition with
  EFI/BOOT/BOOTX64.EFI and startup.mon), then one boot of it as QEMU's disk
  (what make run-image does) running scripts/examples/superpages.mon, whose
  memmon then serves the client's typed calls and its command line attached;
- startup scripts and the client's command line: `memmon.py run` on
  scripts/examples/paper.mon (the ESP's startup.mon, what make run SCRIPT=
  does), its transcript held against the paper's scenarios;
- pictures: `memmon.py draw` on scripts/examples/picture.mon, the SVG's runs
  and derivation edges;
- make debug (scripts/debug.sh with gdb's commands from a pipe): a
  breakpoint in a command, hit by typing the command from gdb.
"""

import os
import re
import socket
import subprocess
import xml.etree.ElementTree as ET

import pytest

from memmon_qemu import (ROOT, Fault, Memmon, MemmonError, errors, mdb_edges, parse_check,
                         parse_lookup, parse_mdb, parse_pt, parse_words)

PY = "/usr/bin/python3"
CLIENT = os.path.join(ROOT, "scripts", "memmon.py")
EXAMPLES = os.path.join(ROOT, "scripts", "examples")
EFI = os.path.join(ROOT, "build", "memmon.efi")
SVG = "{http://www.w3.org/2000/svg}"


def example(name):
    return os.path.join(EXAMPLES, name)


def closing(name):
    """The closing line of a script that ran to its end."""
    with open(example(name)) as f:
        return f"startup.mon: done, {len(f.read().splitlines()):#x} lines"


def session(transcript):
    """A transcript as [(command, output lines)], one per prompt."""
    out = []
    for line in transcript.replace("\r\n", "\n").split("\n"):
        if line.startswith("mon> "):
            out.append((line[5:], []))
        elif out and not line.startswith("startup.mon: "):
            out[-1][1].append(line)
    return out


def outputs(transcript, command):
    """The output of each run of `command` in the transcript, in order."""
    return [lines for cmd, lines in session(transcript) if cmd == command]


def looked_up(transcript, command):
    """The Lookup (or None) answered by each run of a lookup command."""
    return [parse_lookup(lines[0])[2] for lines in outputs(transcript, command)]


def all_checks_ok(transcript):
    checks = outputs(transcript, "check")
    assert checks and all(len(c) == 1 and parse_check(c[0]).ok for c in checks), checks


# ---- make image ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("image") / "memmon.img")
    subprocess.run(["make", "-s", "image", f"SCRIPT={example('superpages.mon')}", f"IMAGE={path}"],
                   cwd=ROOT, check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def imon(image):
    """memmon booted from the image as QEMU's disk, startup.mon run."""
    m = Memmon(image=image)
    yield m
    m.close()


# The image is a GPT disk whose one partition is an EFI system partition at
# 1 MiB holding memmon as the removable-media boot file and the script.
def test_image_layout(image, tmp_path):
    table = subprocess.run(["sgdisk", "-p", image], check=True, capture_output=True,
                           text=True).stdout
    parts = re.findall(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+ \S+\s+(\w{4})", table, re.M)
    assert len(parts) == 1 and parts[0][1] == "2048" and parts[0][3] == "EF00", table
    fs = f"{image}@@{2048 * 512}"
    listing = subprocess.run(["mdir", "-i", fs, "-/", "-b", "::"], check=True, capture_output=True,
                             text=True).stdout.split()
    assert sorted(p.lower() for p in listing if not p.endswith("/")) == \
        ["::/efi/boot/bootx64.efi", "::/startup.mon"], listing
    for inside, outside in (("::/EFI/BOOT/BOOTX64.EFI", EFI),
                            ("::/startup.mon", example("superpages.mon"))):
        got = subprocess.run(["mcopy", "-i", fs, inside, "-"], check=True,
                             capture_output=True).stdout
        with open(outside, "rb") as f:
            assert got == f.read(), inside


# Booted as a disk, memmon finds startup.mon beside itself and runs the
# superpage example: one 2M entry, split by a page's rights, merged back.
def test_image_boots_and_runs_superpage_example(imon):
    t = imon.startup
    assert "memmon: type 'help' for commands" in imon.banner
    assert t.rstrip().endswith(closing("superpages.mon") + "\r\nmon>"), t
    assert not errors(t.split("\r\n")), t
    before, split, merged = looked_up(t, "lookup 1 0x400000")
    assert before == (0x10000000, "rw-", "2M")
    assert split == (0x10000000, "rw-", "4K")
    assert looked_up(t, "lookup 1 0x401000") == [(0x10001000, "r--", "4K"),
                                                 (0x10001000, "r--", "2M")]
    assert merged == (0x10000000, "r--", "2M")
    dumps = [parse_pt(lines) for lines in outputs(t, "pt 1")]
    assert [len(d.runs) for d in dumps] == [1, 3, 1]
    assert dumps[1].runs[1] == (0x401000, 0x402000, 0x10001000, "r--", "4K")
    assert dumps[2].runs == [(0x400000, 0x600000, 0x10000000, "r--", "2M")]
    all_checks_ok(t)


# The client's typed calls return the contract's forms as values and raise
# on error lines and faults; nothing it refuses changes the state.
def test_client_values(imon):
    m = imon
    assert m.reset().startswith("reset: sigma0 maps")
    n = m.space_new()
    assert m.map(0, 0x10000000, n, 0x400000, "2M", "rw") == (0x200, "rw-")
    assert m.lookup(n, 0x400000) == (0x10000000, "rw-", "2M")
    assert m.lookup(n, 0x600000) is None
    n2 = m.space_new()
    assert m.map(n, 0x401000, n2, 0x7000) == (1, "rw-")
    tree = m.mdb(n2, 0x7000)
    assert tree.nodes[0].real and tree.nodes[-1].marked
    assert mdb_edges(tree)[-1] == ((n, 0x401000), (n2, 0x7000))
    assert m.poke(n2, 0x7000, 0xfeed) == 0xfeed
    assert m.peek(n, 0x401000) == [0xfeed]
    assert m.protect(n, 0x400000, "2M", "r") == 0x201
    with pytest.raises(Fault) as f:
        m.poke(n2, 0x7000, 1)
    assert (f.value.space, f.value.va, f.value.kind, f.value.access) == \
        (n2, 0x7000, "protection", "write")
    with pytest.raises(MemmonError) as e:
        m.lookup(99, 0)
    assert e.value.line.startswith("error: lookup:")
    dump = m.pt(n)
    assert dump.name == n and dump.runs == [(0x400000, 0x600000, 0x10000000, "r--", "2M")]
    assert [s.n for s in m.spaces()] == [0, n, n2]
    mem = m.mem()
    assert mem["free"] + mem["used"] == mem["total"] and mem["space"]["spaces"] == 3
    assert m.pool().free == mem["free"]
    assert m.mem(0x10000000).owner == "clients"
    regions, summary = m.memmap()
    assert sum(r.pages for r in regions if r.use != "reserved") == \
        summary["reclaimed"] + summary["kept"]
    chk = m.check()
    assert chk.ok and chk.fields["spaces"] == 3
    assert m.unmap(n, 0x401000) == 1 and m.flush(n2, 0x7000) == 0
    m.reset()


# The command line attaches to a running memmon's serial socket (the image's
# boot, released by its client: QEMU takes one at a time): `shell` types
# its input's lines; `run --attach` types a script as the runner would,
# comments skipped, stopping at its first error (exit status 1).
def test_cli_attaches(imon, tmp_path):
    imon.sock.close()
    r = subprocess.run([PY, CLIENT, "shell", "--attach", imon.serial_path],
                       input="space new\nlookup 1 0x1000\nbogus\n", capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "space 1\n" in r.stdout and "1:0x1000 -> none\n" in r.stdout, r.stdout
    assert "error: unknown command 'bogus' (try help)" in r.stdout, r.stdout
    script = tmp_path / "attached.mon"
    script.write_text("# a comment\nspace new\nlookup 2 0x2000\nbogus\nspace new\n")
    r = subprocess.run([PY, CLIENT, "run", "--attach", imon.serial_path, str(script)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.split("\n") == ["mon> space new", "space 2", "mon> lookup 2 0x2000",
                                     "2:0x2000 -> none", "mon> bogus",
                                     "error: unknown command 'bogus' (try help)", ""], r.stdout


# ---- startup scripts and the command line -----------------------------------------------


# `memmon.py run` boots with the file as startup.mon and prints the
# transcript: the paper's map, unmap, flush, grant and protect hold.
def test_run_paper_example():
    r = subprocess.run([PY, CLIENT, "run", example("paper.mon")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    t = r.stdout
    assert t.rstrip().endswith(closing("paper.mon") + "\nmon>"), t
    assert not errors(t.split("\n")), t
    # map: the chain, rights shrinking along it
    assert looked_up(t, "lookup 3 0x3000")[0] == (0x10000000, "r--", "4K")
    tree = parse_mdb(outputs(t, "mdb 3 0x3000")[0])
    assert mdb_edges(tree) == [((0, 0x10000000), (1, 0x1000)), ((1, 0x1000), (2, 0x2000)),
                               ((2, 0x2000), (3, 0x3000))]
    # unmap keeps 1:0x1000, removes what derives from it; flush removes it too
    assert looked_up(t, "lookup 1 0x1000")[:2] == [(0x10000000, "rwx", "4K"), None]
    assert looked_up(t, "lookup 2 0x2000") == [None, None]
    assert looked_up(t, "lookup 3 0x3000")[1] is None
    # grant moves the mapping
    assert looked_up(t, "lookup 1 0x1000")[2] is None
    assert looked_up(t, "lookup 2 0x5000") == [(0x10001000, "rw-", "4K")]
    assert mdb_edges(parse_mdb(outputs(t, "mdb 2 0x5000")[0])) == [((0, 0x10001000), (2, 0x5000))]
    # protect reaches the derived mapping, and the MMU enforces it
    assert parse_words(outputs(t, "peek 2 0x5000")[0]) == [(2, 0x5000, 0xfeed)]
    assert looked_up(t, "lookup 3 0x6000") == [(0x10001000, "r--", "4K")]
    with pytest.raises(Fault):
        parse_words(outputs(t, "poke 3 0x6000 1")[0])
    assert parse_words(outputs(t, "peek 3 0x6000")[0]) == [(3, 0x6000, 0xfeed)]
    all_checks_ok(t)


# ---- pictures ------------------------------------------------------------------------------


# `memmon.py draw` renders the scripted session: every client run as a
# column entry with its rights and size, the derivation chain as dot edges,
# and the frame map with each owner.
def test_draw_picture_example(tmp_path):
    out = tmp_path / "memmon.svg"
    r = subprocess.run([PY, CLIENT, "draw", "--script", example("picture.mon"), "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    root = ET.parse(out).getroot()
    runs = {(g.get("data-space"), g.get("data-start"), g.get("data-end"), g.get("data-pa"),
             g.get("data-rights"), g.get("data-size"))
            for g in root.iter(SVG + "g") if g.get("class") == "run"}
    client_runs = {r for r in runs if r[0] != "0"}
    assert client_runs == {
        ("1", "0x400000", "0x600000", "0x10000000", "rw-", "2M"),
        ("1", "0x800000", "0x801000", "0x10001000", "r--", "4K"),
        ("2", "0x7000", "0x8000", "0x10001000", "rw-", "4K"),
        ("2", "0x200000", "0x201000", "0x10400000", "r-x", "4K"),
        ("2", "0x201000", "0x202000", "0x10401000", "r--", "4K"),
        ("2", "0x202000", "0x400000", "0x10402000", "r-x", "4K"),
    }, client_runs
    assert any(r[0] == "0" and r[4] == "rwx" for r in runs)
    edges = {t.text for g in root.iter(SVG + "g") if g.get("class") == "edge"
             for t in g.iter(SVG + "title")}
    assert {"n0_10000000->n1_400000", "n1_401000->n2_7000", "n2_7000->n1_800000",
            "n0_10400000->n2_200000"} <= edges, edges
    owners = {r.get("data-owner") for r in root.iter(SVG + "rect") if r.get("class") == "frames"}
    assert {"free", "pool", "clients", "firmware", "monitor"} <= owners, owners


# ---- make debug --------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# make debug (scripts/debug.sh, gdb fed from a pipe): memmon.gdb loads the
# symbols at the image base memmon printed and attaches; `memmon LINE` types
# a command whose breakpoint then stops it in cmd_lookup with its arguments;
# once gdb lets go, memmon answers it on the console gdb holds.
def test_make_debug_breakpoint_in_a_command(tmp_path):
    commands = "\n".join([
        "break cmd_lookup",
        "memmon lookup 0 0x10000000",
        "continue",
        "bt 2",
        "print argc",
        "print argv[2]",
        "delete",
        "detach",
        "shell sleep 3",
        "quit",
    ]) + "\n"
    r = subprocess.run([os.path.join(ROOT, "scripts", "debug.sh"), "--port", str(free_port()),
                        "--dir", str(tmp_path)], input=commands, capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    out = r.stdout + r.stderr
    base = re.search(r"image at (0x[0-9a-f]+), 0x[0-9a-f]+ bytes", out)
    assert base and f"memmon: image at {base[1]}; symbols from build/memmon.so" in out, out
    assert re.search(r"Breakpoint 1, (0x[0-9a-f]+ in )?cmd_lookup \(", out), out
    assert re.search(r"#1 .* in (con_exec|run_guarded)", out), out
    assert "$1 = 3" in out and '$2 = 0x' in out and '"0x10000000"' in out, out
    # The answer is read from QEMU's serial log: on the shared stdout gdb's
    # own "(gdb) " prompt can land in the middle of memmon's line.
    serial = (tmp_path / "serial.log").read_text(errors="replace")
    assert re.search(r"0:0x10000000 -> 0x10000000 rwx (4K|2M|1G)", serial), serial
